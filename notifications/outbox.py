"""Writing to the notification outbox: one row per (event, recipient), never twice.

Callers write inside the transaction of the change that causes the notice, so the notice
exists exactly when the change does. The dispatcher that sends the rows is a separate
piece (it claims due rows, renders them per channel and locale, and records the outcome).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.messages import Target
from models.outbox import Outbox
from models.people import Identity, StaffMember
from models.schedule import utcnow


async def enqueue(event_key: str, kind: str, targets: Iterable[Target], payload: dict[str, Any], *,
                  order_no: str | None = None, locale: str = "zh", due: datetime | None = None) -> int:
    """Add a row per target (a target already holding this event is left alone); returns how many."""
    unique = list(dict.fromkeys(targets))
    if not unique:
        return 0
    now = due or utcnow()
    await Outbox.bulk_create(
        [Outbox(event_key=event_key, channel=t.channel, address=t.address, kind=kind, order_no=order_no,
                payload=payload, locale=locale, next_attempt_at=now) for t in unique],
        ignore_conflicts=True,
    )
    return len(unique)


async def staff_targets(member: StaffMember) -> list[Target]:
    """Where a staff member can be reached: each identity they have, e-mail last."""
    idents = await Identity.filter(staff_id=member.id).order_by("id")
    targets = [Target(i.channel, i.external_id) for i in idents if i.channel != "email"]
    if member.email:
        targets.append(Target("email", member.email))
    return targets
