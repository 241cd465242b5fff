"""What the conversation keeps about chats between messages, and the statements that keep it.

Conversation state (with the lease that serialises a chat's messages across processes),
pending codes, messages already taken in (dedupe), rate counters, and the chat identities
as the conversation reads them. These statements run for every message, so they are
written by hand and, on SQLite, share the conversation's group commit (``models.sql``).
"""
from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

import orjson
from tortoise import fields
from tortoise.models import Model

from models.people import Customer, Identity, StaffMember
from models.sql import as_datetime, columns, execute, execute_all, fetch_one, part


class ConversationState(Model):
    """One chat's state, with a lease that serialises its messages across processes."""

    session_key = fields.CharField(max_length=254, primary_key=True)
    data = fields.JSONField(default=dict)
    locked_until = fields.DatetimeField(null=True)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)
    version = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "conversation_states"


class Challenge(Model):
    """A pending one-time code: stored hashed, valid for a while, a few tries."""

    id = fields.BigIntField(primary_key=True)
    session_key = fields.CharField(max_length=254, db_index=True)
    order = fields.ForeignKeyField("orderbot.Order", related_name="challenges", null=True,
                                   on_delete=fields.CASCADE)
    customer = fields.ForeignKeyField("orderbot.Customer", related_name="challenges", null=True,
                                      on_delete=fields.CASCADE)
    order_ref = fields.CharField(max_length=64, default="", db_default="")  # the number asked for, known or not
    code_hash = fields.CharField(max_length=128)
    attempts = fields.IntField(default=0)
    expires_at = fields.DatetimeField()
    consumed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "challenges"


class InboundDedupe(Model):
    """A channel message already taken in (platforms retry, we answer once)."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    message_key = fields.CharField(max_length=254)
    received_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "inbound_dedupe"
        unique_together = (("channel", "message_key"),)


class RateCounter(Model):
    """Hits of one rate-limit key in one time window, shared by every process."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=254)
    window_start = fields.BigIntField()  # unix seconds of the window's start
    count = fields.IntField(default=0)

    class Meta:
        table = "rate_counters"
        unique_together = (("key", "window_start"),)


# ---------------------------------------------------------------- messages taken in once
async def first_time(channel: str, key: str, now: datetime) -> bool:
    """Record (channel, key) as taken in: True the first time, in any process; False ever after."""
    return bool(await execute("INSERT INTO inbound_dedupe (channel, message_key, received_at) VALUES (?, ?, ?) "
                              "ON CONFLICT (channel, message_key) DO NOTHING RETURNING id", [channel, key[:254], now]))


async def forget(channel: str, key: str) -> None:
    """Not handled after all: the platform's next try of (channel, key) gets its turn."""
    await execute("DELETE FROM inbound_dedupe WHERE channel = ? AND message_key = ?", [channel, key[:254]])


async def sweep_taken_in(before: datetime) -> None:
    await InboundDedupe.filter(received_at__lt=before).delete()


# ---------------------------------------------------------------- conversation state, one holder at a time
async def take_state(key: str, owner: str, until: datetime, now: datetime) -> tuple[dict[str, Any], datetime | None] | None:
    """Hold conversation ``key`` for ``owner`` until ``until``: its data and lock-out, or None when
    someone else holds it.

    One statement whether or not the row exists: a new conversation's row is made already
    held; an existing one is taken when its lease is free, ran out or is ours.
    """
    rows = await execute(
        "INSERT INTO conversation_states (session_key, data, lease_owner, lease_until, version, updated_at) "
        "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (session_key) DO UPDATE SET "
        "lease_owner = excluded.lease_owner, lease_until = excluded.lease_until "
        "WHERE conversation_states.lease_until IS NULL OR conversation_states.lease_until < ? "
        "OR conversation_states.lease_owner = ? RETURNING data, locked_until",
        [key, "{}", owner, until, now, now, owner])
    if not rows:
        return None
    data = rows[0]["data"]
    return (orjson.loads(data) if isinstance(data, (str, bytes)) else dict(data or {}),
            as_datetime(rows[0]["locked_until"]))


