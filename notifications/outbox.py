"""Writing to the notification outbox: one row per (event, recipient), never twice.

Callers write inside the transaction of the change that causes the notice, so the notice
exists exactly when the change does (the engine's hook in ``notifications.triggers``, the
conversation's handlers through ``enqueue``). The dispatcher (``notifications.sending``)
sends the rows later.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from models.people import StaffMember
from models.schedule import utcnow
from models.store import sql
from models.recipients import STAFF, Recipient, people

COLUMNS = ("event_key", "recipient", "audience", "channel", "address", "kind", "order_no", "payload", "locale",
           "status", "attempts", "next_attempt_at", "created_at")
CHUNK = 500  # rows per INSERT: well under SQLite's limit on parameters


@dataclass(frozen=True)
class Notice:
    """A notice owed to one recipient, due at ``due`` (later than now for a digest or quiet hours)."""

    event_key: str
    kind: str
    recipient: Recipient
    payload: dict[str, Any]
    order_no: str | None
    due: datetime


# Told after notices were written, so that the dispatcher looks at once instead of at its
# next poll (it may look before the transaction commits; then it finds them a poll later).
_listeners: list[Callable[[], None]] = []


def on_written(listener: Callable[[], None]) -> Callable[[], None]:
    """Call ``listener`` whenever notices are written; returns a function that stops that."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


async def write(conn: BaseDBAsyncClient, notices: Iterable[Notice]) -> int:
    """Insert the notices; one already there for the same (event, recipient) is left alone."""
    count, statements = inserts(notices)
    for text, values in statements:
        await conn.execute_query(sql(conn, text), values)
    if count:
        told()
    return count


def inserts(notices: Iterable[Notice]) -> tuple[int, list[tuple[str, list[Any]]]]:
    """How many distinct notices there are, and the INSERTs (``?`` placeholders) that write them
    (for ``models.batch.atomic``; call ``told()`` once they are written)."""
    unique = list({(n.event_key, n.recipient.key): n for n in notices}.values())
    now = utcnow()
    row = f"({', '.join('?' * len(COLUMNS))})"
    statements = []
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start:start + CHUNK]
        values: list[Any] = []
        for n in chunk:
            r = n.recipient
            values += [n.event_key, r.key, r.audience, r.first.channel, r.first.address, n.kind, n.order_no,
                       orjson.dumps(n.payload).decode(), r.locale, "pending", 0, n.due, now]
        statements.append((f"INSERT INTO outbox ({', '.join(COLUMNS)}) VALUES {', '.join([row] * len(chunk))} "
                           "ON CONFLICT (event_key, recipient) DO NOTHING", values))
    return len(unique), statements


def told() -> None:
    """Notices were written: the listeners (the dispatcher) look now."""
    for listener in list(_listeners):
        listener()


async def enqueue(event_key: str, kind: str, recipients: Iterable[Recipient | None], payload: dict[str, Any], *,
                  order_no: str | None = None, due: datetime | None = None) -> int:
    """``write`` for callers inside an ORM transaction (the conversation's handlers)."""
    when = due or utcnow()
    notices = [Notice(event_key, kind, r, payload, order_no, when) for r in recipients if r is not None]
    return await write(connections.get("default"), notices)


async def staff_recipient(member: StaffMember) -> Recipient | None:
    """A staff member as a recipient (None when they have no channel and no e-mail)."""
    found = await people(connections.get("default"), STAFF, [member.id])
    return found[member.id].recipient() if member.id in found else None
