"""Outgoing webhooks: other systems told of what happens, signed, through the outbox.

A ``Webhook`` is a URL, the event types it wants and a secret (shown once). Each event for
each webhook that wants it is an outbox row (audience ``webhook``, recipient ``webhook:ID``,
kind ``webhook``), written in the transaction of the change that caused it, so it is never
lost and, being unique on (event, recipient), never written twice. The row's payload holds
the body to POST (``event``) and when to give up (``expires_at``: 24 hours on); the sender
retries with backoff until then. ``WebhookAttempt`` logs every try. A URL answering 410 Gone
is disabled at once.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from collections.abc import Sequence
from typing import Any

import orjson
from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient as Connection
from tortoise.models import Model

from models.messages import Target
from models.outbox import Notice, Outbox, write
from models.recipients import Recipient
from models.sql import current, execute, run

EVENTS = ("node_entered", "exception_opened", "exception_resolved", "request_created", "order_late")
AUDIENCE = "webhook"
KIND = "webhook"
GIVE_UP = timedelta(hours=24)


class Webhook(Model):
    """A URL told of the events it asked for."""

    id = fields.BigIntField(primary_key=True)
    url = fields.CharField(max_length=2000)
    events = fields.JSONField(default=list)
    secret = fields.CharField(max_length=100)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()
    created_by = fields.CharField(max_length=128)
    disabled_at = fields.DatetimeField(null=True)
    disabled_why = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "webhooks"


class WebhookAttempt(Model):
    """One try of one delivery: when, what the receiver answered (or why nothing), how long it took."""

    id = fields.BigIntField(primary_key=True)
    outbox_id = fields.BigIntField(db_index=True)
    webhook_id = fields.BigIntField(db_index=True)
    at = fields.DatetimeField()
    status_code = fields.IntField(null=True)
    error = fields.CharField(max_length=500, null=True)
    ms = fields.IntField()

    class Meta:
        table = "webhook_attempts"


def check_events(events: Sequence[str]) -> list[str]:
    """The event types, checked (ValueError names an unknown one)."""
    wanted = [e.strip() for e in events if e.strip()]
    unknown = [e for e in wanted if e not in EVENTS]
    if unknown or not wanted:
        raise ValueError(f"unknown event {', '.join(unknown)}; the events are {', '.join(EVENTS)}" if unknown
                         else f"name at least one event: {', '.join(EVENTS)}")
    return list(dict.fromkeys(wanted))


async def add(url: str, events: Sequence[str], by: str, now: datetime) -> Webhook:
    """A new webhook with a fresh secret (``whsec_…``), which only this answer shows."""
    return await Webhook.create(url=url, events=check_events(events), secret="whsec_" + secrets.token_urlsafe(24),
                                created_at=now, created_by=by)


async def listed() -> list[Webhook]:
    return list(await Webhook.all().order_by("id"))


async def remove(webhook_id: int, now: datetime) -> bool:
    """Stop a webhook (its deliveries still pending are not sent); whether there was one to stop."""
    return bool(await Webhook.filter(id=webhook_id, active=True).update(active=False, disabled_at=now,
                                                                      disabled_why="removed"))


async def disable(webhook_id: int, why: str, now: datetime) -> None:
    await Webhook.filter(id=webhook_id, active=True).update(active=False, disabled_at=now, disabled_why=why[:500])


async def active(webhook_id: int) -> Webhook | None:
    return await Webhook.filter(id=webhook_id, active=True).first()


# ---------------------------------------------------------------- events into the outbox
async def subscribed(conn: Connection) -> list[tuple[int, list[str]]]:
    """The active webhooks and the events each wants (one small read, in the change's transaction)."""
    rows = await run(conn, "SELECT id, events FROM webhooks WHERE active = ?", [True])
    return [(r["id"], r["events"] if isinstance(r["events"], list) else orjson.loads(r["events"])) for r in rows]


def notices(hooks: list[tuple[int, list[str]]], kind: str, key: str, data: dict[str, Any], now: datetime,
            order_no: str | None) -> list[Notice]:
    """The outbox rows of one event (``key`` names it once for all time) for each webhook that wants it."""
    event = {"id": key, "type": kind, "created_at": now.isoformat(), "data": data}
    payload = {"event": event, "expires_at": (now + GIVE_UP).isoformat()}
    return [Notice(f"wh:{key}", KIND, Recipient(f"webhook:{hook_id}", AUDIENCE, Target(AUDIENCE, str(hook_id)), "en"),
                   payload, order_no, now) for hook_id, events in hooks if kind in events]


async def announce(kind: str, key: str, data: dict[str, Any], now: datetime, order_no: str | None) -> None:
    """Write the event's rows on the current connection (inside the caller's transaction)."""
    conn = current()
    await write(conn, notices(await subscribed(conn), kind, key, data, now, order_no))


# ---------------------------------------------------------------- deliveries
async def attempted(outbox_id: int, webhook_id: int, now: datetime, status_code: int | None, error: str | None,
                    ms: int) -> None:
    await WebhookAttempt.create(outbox_id=outbox_id, webhook_id=webhook_id, at=now, status_code=status_code,
                                error=(error or None) and error[:500], ms=ms)


@dataclass(frozen=True)
class Delivery:
    """One event owed to one webhook, and how its tries went."""

    id: int
    webhook_id: int
    type: str
    event_id: str
    status: str
    attempts: int
    created_at: datetime
    last_error: str | None
    last_code: int | None


async def deliveries(webhook_id: int | None = None, *, failed: bool = False, last: int = 50) -> list[Delivery]:
    qs = Outbox.filter(audience=AUDIENCE)
    if webhook_id is not None:
        qs = qs.filter(recipient=f"webhook:{webhook_id}")
    if failed:
        qs = qs.filter(status__in=("failed", "undeliverable"))
    rows = list(await qs.order_by("-id").limit(last))
    codes: dict[int, int | None] = {}
    tries: dict[int, int] = {}
    for a in await WebhookAttempt.filter(outbox_id__in=[r.id for r in rows]).order_by("id"):
        codes[a.outbox_id] = a.status_code
        tries[a.outbox_id] = tries.get(a.outbox_id, 0) + 1
    return [Delivery(r.id, int(r.recipient.split(":", 1)[1]), r.payload["event"]["type"], r.payload["event"]["id"],
                     r.status, tries.get(r.id, 0), r.created_at, r.last_error, codes.get(r.id)) for r in rows]


async def redeliver(ids: Sequence[int], now: datetime) -> tuple[int, list[str]]:
    """Send deliveries again, with another 24 hours to get through; why not, by id (then none is)."""
    rows = list(await Outbox.filter(id__in=list(ids), audience=AUDIENCE))
    problems = [f"no webhook delivery {i}" for i in sorted(set(ids) - {r.id for r in rows})]
    problems += [f"delivery {r.id} is {r.status}; only failed ones are sent again" for r in rows
                 if r.status not in ("failed", "undeliverable")]
    if problems:
        return 0, problems
    for r in rows:
        payload = {**r.payload, "expires_at": (now + GIVE_UP).isoformat()}
        await execute("UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, lease_owner = NULL, "
                      "lease_until = NULL, payload = ? WHERE id = ?", [now, orjson.dumps(payload).decode(), r.id])
    return len(rows), []

