"""What the engine tells its hooks (the notification outbox) and its callers."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models.orders import EventRecord, OrderException, OrderState


@dataclass(frozen=True)
class Change:
    """One state change, committed together with whatever its hooks write.

    ``kind`` is one of order_created, node_entered, node_updated, rework, order_updated,
    exception_opened, exception_acknowledged, exception_resolved.
    """

    kind: str
    order: OrderState
    at: datetime
    actor: str | None
    source: str
    event: EventRecord | None = None
    exception: OrderException | None = None
    previous_node: str | None = None
    previous_eta: datetime | None = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


# Set while a task writes history (an import, the demo's made-up past): its changes reach no hook.
# It travels with the task, and with each event that task hands the writer (``models.writer``).
PAUSED: ContextVar[bool] = ContextVar("hooks_paused", default=False)

# A hook gets every change of one transaction at once (node events come in batches), so
# that what it writes can be written in one statement too.
ChangeHook = Callable[[Sequence[Change], BaseDBAsyncClient], Awaitable[None]]


@dataclass(frozen=True)
class EventResult:
    """A node event as stored, and whether this request was a replay of it."""

    event: EventRecord
    replayed: bool


@dataclass(frozen=True)
class ExceptionResult:
    """An exception as stored, and whether this request was a replay of the one that opened it."""

    exception: OrderException
    replayed: bool
