"""Staff console sign-in: one-time links and the sessions they open, kept only as hashes.

A link is good for five minutes and one use; a session for twelve hours, until revoked, or
until its staff member is disabled (every lookup joins the member and asks ``active``).
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from tortoise import fields
from tortoise.models import Model

from models.people import StaffMember

LINK_MINUTES = 5
SESSION_HOURS = 12


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConsoleSignin(Model):
    """A one-time sign-in link for one staff member."""

    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    staff: fields.ForeignKeyRelation[StaffMember] = fields.ForeignKeyField(
        "orderbot.StaffMember", related_name="console_signins", on_delete=fields.CASCADE)
    via = fields.CharField(max_length=32)  # the channel it was asked on, "email", or "cli"
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "console_signins"


class ConsoleSession(Model):
    """A signed-in browser."""

    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    staff: fields.ForeignKeyRelation[StaffMember] = fields.ForeignKeyField(
        "orderbot.StaffMember", related_name="console_sessions", on_delete=fields.CASCADE)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    user_agent = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "console_sessions"


async def issue_link(member: StaffMember, via: str, now: datetime) -> str:
    """A fresh one-time sign-in token for ``member``."""
    token = secrets.token_urlsafe(24)
    await ConsoleSignin.create(token_hash=_digest(token), staff=member, via=via, created_at=now,
                               expires_at=now + timedelta(minutes=LINK_MINUTES))
    return token


async def link_holder(token: str, now: datetime) -> StaffMember | None:
    """Who a sign-in token is for, if it is unused, unexpired and its member active (nothing is used up)."""
    link = await ConsoleSignin.filter(token_hash=_digest(token), used_at=None, expires_at__gt=now).first()
    if link is None:
        return None
    member = await StaffMember.get_or_none(id=link.staff_id, active=True)
    return member


async def redeem(token: str, now: datetime, user_agent: str | None) -> tuple[str, StaffMember] | None:
    """Use a sign-in token up and open a session: (session token, member), or None.

    One conditional write claims the link, so two clicks on it open one session at most.
    """
    link = await ConsoleSignin.filter(token_hash=_digest(token)).first()
    if link is None:
        return None
    claimed = await ConsoleSignin.filter(id=link.id, used_at=None, expires_at__gt=now).update(used_at=now)
    member = await StaffMember.get_or_none(id=link.staff_id, active=True) if claimed else None
    if member is None:
        return None
    session = secrets.token_urlsafe(32)
    await ConsoleSession.create(token_hash=_digest(session), staff=member, created_at=now,
                                expires_at=now + timedelta(hours=SESSION_HOURS),
                                user_agent=(user_agent or "")[:200] or None)
    return session, member


async def session_member(token: str, now: datetime) -> tuple[int, StaffMember] | None:
    """The (session id, active member) a session token stands for, or None when it has ended."""
    row = await ConsoleSession.filter(token_hash=_digest(token), revoked_at=None, expires_at__gt=now).first()
    if row is None:
        return None
    member = await StaffMember.get_or_none(id=row.staff_id, active=True)
    return (row.id, member) if member else None


async def end_session(session_id: int, now: datetime) -> None:
    await ConsoleSession.filter(id=session_id, revoked_at=None).update(revoked_at=now)


async def end_sessions(staff_id: int, now: datetime) -> int:
    """End every open session of a member (sign out everywhere; a member disabled)."""
    return await ConsoleSession.filter(staff_id=staff_id, revoked_at=None).update(revoked_at=now)


async def open_sessions(staff_id: int, now: datetime) -> list[ConsoleSession]:
    return await ConsoleSession.filter(staff_id=staff_id, revoked_at=None, expires_at__gt=now).order_by("-created_at")
