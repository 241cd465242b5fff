"""Progress links: the customer's page of one order at ``/t/<token>``, signed, expiring, revocable.

A token is ``<id>.<signature>``: the link's row number and an HMAC of that row's order and
expiry under the service's secret. Nothing secret is stored (a copy of the database opens
no page), a token for one order can never be turned into another's (the signature binds
the order), and a link ends when it expires or is revoked (``revoked_at``). Links are
reused for a day, so the cards and notices of one order share one instead of a row each.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise import fields
from tortoise.models import Model

from models.orders import Order
from models.sql import execute

DEFAULT_DAYS = 30
REUSE = timedelta(days=1)  # a link made within a day serves again, with a month still ahead of it
TOKEN = re.compile(r"^([0-9a-z]{1,13})\.([A-Za-z0-9_-]{22})$")


class ProgressLink(Model):
    """One link to one order's progress page."""

    id = fields.BigIntField(primary_key=True)
    order = fields.ForeignKeyField("orderbot.Order", related_name="progress_links", on_delete=fields.CASCADE)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    made_for = fields.CharField(max_length=32)  # card, notice, console, cli
    opened = fields.IntField(default=0)
    last_opened_at = fields.DatetimeField(null=True)

    class Meta:
        table = "progress_links"
        indexes = (("order_id", "created_at"),)


@dataclass(frozen=True)
class Opened:
    """A link that opened: its number and its order."""

    link_id: int
    order: Order
    expires_at: datetime


def _signature(secret: str, link_id: int, order_id: int, expires_at: datetime) -> str:
    message = f"progress:{link_id}:{order_id}:{int(expires_at.timestamp())}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def token_of(secret: str, link_id: int, order_id: int, expires_at: datetime) -> str:
    return f"{_base36(link_id)}.{_signature(secret, link_id, order_id, expires_at)}"


async def link_for(secret: str, order_id: int, now: datetime, *, days: int = DEFAULT_DAYS,
                   made_for: str = "card") -> str:
    """A token for the order's page: a link made within the last day, else a new one of ``days``."""
    recent = await ProgressLink.filter(order_id=order_id, revoked_at=None, created_at__gt=now - REUSE,
                                       expires_at__gt=now + timedelta(days=days) - REUSE).order_by("-id").first()
    if recent is not None:
        return token_of(secret, recent.id, order_id, recent.expires_at)
    expires = (now + timedelta(days=days)).replace(microsecond=0)  # the signature reads whole seconds
    link = await ProgressLink.create(order_id=order_id, created_at=now, expires_at=expires, made_for=made_for)
    return token_of(secret, link.id, order_id, expires)


async def link_for_number(secret: str, order_no: str, now: datetime, *, days: int = DEFAULT_DAYS,
                          made_for: str = "notice") -> str | None:
    rows = await execute("SELECT id FROM orders WHERE order_no = ?", [order_no])
    return await link_for(secret, rows[0]["id"], now, days=days, made_for=made_for) if rows else None


async def opened(secret: str, token: str, now: datetime) -> Opened | None:
    """The link ``token`` names, counted as opened, if it is genuine, current and not revoked; else None."""
    found = TOKEN.match(token or "")
    if not found:
        return None
    link_id = int(found.group(1), 36)
    if link_id > 2 ** 62:
        return None
    link = await ProgressLink.filter(id=link_id).first()
    if link is None or link.revoked_at is not None or link.expires_at <= now:
        return None
    if not hmac.compare_digest(found.group(2), _signature(secret, link.id, link.order_id, link.expires_at)):
        return None
    await execute("UPDATE progress_links SET opened = opened + 1, last_opened_at = ? WHERE id = ?", [now, link.id])
    return Opened(link.id, await Order.get(id=link.order_id), link.expires_at)


async def revoke(order_id: int, now: datetime) -> int:
    """End every link of the order; how many were still open."""
    rows = await execute("UPDATE progress_links SET revoked_at = ? WHERE order_id = ? AND revoked_at IS NULL "
                         "RETURNING id", [now, order_id])
    return len(rows)