async def give_state_back(key: str, owner: str, now: datetime, *, data: dict[str, Any] | None = None,
                          locked_until: datetime | None = None) -> None:
    """End ``owner``'s hold on ``key``, saving ``data`` and the lock-out when given (the handler succeeded)."""
    if data is None:
        await execute("UPDATE conversation_states SET lease_owner = NULL, lease_until = NULL "
                      "WHERE session_key = ? AND lease_owner = ?", [key, owner])
        return
    await execute(
        "UPDATE conversation_states SET lease_owner = NULL, lease_until = NULL, data = ?, locked_until = ?, "
        "version = version + 1, updated_at = ? WHERE session_key = ? AND lease_owner = ?",
        [orjson.dumps(data).decode(), locked_until, now, key, owner])


# ---------------------------------------------------------------- rate counters
async def count_hit(key: str, window_start: int) -> int:
    """One more hit of ``key`` in the window starting at ``window_start`` (unix seconds): the count now."""
    rows = await execute(
        "INSERT INTO rate_counters (key, window_start, count) VALUES (?, ?, 1) "
        "ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1 RETURNING count",
        [key, window_start])
    return rows[0]["count"]


async def sweep_counters(before: int) -> None:
    await RateCounter.filter(window_start__lt=before).delete()


# ---------------------------------------------------------------- who is writing
async def who(channel: str, sender: str, now: datetime, touch_every: timedelta
              ) -> tuple[Identity | None, StaffMember | None, Customer | None]:
    """The sender's identity (None on first contact) and the staff member or customer behind it.

    Two statements, one trip on SQLite: the identity's last contact is touched first
    (WeChat lets us write back only within 48 h of it: to the ``touch_every`` is plenty),
    then it and whoever it is bound to are read in one row. An inactive staff member is none.
    """
    key = [channel, sender]
    _, rows = await execute_all([
        ("UPDATE identities SET last_inbound_at = ? WHERE channel = ? AND external_id = ? "
         "AND (last_inbound_at IS NULL OR last_inbound_at < ?)", [now, *key, now - touch_every]),
        (_who_sql(), key),
    ])
    row = rows[0] if rows else None
    staff = part(StaffMember, row, "s")
    return part(Identity, row, "i"), staff if staff and staff.active else None, part(Customer, row, "c")


@functools.cache
def _who_sql() -> str:
    """The identity and whom it is bound to, in one row (built once: the columns come from the models)."""
    return (f"SELECT {columns(Identity, 'i')}, {columns(StaffMember, 's')}, {columns(Customer, 'c')} "
            "FROM identities i LEFT JOIN staff_members s ON s.id = i.staff_id "
            "LEFT JOIN customers c ON c.id = i.customer_id WHERE i.channel = ? AND i.external_id = ? LIMIT 1")


async def first_contact(channel: str, sender: str, locale: str | None, now: datetime) -> Identity:
    """The identity of someone writing for the first time, made now (or by a process just before us)."""
    await execute("INSERT INTO identities (channel, external_id, locale, last_inbound_at, created_at) "
                  "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, external_id) DO NOTHING",
                  [channel, sender, locale, now, now])
    return await fetch_one(Identity, "channel = ? AND external_id = ?", [channel, sender])


async def remember_locale(identity_id: int, locale: str) -> None:
    """The language this identity writes in now (its notices follow it)."""
    await execute("UPDATE identities SET locale = ? WHERE id = ?", [locale, identity_id])


async def set_timezone(identity_id: int, name: str | None) -> None:
    """The zone this identity reads times in (None: the server's)."""
    await execute("UPDATE identities SET timezone = ? WHERE id = ?", [name, identity_id])


# ---------------------------------------------------------------- one-time codes
async def new_challenge(session_key: str, order_ref: str, order: Any, customer: Any, code_hash: str,
                        expires_at: datetime, now: datetime) -> int:
    """A fresh code for this conversation (the ones before it are spent): its id."""
    await Challenge.filter(session_key=session_key, consumed_at__isnull=True).update(consumed_at=now)
    challenge = await Challenge.create(session_key=session_key, order_ref=order_ref[:64], order=order,
                                       customer=customer, code_hash=code_hash, expires_at=expires_at)
    return challenge.id
