"""Test helpers that read like the conversation: a chat flow, a recording adapter, a real SMTP
sink, a frozen clock."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from adapters.base import Occasion, Route
from bot.conversation.router import Conversation
from models.messages import Delivery, InboundMessage, Reply, Target
from notifications.sending import OutboxSender

CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


class MailSink:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]

    def codes(self, address: str) -> list[str]:
        """The 6-digit codes mailed to ``address``, oldest first."""
        found = []
        for m in self.to(address):
            body = m.get_body(preferencelist=("plain",)).get_content()
            found += CODE.findall(m["Subject"] + "\n" + body)[:1]
        return found


class Recorder:
    """A channel adapter that keeps what it is asked to send (and answers what it is told to)."""

    routes: tuple[Route, ...] = ()

    def __init__(self, name: str = "telegram", answer: Delivery | None = None, *, delay: float = 0.0) -> None:
        self.name, self.delay = name, delay  # delay: every send takes this long (a platform's limit)
        self.answer = answer or Delivery.sent()
        self.sent: list[tuple[Target, Reply, Occasion | None]] = []

    def parse(self, raw: Any) -> InboundMessage | None:
        return None

    async def send(self, target: Target, reply: Reply, occasion: Occasion | None = None) -> Delivery:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.sent.append((target, reply, occasion))
        return self.answer

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def texts(self, address: str | None = None) -> list[str]:
        return [r.text for t, r, _ in self.sent if address is None or t.address == address]


@dataclass
class Flow:
    """One person's chat with the bot: ``await flow.say(...)`` then look at ``flow.last``."""

    conversation: Conversation
    outbox: OutboxSender
    channel: str = "telegram"
    sender: str = "1001"
    chat: str | None = None
    group: bool = False
    authenticated: bool = True  # False: e-mail whose sender no server vouched for
    replies: list[Reply] = field(default_factory=list)
    _n: int = 0

    async def say(self, text: str, *, mentioned: bool = True) -> str:
        """Send ``text``; returns the bot's answer (all replies joined), with what it mailed sent by then."""
        self._n += 1
        msg = InboundMessage(channel=self.channel, sender_id=self.sender, chat_id=self.chat or self.sender, text=text,
                             message_id=f"{self.sender}-{self._n}", is_group=self.group, mentioned=mentioned,
                             authenticated=self.authenticated)
        got = await self.conversation.handle(msg)
        await self.outbox.run_once()
        self.replies += got
        return "\n".join(r.text for r in got)

    @property
    def last(self) -> str:
        return self.replies[-1].text if self.replies else ""

    @property
    def last_reply(self) -> Reply:
        return self.replies[-1]
