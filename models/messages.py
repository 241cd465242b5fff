"""The small frozen values every channel, the conversation and the notifications pass around.

They live on the ground floor because every part shares them, and Targets are stored data
(subscriptions and the outbox hold them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True)
class Target:
    """Where a message can be sent: a channel and an address on it (chat id, openid, e-mail)."""

    channel: str
    address: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.address}"


@dataclass(frozen=True)
class InboundMessage:
    """One message as a channel received it, with what is needed to answer it.

    ``sender_id`` is the person, ``chat_id`` the conversation (the same in a private chat;
    a group's id in a group). ``mentioned`` says the bot was addressed in a group (a
    mention, a command or a reply to the bot). ``source`` is where it came from at the
    network level (an IP address for web chat), for rate limits. ``message_id`` is the
    platform's id of the message: a retry carries the same one and is handled once.
    ``authenticated`` False: nothing vouches that ``sender_id`` wrote it (an e-mail whose
    From no receiving-server check confirmed), so it must not be enough to change anything.
    """

    channel: str
    sender_id: str
    chat_id: str
    text: str
    message_id: str | None = None
    is_group: bool = False
    mentioned: bool = False
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    source: str | None = None
    language: str | None = None  # what the platform says the person reads (Telegram's language_code)
    kind: str = "text"  # what was sent: text, or a picture, voice, sticker... (``text`` is then empty)
    authenticated: bool = True  # platforms name their senders; an e-mail's From is typed, so e-mail says per mail
    raw: Any = field(default=None, compare=False, repr=False)

    @property
    def session_key(self) -> str:
        """One conversation: a private chat, or one person within a group."""
        base = f"{self.channel}:{self.chat_id}"
        return f"{base}:{self.sender_id}" if self.is_group else base

    @property
    def reply_target(self) -> Target:
        return Target(self.channel, self.chat_id)


@dataclass(frozen=True)
class Button:
    """A follow-up the person can tap; ``data`` comes back as the text of a new message."""

    label: str
    data: str


@dataclass(frozen=True)
class Reply:
    """What the bot says: text, optional buttons (channels without them show them as text), a link."""

    text: str
    buttons: tuple[Button, ...] = ()
    link: str | None = None
    subject: str | None = None  # where the channel has one (an e-mail's Subject); else the first line serves

    def as_text(self) -> str:
        """The reply for a channel that shows only text."""
        lines = [self.text]
        # A choice whose words are what to send ("[转人工]") is not written twice.
        lines += [f"[{b.label}]" if b.label == b.data else f"[{b.label}] {b.data}" for b in self.buttons]
        if self.link:
            lines.append(self.link)
        return "\n".join(lines)


@dataclass(frozen=True)
class Delivery:
    """What became of one send: sent (with the platform's id), or failed and why."""

    ok: bool
    reason: str | None = None
    retryable: bool = False
    message_id: str | None = None
    retry_after: float | None = None  # seconds the platform asked us to wait
    unreachable: bool = False  # the channel cannot reach this person now (fall back to another)

    @classmethod
    def sent(cls, message_id: str | None = None) -> Delivery:
        return cls(True, message_id=message_id)

    @classmethod
    def failed(cls, reason: str, *, retryable: bool, retry_after: float | None = None,
               unreachable: bool = False) -> Delivery:
        return cls(False, reason=reason, retryable=retryable, retry_after=retry_after, unreachable=unreachable)


@dataclass(frozen=True)
class Brand:
    """The company the bot speaks for (``[brand]``): on pages, in the chat's title, at the foot of mail."""

    name: str = ""
    logo_url: str | None = None
    phone: str | None = None
    email: str | None = None
    url: str | None = None

    def contact(self) -> list[str]:
        """Its ways to be reached, as they are written."""
        return [v for v in (self.phone, self.email, self.url) if v]
