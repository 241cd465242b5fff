"""Writes the audit log: every order shown, to whom, which fields, how they were verified."""
from __future__ import annotations

from collections.abc import Iterable

from bot.messages import InboundMessage
from models.audit import AuditLog


async def shown(msg: InboundMessage, order_no: str, fields: Iterable[str], *, actor_kind: str, actor_id: str,
                verified_by: str) -> None:
    """Record that ``order_no`` was shown in the conversation of ``msg``."""
    await AuditLog.create(actor_kind=actor_kind, actor_id=actor_id, order_no=order_no, fields_shown=sorted(fields),
                          channel=msg.channel, verified_by=verified_by, chat_id=msg.chat_id)
