"""What lets a chat see an order without being its customer's bound channel, and how guessing is capped.

- ``OrderAccess``: a chat proved itself for one order (a code mailed to the order's contact,
  or a bind token of that order). It sees that order, not the customer's others.
- ``BindToken``: a deep link's token for one order, kept only as a hash. The first chat to
  use it is the one it binds; another chat that tries it gets the code flow instead.
  It expires, and ends when that chat unbinds.
- ``GuessBudget`` and ``WrongCode``: wrong codes counted per order number and per customer
  over a rolling day, across every chat and channel. Past the budget, codes for that
  subject stop until staff or the customer's bound chat reopens it.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from tortoise import fields
from tortoise.models import Model

from models.sql import execute, marks


class OrderAccess(Model):
    """One chat identity may see one order: it proved itself for it."""

    id = fields.BigIntField(primary_key=True)
    identity = fields.ForeignKeyField("orderbot.Identity", related_name="accesses", on_delete=fields.CASCADE)
    order = fields.ForeignKeyField("orderbot.Order", related_name="accesses", on_delete=fields.CASCADE)
    via = fields.CharField(max_length=16)  # code or token
    granted_at = fields.DatetimeField()

    class Meta:
        table = "order_access"
        unique_together = (("identity", "order"),)


class BindToken(Model):
    """A deep link's token for one order (stored hashed): used by one chat, expiring, revocable."""

    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    order = fields.ForeignKeyField("orderbot.Order", related_name="bind_tokens", on_delete=fields.CASCADE)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_by = fields.ForeignKeyField("orderbot.Identity", related_name="bind_tokens", null=True,
                                     on_delete=fields.SET_NULL)
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "bind_tokens"


class GuessBudget(Model):
    """A subject (``order:SO1``, ``customer:7``) whose codes stopped, or were reopened."""

    subject = fields.CharField(max_length=100, primary_key=True)
    stopped_at = fields.DatetimeField(null=True)
    reopened_at = fields.DatetimeField(null=True)  # wrong codes before it no longer count
    reopened_by = fields.CharField(max_length=100, null=True)

    class Meta:
        table = "guess_budgets"


class WrongCode(Model):
    """One wrong code against one subject."""

    id = fields.BigIntField(primary_key=True)
    subject = fields.CharField(max_length=100)
    session_key = fields.CharField(max_length=254)
    at = fields.DatetimeField()

    class Meta:
        table = "wrong_codes"
        indexes = (("subject", "at"),)


# ---------------------------------------------------------------- grants
async def grant(identity_id: int, order_id: int, via: str, now: datetime) -> None:
    await execute("INSERT INTO order_access (identity_id, order_id, via, granted_at) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT (identity_id, order_id) DO NOTHING", [identity_id, order_id, via, now])


async def granted(identity_id: int, order_id: int) -> bool:
    return bool(await execute("SELECT 1 FROM order_access WHERE identity_id = ? AND order_id = ?",
                              [identity_id, order_id]))


async def granted_orders(identity_id: int) -> list[int]:
    rows = await execute("SELECT order_id FROM order_access WHERE identity_id = ? ORDER BY id", [identity_id])
    return [r["order_id"] for r in rows]


async def revoke_all(identity_id: int, now: datetime) -> None:
    """The chat unbinds: its orders, and the tokens it used, end here."""
    await execute("DELETE FROM order_access WHERE identity_id = ?", [identity_id])
    await execute("UPDATE bind_tokens SET revoked_at = ? WHERE used_by_id = ? AND revoked_at IS NULL",
                  [now, identity_id])


# ---------------------------------------------------------------- bind tokens
TOKEN_DAYS = 30


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def new_token(order_id: int, now: datetime, days: int = TOKEN_DAYS) -> str:
    """A fresh token for one order: 128 random bits, 22 URL-safe characters (fits a /start payload
    and a WeChat QR scene with room to spare)."""
    token = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
    await BindToken.create(token_hash=_digest(token), order_id=order_id, created_at=now,
                           expires_at=now + timedelta(days=days))
    return token


