"""Between the channels and the conversation: each platform message is handled once.

Platforms send again what they think we missed (WeChat three times within 15 s, Telegram
after a failed webhook call); the message's platform id, kept as a unique row, makes the
second arrival a no-op, in every process.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from bot.conversation.router import Conversation
from models import chats
from models.messages import InboundMessage, Reply
from models.schedule import utcnow

log = logging.getLogger(__name__)
KEEP = timedelta(days=2)
SWEEP_EVERY = timedelta(minutes=10)


class Inbound:
    """Hands each new message to the router; a message seen before gets no answer."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self._swept = utcnow()

    async def first_time(self, channel: str, key: str) -> bool:
        """True the first time (channel, key) is seen, in any process; False ever after."""
        now = utcnow()
        if not await chats.first_time(channel, key, now):
            return False
        if now - self._swept > SWEEP_EVERY:
            self._swept = now
            await chats.sweep_taken_in(now - KEEP)
        return True

    async def __call__(self, msg: InboundMessage) -> list[Reply]:
        if msg.message_id and not await self.first_time(msg.channel, msg.message_id):
            log.info("%s message %s seen before; not handled again", msg.channel, msg.message_id)
            return []
        try:
            return await self.conversation.handle(msg)
        except BaseException:
            if msg.message_id:  # not handled after all: the platform's next try gets its turn
                await chats.forget(msg.channel, msg.message_id)
            raise
