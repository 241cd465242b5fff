"""Writes the audit log (``models.audit.AuditLog``): every order shown, to whom, which fields,
how they were verified. One plain INSERT: it runs for every card shown."""
from __future__ import annotations

from collections.abc import Iterable

from models.messages import InboundMessage
import orjson

from models import batch
from models.schedule import utcnow


async def shown(msg: InboundMessage, order_no: str, fields: Iterable[str], *, actor_kind: str, actor_id: str,
                verified_by: str) -> None:
    """Record that ``order_no`` was shown in the conversation of ``msg``.

    Inside a message's unit of work (``models.batch.unit``) the row is committed with the
    conversation's release, before the answer goes out; elsewhere before this returns.
    """
    await batch.soon(
        "INSERT INTO audit_log (at, actor_kind, actor_id, order_no, fields_shown, channel, verified_by, chat_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [utcnow(), actor_kind, actor_id, order_no, orjson.dumps(sorted(fields)).decode(), msg.channel, verified_by,
         msg.chat_id])
