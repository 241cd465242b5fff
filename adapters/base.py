"""What a channel adapter is: a small protocol, wrapped around a vendor SDK, never inheriting it.

An adapter turns the channel's raw input into ``InboundMessage`` (``parse``: pure, None for
what it does not understand), sends a ``Reply`` to a ``Target`` (``send``: a ``Delivery``
that says sent, or failed and whether trying again may help), says what the channel can do
(``capabilities``), mounts its webhook routes (``mount``) and starts and stops its own
background work. Adapters never import the router: they get an ``on_message`` callable.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from models.messages import InboundMessage, Reply, Target

OnMessage = Callable[[InboundMessage], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class Delivery:
    """What became of one send: sent (with the platform's id), or failed and why."""

    ok: bool
    reason: str | None = None
    retryable: bool = False
    message_id: str | None = None
    retry_after: float | None = None  # seconds the platform asked us to wait
    unreachable: bool = False  # the channel cannot reach this person now (fall back to another)

    @classmethod
    def sent(cls, message_id: str | None = None) -> Delivery:
        return cls(True, message_id=message_id)

    @classmethod
    def failed(cls, reason: str, *, retryable: bool, retry_after: float | None = None,
               unreachable: bool = False) -> Delivery:
        return cls(False, reason=reason, retryable=retryable, retry_after=retry_after, unreachable=unreachable)


@dataclass(frozen=True)
class Capabilities:
    buttons: bool
    max_length: int
    proactive: str  # "always", "window_48h" (WeChat), "never"


class Adapter(Protocol):
    """One channel. See the module docstring."""

    name: str
    capabilities: Capabilities

    def parse(self, raw: Any) -> InboundMessage | None: ...

    async def send(self, target: Target, reply: Reply) -> Delivery: ...

    def mount(self, app: web.Application, on_message: OnMessage) -> None: ...

    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at line ends, else at spaces."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n")
    if text.strip() or not pieces:
        pieces.append(text)
    return pieces
