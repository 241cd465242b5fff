"""The email channel: customers write to the bot's mailbox and get a threaded answer.

Inbound mail is read over IMAP (``mailbox.MailboxWatcher``), parsed (``parsing``), passed
through the RFC 3834 loop guard (``guard``) and handed to the router; each reply goes
back over SMTP to the sender's From address, never to a Reply-To: the answer must reach
the mailbox the question claims to come from (a mail from an order's contact address is
answered with the progress directly, which is only safe if the answer goes there). An
answer SMTP cannot take now is put into the notification outbox as a prepared mail
(threading headers and all) and the mail marked seen: the dispatcher retries it, and it
survives a restart.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from aiohttp import web

from adapters.base import Capabilities, Delivery, OnMessage
from adapters.email.imap import MailboxWatcher
from adapters.email.outgoing import ANSWER, Outgoing, answer_mail, notice_mail, prepared
from adapters.email.parsing import parse_mail
from bot.config import Settings
from models.messages import InboundMessage, Reply, Target
from models.schedule import utcnow
from models import outbox
from models.recipients import Recipient

log = logging.getLogger("adapters.email")
STOP_TIMEOUT = 30.0  # a mail being answered at shutdown is given this long to finish
MAX_UNSENT = 1000
KEEP_RETRY = timedelta(seconds=10)  # an answer put in the outbox is first tried again after this
MAX_TRIES = 5  # a mail whose handling fails this often is given up (marked seen), not retried for ever


class EmailChannel:
    """Answers mail in an IMAP mailbox, and sends notifications by mail. See the module docstring."""

    name = "email"
    capabilities = Capabilities(buttons=False, max_length=100_000, proactive="always")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        e = settings.email
        self.address = (e.from_address or _address(e.imap_user) or "orderbot@localhost").strip()
        self.own_addresses = frozenset(a.strip().lower() for a in (self.address, e.from_address, _address(e.imap_user))
                                       if a)
        self.outgoing = Outgoing(e.model_copy(update={"from_address": self.address}))
        self.watcher: MailboxWatcher | None = None
        self._on_message: OnMessage | None = None
        self._task: asyncio.Task | None = None
        self._unsent: dict[str, list[Reply]] = {}  # answers whose sending failed; sent when the mail comes round again
        self._failures: dict[str, int] = {}  # mails whose handling raised, and how often

    @staticmethod
    def problem(settings: Settings) -> str | None:
        """Why the channel cannot run with these settings (shown once at start-up), or None."""
        e = settings.email
        if not e.enabled:
            return "enabled = false"
        problems = []
        missing = [k for k in ("imap_host", "imap_user", "imap_password") if not getattr(e, k)]
        if missing:
            problems.append(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set")
        if not e.smtp_host:
            problems.append("smtp_host is not set, so replies could not go out")
        if not e.from_address and not _address(e.imap_user):
            problems.append("from_address is not set (and imap_user is not an address)")
        return "; ".join(problems) or None

    def parse(self, raw: object) -> InboundMessage | None:
        """Raw RFC 822 bytes as an InboundMessage; None for mail the loop guard refuses or nobody can read."""
        return parse_mail(raw, self.own_addresses)

    async def send(self, target: Target, reply: Reply) -> Delivery:
        """A notification mail (``Auto-Submitted: auto-generated``) to ``target.address``."""
        if "@" not in target.address:
            return Delivery.failed(f"not an e-mail address: {target.address!r}", retryable=False, unreachable=True)
        delivery = await self.outgoing.deliver(notice_mail(target.address, reply))
        if not delivery.ok:
            log.warning("email: notice to %s not sent (%s)", target.address, delivery.reason)
        return delivery

    def mount(self, app: web.Application, on_message: OnMessage) -> None:
        self._on_message = on_message

    async def startup(self) -> None:
        if self._on_message is None:
            log.warning("email: no conversation to hand mail to; the mailbox is not read")
            return
        self.watcher = MailboxWatcher(self.settings.email, self.handle_mail)
        self._task = asyncio.create_task(self.watcher.run(), name="email-mailbox")

    async def shutdown(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self.watcher.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # ------------------------------------------------------------ one mail
    async def handle_mail(self, raw: bytes) -> bool:
        """Answer one mail; True when it is done with (mark it seen), False to try it again later."""
        msg = self.parse(raw)
        if msg is None:
            return True
        return await self.answer(msg)

    async def answer(self, msg: InboundMessage) -> bool:
        """Hand ``msg`` to the conversation and mail each reply back; False when one must be sent later."""
        key = msg.message_id or ""
        replies = self._unsent.pop(key, None)
        retrying = replies is not None
        if replies is None:
            try:
                replies = await self._on_message(msg)
            except Exception as e:  # noqa: BLE001 - left unseen; Inbound forgets the message, so a retry handles it
                return self._failed(key, msg.sender_id, e)
            self._failures.pop(key, None)
        for i, reply in enumerate(replies):
            delivery = await self.outgoing.deliver(answer_mail(msg.sender_id, msg.raw, reply))
            if delivery.ok:
                continue
            if delivery.retryable and not retrying and await self._keep(key, msg, replies[i:], delivery):
                return True  # in the outbox now: it survives a restart, and the mail is done with
            if delivery.retryable:
                if len(self._unsent) >= MAX_UNSENT:
                    self._unsent.pop(next(iter(self._unsent)))
                self._unsent[key] = replies[i:]
                (log.debug if retrying else log.warning)(
                    "email %s: answer to %s not sent (%s); trying again later", key, msg.sender_id, delivery.reason)
                return False
            log.warning("email %s: answer to %s refused (%s); not sent", key, msg.sender_id, delivery.reason)
        return True

    async def _keep(self, key: str, msg: InboundMessage, replies: list[Reply], delivery: Delivery) -> bool:
        """Put answers SMTP could not take into the outbox, for the dispatcher to retry; False if that failed."""
        mails = [answer_mail(msg.sender_id, msg.raw, r) for r in replies]
        first = Target("email", msg.sender_id)
        to = Recipient(str(first), "reply", first, "zh")
        try:
            await outbox.keep([outbox.Notice(f"answer:{key}:{n}", ANSWER, to, prepared(mail), None,
                                             utcnow() + KEEP_RETRY) for n, mail in enumerate(mails)])
        except Exception:  # noqa: BLE001 - then the mail stays unseen and is tried again from memory
            log.exception("email %s: could not keep the answer in the outbox", key)
            return False
        log.warning("email %s: answer to %s not sent (%s); the outbox sends it when SMTP takes it", key,
                    msg.sender_id, delivery.reason)
        return True

    def _failed(self, key: str, sender: str, error: Exception) -> bool:
        """Count a failed handling: try again later (False), or give up after ``MAX_TRIES`` (True)."""
        tries = self._failures.pop(key, 0) + 1
        if tries >= MAX_TRIES:
            log.error("email %s from %s: handling failed %d times; given up, marked seen", key, sender, tries,
                      exc_info=error)
            return True
        if len(self._failures) >= MAX_UNSENT:
            self._failures.pop(next(iter(self._failures)))
        self._failures[key] = tries
        if tries == 1:
            log.error("email %s from %s: handling failed; trying again later", key, sender, exc_info=error)
        return False


def _address(value: str | None) -> str | None:
    return value.strip() if value and "@" in value else None
