"""Notices by e-mail, paced per receiving domain.

Large providers throttle or junk a sender that mails many of their users at once, so
notices to one domain leave at most ``[email] per_domain_per_minute`` a minute (each waits
its turn; other domains are not held up). SMTP alone is enough (no IMAP needed); without
``smtp_host`` mail goes to the dev mailbox, as the verification codes do.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable

from adapters.base import Delivery
from adapters.email.outgoing import Outgoing, notice_mail
from bot.config import EmailSettings
from bot.mailer import Mail
from models.messages import Reply, Target


class DomainPacer:
    """Spaces sends to one domain ``60 / per_minute`` seconds apart."""

    def __init__(self, per_minute: float, clock: Callable[[], float] | None = None) -> None:
        self.gap = 60.0 / per_minute
        self._next: dict[str, float] = {}
        self._clock = clock

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    async def wait(self, domain: str) -> None:
        now = self._now()
        at = max(now, self._next.get(domain, now))
        self._next[domain] = at + self.gap  # taken before sleeping: the next sender queues behind
        if at > now:
            await asyncio.sleep(at - now)


class MailNotices:
    """The ``email`` channel as the dispatcher sees it."""

    name = "email"

    def __init__(self, settings: EmailSettings) -> None:
        self.outgoing = Outgoing(settings)
        self.pacer = DomainPacer(settings.per_domain_per_minute)

    async def send(self, target: Target, reply: Reply) -> Delivery:
        if "@" not in target.address:
            return Delivery.failed(f"not an e-mail address: {target.address!r}", retryable=False, unreachable=True)
        return await self.deliver(notice_mail(target.address, reply))

    async def deliver(self, mail: Mail) -> Delivery:
        """Any mail, prepared (a notice, or an answer kept in the outbox), in its domain's turn."""
        if self.outgoing.mailer.uses_smtp:  # the dev mailbox is nobody's provider
            await self.pacer.wait(mail.to.rpartition("@")[2].lower())
        return await self.outgoing.deliver(mail)
