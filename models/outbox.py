"""The notification outbox: one row per (event, recipient), written with the change itself.

Callers write inside the transaction of the change that causes the notice, so the notice
exists exactly when the change does (the engine's hook in ``notifications.triggers``, the
conversation's handlers through ``enqueue``). The sender (``notifications.sending``) claims
rows with a lease, sends them and records what became of them, with the statements here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from tortoise import fields
from tortoise.models import Model

from models.recipients import Recipient
from models.schedule import utcnow
from models.sql import Connection, after_commit, as_datetime, current, marks, run, soon, transaction


class Outbox(Model):
    """A message owed to one recipient, and what became of it (sent, retry at, failed why).

    ``recipient`` is a person (``customer:ID``, ``staff:ID``) or, for a chat that is no
    person's own (a group that subscribed), the target itself (``telegram:-100…``). The
    row is unique on (event, recipient), so a person hears of an event once whichever of
    their channels carries it. ``channel``/``address`` are where it was meant to go first,
    ``sent_via`` where it went (the sender falls back to the person's other channels).
    Status: pending, sending (claimed, with a lease), sent, failed (after the last retry,
    or refused for good), undeliverable (no channel could reach the person).
    """

    id = fields.BigIntField(primary_key=True)
    event_key = fields.CharField(max_length=200)
    recipient = fields.CharField(max_length=280, default="")
    audience = fields.CharField(max_length=16, default="staff")
    channel = fields.CharField(max_length=16)
    address = fields.CharField(max_length=254)
    kind = fields.CharField(max_length=32)
    order_no = fields.CharField(max_length=32, null=True, db_index=True)
    payload = fields.JSONField(default=dict)
    locale = fields.CharField(max_length=10, default="zh")
    status = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    sent_via = fields.CharField(max_length=280, null=True)
    digest_of = fields.BigIntField(null=True)  # sent inside the digest message of that row

    class Meta:
        table = "outbox"
        unique_together = (("event_key", "recipient"),)
        indexes = (("status", "next_attempt_at"), ("recipient", "order_no", "status"))


class NoticeHold(Model):
    """Notices of one name wait until ``until``: a staff member's kind of notice after a digest, the daily summary."""

    name = fields.CharField(max_length=320, primary_key=True)
    until = fields.DatetimeField()

    class Meta:
        table = "notice_holds"


EMAIL_ANSWER = "email_answer"  # a row holding a prepared e-mail answer (threading and all), not facts
VERIFICATION_CODE = "verification_code"  # a one-time code; the payload keeps it only until the row is done
CONSOLE_LINK = "console_link"  # a staff member's one-time sign-in link, kept like a code
DIRECT = "direct"  # the audience of a row for one address only: no quiet hours, no other channel
COLUMNS = ("event_key", "recipient", "audience", "channel", "address", "kind", "order_no", "payload", "locale",
           "status", "attempts", "next_attempt_at", "created_at")
CHUNK = 500  # rows per INSERT: well under SQLite's limit on parameters
STUCK = ("failed", "undeliverable")


@dataclass(frozen=True)
class Notice:
    """A notice owed to one recipient, due at ``due`` (later than now for a digest or quiet hours)."""

    event_key: str
    kind: str
    recipient: Recipient
    payload: dict[str, Any]
    order_no: str | None
    due: datetime


# ---------------------------------------------------------------- writing
# Told after notices were written, so that the sender looks at once instead of at its next
# poll (it may look before the transaction commits; then it finds them a poll later).
_listeners: list[Callable[[], None]] = []


def on_written(listener: Callable[[], None]) -> Callable[[], None]:
    """Call ``listener`` whenever notices are written; returns a function that stops that."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def told() -> None:
    """Notices were written: the listeners (the sender) look now."""
    for listener in list(_listeners):
        listener()


def inserts(notices: Iterable[Notice]) -> tuple[int, list[tuple[str, list[Any]]]]:
    """How many distinct notices there are, and the INSERTs that write them (for ``models.sql.atomic``;
    call ``told()`` once they are written). A notice already there for the same (event, recipient)
    is left alone."""
    unique = list({(n.event_key, n.recipient.key): n for n in notices}.values())
    now = utcnow()
    row = f"({marks(len(COLUMNS))})"
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


async def write(conn: Connection, notices: Iterable[Notice]) -> int:
    """Insert the notices on ``conn`` (a change's transaction); how many distinct ones there were."""
    count, statements = inserts(notices)
    for text, values in statements:
        await run(conn, text, values)
    if count:
        told()
    return count


async def enqueue(event_key: str, kind: str, recipients: Iterable[Recipient | None], payload: dict[str, Any], *,
                  order_no: str | None = None, due: datetime | None = None) -> int:
    """``write`` on the current connection (inside an ORM transaction, that transaction's)."""
    when = due or utcnow()
    notices = [Notice(event_key, kind, r, payload, order_no, when) for r in recipients if r is not None]
    return await write(current(), notices)


async def post(notices: Sequence[Notice]) -> None:
    """Write ``notices`` with the current unit of work (a conversation's message): committed before
    the reply goes out, without a trip of its own on SQLite; the sender is told once they are."""
    count, statements = inserts(notices)
    for text, values in statements:
        await soon(text, values)
    if count:
        after_commit(told)


async def keep(notices: Sequence[Notice]) -> None:
    """Write ``notices`` all together or none of them (prepared answers kept for the sender to retry)."""
    async with transaction() as conn:
        await write(conn, notices)


# ---------------------------------------------------------------- sending
# What may be claimed: rows due, and rows whose claimer's lease ended (it died). Two
# statements, each walking an index in order, rather than one OR that must sort every due row.
CLAIMABLE = ("status = 'pending' AND next_attempt_at <= ?{kinds} ORDER BY next_attempt_at, id",
             "status = 'sending' AND lease_until < ?{kinds} ORDER BY lease_until, id")


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for r in rows:
        if isinstance(r["payload"], (str, bytes)):
            r["payload"] = orjson.loads(r["payload"])
    return rows


async def claim(owner: str, until: datetime, now: datetime, limit: int,
                kinds: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Take up to ``limit`` claimable rows (of ``kinds``, when given) for ``owner`` until ``until``.

    One statement each, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so that any number of
    processes share the work; on SQLite the statement itself holds the write lock.
    """
    conn = current()
    lock = " FOR UPDATE SKIP LOCKED" if conn.capabilities.support_for_update else ""
    only = f" AND kind IN ({marks(len(kinds))})" if kinds else ""
    rows: list[dict[str, Any]] = []
    for which in CLAIMABLE:
        if len(rows) >= limit:
            break
        rows += await run(conn, (
            "UPDATE outbox SET status = 'sending', lease_owner = ?, lease_until = ? WHERE id IN ("
            f"SELECT id FROM outbox WHERE {which.format(kinds=only)} LIMIT ?{lock}) RETURNING *"),
            [owner, until, now, *(kinds or ()), limit - len(rows)])
    return sorted(_rows(rows), key=lambda r: r["id"])


async def claim_digest(owner: str, until: datetime, recipient: str, order_no: str,
                       kinds: Sequence[str]) -> list[dict[str, Any]]:
    """The recipient's other pending rows of ``kinds`` about ``order_no``, claimed (one message with them)."""
    return _rows(await run(current(), (
        "UPDATE outbox SET status = 'sending', lease_owner = ?, lease_until = ? WHERE recipient = ? "
        f"AND order_no = ? AND status = 'pending' AND kind IN ({marks(len(kinds))}) RETURNING *"),
        [owner, until, recipient, order_no, *kinds]))


async def claim_kind(owner: str, until: datetime, recipient: str, kind: str, limit: int = CHUNK
                     ) -> list[dict[str, Any]]:
    """The recipient's other pending rows of ``kind``, due or not, claimed (one digest message with them)."""
    conn = current()
    lock = " FOR UPDATE SKIP LOCKED" if conn.capabilities.support_for_update else ""
    return _rows(await run(conn, (
        "UPDATE outbox SET status = 'sending', lease_owner = ?, lease_until = ? WHERE id IN ("
        "SELECT id FROM outbox WHERE recipient = ? AND kind = ? AND status = 'pending' ORDER BY id "
        f"LIMIT ?{lock}) RETURNING *"), [owner, until, recipient, kind, limit]))


# ---------------------------------------------------------------- holds
async def hold(name: str, now: datetime, until: datetime) -> datetime | None:
    """Start the hold ``name`` until ``until`` unless one is on: None when this caller started it
    (it may send now), else when the one on ends. Each statement is one conditional write, so of
    several processes asking at once exactly one starts it, on SQLite and PostgreSQL alike."""
    conn = current()
    if await run(conn, "UPDATE notice_holds SET until = ? WHERE name = ? AND until <= ? RETURNING name",
                 [until, name, now]):
        return None
    if await run(conn, "INSERT INTO notice_holds (name, until) VALUES (?, ?) ON CONFLICT (name) DO NOTHING "
                       "RETURNING name", [name, until]):
        return None
    rows = await run(conn, "SELECT until FROM notice_holds WHERE name = ?", [name])
    return as_datetime(rows[0]["until"]) if rows else now


async def held_until(name: str) -> datetime | None:
    """When the hold ``name`` ends (None: there never was one)."""
    rows = await run(current(), "SELECT until FROM notice_holds WHERE name = ?", [name])
    return as_datetime(rows[0]["until"]) if rows else None


def hold_until(name: str, until: datetime) -> tuple[str, list[Any]]:
    """The statement that sets the hold ``name`` to end at ``until`` (for ``models.sql.atomic``)."""
    return ("INSERT INTO notice_holds (name, until) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET until = excluded.until", [name, until])


async def record(ids: list[int], owner: str, status: str, now: datetime, *, error: str | None = None,
                 via: str | None = None, retry_at: datetime | None = None, count: bool = False) -> None:
    """What became of rows ``owner`` sent together as one message (the first id carries the rest)."""
    lead = ids[0]
    await run(current(), (
        "UPDATE outbox SET status = ?, last_error = COALESCE(?, last_error), sent_via = COALESCE(?, sent_via), "
        "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, "
        "next_attempt_at = COALESCE(?, next_attempt_at), attempts = attempts + ?, "
        "digest_of = CASE WHEN id = ? THEN NULL ELSE CAST(? AS BIGINT) END, lease_owner = NULL, lease_until = NULL, "
        # A one-time code or sign-in link is kept only as long as it may still be sent.
        "payload = CASE WHEN kind IN (?, ?) AND ? <> 'pending' THEN '{}' ELSE payload END "
        f"WHERE id IN ({marks(len(ids))}) AND lease_owner = ?"),
        [status, error, via, status, now, retry_at, 1 if count else 0, lead, lead if len(ids) > 1 else None,
         VERIFICATION_CODE, CONSOLE_LINK, status, *ids, owner])


async def renew(owner: str, until: datetime) -> None:
    """``owner`` is still sending its claimed rows: their lease runs on to ``until``."""
    await run(current(), "UPDATE outbox SET lease_until = ? WHERE lease_owner = ? AND status = 'sending'",
              [until, owner])


async def replay(ids: Sequence[int] = (), *, failed: bool = False) -> tuple[int, list[str]]:
    """Send rows again (by id, or every failed and undeliverable one): how many, or why not (then none).

    A row that was sent is never sent again: it is refused by name.
    """
    async with transaction():
        qs = Outbox.filter(status__in=STUCK) if failed else Outbox.filter(id__in=list(ids))
        rows = await qs.select_for_update()
        problems = [f"no notice {i}" for i in sorted(set(ids) - {r.id for r in rows})]
        problems += [f"notice {r.id} is {r.status}; only failed or undeliverable notices are sent again"
                     for r in rows if r.status not in STUCK]
        if problems:
            return 0, problems
        n = await Outbox.filter(id__in=[r.id for r in rows]).update(
            status="pending", attempts=0, next_attempt_at=utcnow(), lease_owner=None, lease_until=None)
        return n, []
