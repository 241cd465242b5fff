"""The audit log: every order shown to anyone, append-only."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import orjson
from tortoise import fields
from tortoise.models import Model

from models.schedule import utcnow
from models.sql import soon


class AuditLog(Model):
    """Who saw which order, which fields, on which channel, verified how, and when."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    actor_kind = fields.CharField(max_length=16)  # customer, staff, api, anonymous
    actor_id = fields.CharField(max_length=254)
    order_no = fields.CharField(max_length=32, db_index=True)
    fields_shown = fields.JSONField(default=list)
    channel = fields.CharField(max_length=16)
    verified_by = fields.CharField(max_length=32)  # code, deep_link, mail_from, staff, api_key
    chat_id = fields.CharField(max_length=254, null=True)

    class Meta:
        table = "audit_log"


class OrderChange(Model):
    """Who changed which field of an order, from what to what, and when (``scope``: how far it reached)."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    order_no = fields.CharField(max_length=32, db_index=True)
    field = fields.CharField(max_length=64)
    before = fields.TextField(null=True)  # the value as JSON text
    after = fields.TextField(null=True)
    actor = fields.CharField(max_length=128, null=True)
    source = fields.CharField(max_length=32)
    scope = fields.CharField(max_length=16, default="order")  # order, or customer (all their orders)

    class Meta:
        table = "order_changes"


class ActionLog(Model):
    """Every state change made in the staff console or its CLI twin: who did what to what, before → after."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    actor = fields.CharField(max_length=128)  # a staff code, "cli", or "api:<key name>"
    action = fields.CharField(max_length=64)  # e.g. staff.disable, request.claim, order.edit
    subject = fields.CharField(max_length=128, db_index=True)  # e.g. staff:S002, order:SO…, request:12
    before = fields.JSONField(null=True)
    after = fields.JSONField(null=True)

    class Meta:
        table = "action_log"


async def acted(actor: str, action: str, subject: str, before: dict | None, after: dict | None, *,
                at: datetime | None = None) -> None:
    """Record one state change (inside the change's transaction when there is one)."""
    await ActionLog.create(at=at or utcnow(), actor=actor, action=action, subject=subject,
                           before=_jsonable(before), after=_jsonable(after))


def _jsonable(value: dict | None) -> dict | None:
    return None if value is None else orjson.loads(orjson.dumps(value, default=str))


async def changed(order_no: str, changes: dict[str, tuple[object, object]], *, actor: str | None, source: str,
                  scope: str, at: datetime) -> None:
    """Record an order's field changes (inside the change's transaction)."""
    await OrderChange.bulk_create([
        OrderChange(at=at, order_no=order_no, field=name, before=_plain(old), after=_plain(new), actor=actor,
                    source=source, scope=scope if name.startswith("customer.") else "order")
        for name, (old, new) in changes.items()])


def _plain(value: object) -> str:
    """A value as JSON text (dates as ISO text)."""
    return orjson.dumps(value, default=str).decode()


async def shown(channel: str, chat_id: str | None, order_no: str, fields_shown: Iterable[str], *, actor_kind: str,
                actor_id: str, verified_by: str) -> None:
    """Record that ``order_no`` was shown in a chat (one plain INSERT: it runs for every card shown).

    Inside a message's unit of work (``models.sql.unit``) the row is committed with the
    conversation's release, before the answer goes out; elsewhere before this returns.
    """
    await soon(
        "INSERT INTO audit_log (at, actor_kind, actor_id, order_no, fields_shown, channel, verified_by, chat_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [utcnow(), actor_kind, actor_id, order_no, orjson.dumps(sorted(fields_shown)).decode(), channel, verified_by,
         chat_id])