async def token_for(order_no: str, now: datetime, days: int = TOKEN_DAYS) -> str | None:
    """A fresh token for the order with this number (None when there is none)."""
    rows = await execute("SELECT id FROM orders WHERE order_no = ?", [order_no])
    return await new_token(rows[0]["id"], now, days) if rows else None


async def use_token(token: str, identity_id: int, now: datetime) -> tuple[str, int | None]:
    """Spend ``token`` for this chat: ("ok", order id), ("taken", order id) when another chat used
    it, or ("invalid", None) for a token unknown, expired or revoked."""
    if not token or len(token) > 64:
        return "invalid", None
    digest = _digest(token)
    rows = await execute(
        "UPDATE bind_tokens SET used_by_id = ?, used_at = ? WHERE token_hash = ? AND revoked_at IS NULL "
        "AND expires_at > ? AND (used_by_id IS NULL OR used_by_id = ?) RETURNING order_id",
        [identity_id, now, digest, now, identity_id])
    if rows:
        return "ok", rows[0]["order_id"]
    rows = await execute("SELECT order_id FROM bind_tokens WHERE token_hash = ? AND revoked_at IS NULL "
                         "AND expires_at > ?", [digest, now])
    return ("taken", rows[0]["order_id"]) if rows else ("invalid", None)


# ---------------------------------------------------------------- the guess budget
def subjects(order_ref: str, customer_id: int | None) -> list[str]:
    return [f"order:{order_ref}"] + ([f"customer:{customer_id}"] if customer_id else [])


async def stopped(names: Sequence[str]) -> bool:
    """Whether codes stopped for any of these subjects."""
    if not names:
        return False
    rows = await execute(f"SELECT 1 FROM guess_budgets WHERE subject IN ({marks(len(names))}) "
                         "AND stopped_at IS NOT NULL", list(names))
    return bool(rows)


async def count_wrong(names: Sequence[str], session_key: str, now: datetime, window: timedelta) -> dict[str, int]:
    """One more wrong code against each subject: how many each has had within ``window`` (since a reopen)."""
    counts = {}
    for name in names:
        await execute("INSERT INTO wrong_codes (subject, session_key, at) VALUES (?, ?, ?)",
                      [name, session_key[:254], now])
        rows = await execute(
            "SELECT COUNT(*) AS n FROM wrong_codes w LEFT JOIN guess_budgets b ON b.subject = w.subject "
            "WHERE w.subject = ? AND w.at > ? AND (b.reopened_at IS NULL OR w.at > b.reopened_at)",
            [name, now - window])
        counts[name] = rows[0]["n"]
    return counts


async def stop(names: Sequence[str], now: datetime) -> list[str]:
    """No more codes for these subjects until someone reopens them: those that had not stopped before."""
    before = {r["subject"] for r in await execute(
        f"SELECT subject FROM guess_budgets WHERE subject IN ({marks(len(names))}) AND stopped_at IS NOT NULL",
        list(names))}
    for name in names:
        await execute("INSERT INTO guess_budgets (subject, stopped_at) VALUES (?, ?) ON CONFLICT (subject) "
                      "DO UPDATE SET stopped_at = excluded.stopped_at", [name, now])
    return [name for name in names if name not in before]


async def reopen(names: Sequence[str], now: datetime, by: str) -> int:
    """Codes may be tried again for these subjects, counting from now: how many had stopped."""
    stopped_now = await execute(f"SELECT subject FROM guess_budgets WHERE subject IN ({marks(len(names))}) "
                                "AND stopped_at IS NOT NULL", list(names))
    for name in names:
        await execute("INSERT INTO guess_budgets (subject, stopped_at, reopened_at, reopened_by) "
                      "VALUES (?, NULL, ?, ?) ON CONFLICT (subject) DO UPDATE SET stopped_at = NULL, "
                      "reopened_at = excluded.reopened_at, reopened_by = excluded.reopened_by",
                      [name, now, by[:100]])
    return len(stopped_now)


async def sweep_wrong_codes(before: datetime) -> None:
    await WrongCode.filter(at__lt=before).delete()
