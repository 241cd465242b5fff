"""The email channel: customers write to the bot's mailbox and get a threaded answer.

Inbound mail is read over IMAP (``imap.MailboxWatcher``), parsed (``parsing``; whether the
receiving server proved the From is ``authresults``), passed through the RFC 3834 loop
guard (``guard``) and handed to the conversation; each reply goes
back over SMTP to the sender's From address, never to a Reply-To: the answer must reach
the mailbox the question claims to come from (a mail from an order's contact address is
answered with the progress directly, which is only safe if the answer goes there). An
answer SMTP cannot take now is put into the notification outbox as a prepared mail
(threading headers and all) and the mail marked seen: the outbox sender retries it, and it
survives a restart.

The channel also sends every other mail the bot writes first: notices and verification
codes (``send``), paced per receiving domain. It runs whether or not the mailbox is read:
SMTP alone is enough to send, and without SMTP mail goes to the dev mailbox.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from adapters.base import Host, Occasion, Route
from adapters.email.authresults import SenderCheck
from adapters.email.config import EmailSettings, mailbox_problem
from adapters.email.imap import MailboxWatcher
from adapters.email.outgoing import DomainPacer, Mail, Outgoing, answer_mail, notice_mail, prepared
from adapters.email.parsing import parse_mail
from models import outbox
from models.messages import Delivery, InboundMessage, Reply, Target
from models.outbox import EMAIL_ANSWER
from models.recipients import Recipient
from models.schedule import utcnow

log = logging.getLogger("adapters.email")
STOP_TIMEOUT = 30.0  # a mail being answered at shutdown is given this long to finish
MAX_UNSENT = 1000
KEEP_RETRY = timedelta(seconds=10)  # an answer put in the outbox is first tried again after this
MAX_TRIES = 5  # a mail whose handling fails this often is given up (marked seen), not retried for ever


class EmailChannel:
    """Answers mail in an IMAP mailbox, and sends notifications by mail. See the module docstring."""

    name = "email"
    routes: tuple[Route, ...] = ()

    def __init__(self, config: EmailSettings, host: Host) -> None:
        self.config = config
        self.address = config.address
        self.own_addresses = frozenset(a.strip().lower() for a in (self.address, config.from_address,
                                                                   config.imap_user) if a and "@" in a)
        self.sender_check = SenderCheck(config.authserv_id, config.trust_unauthenticated)
        self.outgoing = Outgoing(config)
        self.pacer = DomainPacer(config.per_domain_per_minute)
        self.watcher: MailboxWatcher | None = None
        self._on_message = host.on_message
        self.brand = host.brand
        self._task: asyncio.Task | None = None
        self._unsent: dict[str, list[Reply]] = {}  # answers whose sending failed; sent when the mail comes round again
        self._failures: dict[str, int] = {}  # mails whose handling raised, and how often

    def parse(self, raw: object) -> InboundMessage | None:
        """Raw RFC 822 bytes as an InboundMessage; None for mail the loop guard refuses or nobody can read."""
        return parse_mail(raw, self.own_addresses, self.sender_check)

    async def send(self, target: Target, reply: Reply, occasion: Occasion | None = None) -> Delivery:
        """A mail the bot sends first (``Auto-Submitted: auto-generated``), in its domain's turn;
        an answer kept in the outbox (``EMAIL_ANSWER``) goes out exactly as it was prepared."""
        if "@" not in target.address:
            return Delivery.failed(f"not an e-mail address: {target.address!r}", retryable=False, unreachable=True)
        if occasion is not None and occasion.kind == EMAIL_ANSWER:
            mail = Mail(**occasion.payload)
        else:
            mail = notice_mail(target.address, reply, self.brand)
        if self.outgoing.uses_smtp:  # the dev mailbox is nobody's provider
            await self.pacer.wait(mail.to.rpartition("@")[2].lower())
        delivery = await self.outgoing.deliver(mail)
        if not delivery.ok:
            log.warning("email: mail to %s not sent (%s)", target.address, delivery.reason)
        return delivery

    async def startup(self) -> None:
        why = mailbox_problem(self.config)
        if why or self._on_message is None:
            log.info("email: the mailbox is not read (%s); mail goes out %s", why or "no conversation to hand it to",
                     "over SMTP" if self.outgoing.uses_smtp else "to the dev mailbox (`orderbot mailbox`)")
            return
        self.watcher = MailboxWatcher(self.config, self.handle_mail)
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
            delivery = await self.outgoing.deliver(answer_mail(msg.sender_id, msg.raw, reply, self.brand))
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
        """Put answers SMTP could not take into the outbox, for the outbox sender to retry; False if that failed."""
        mails = [answer_mail(msg.sender_id, msg.raw, r, self.brand) for r in replies]
        first = Target("email", msg.sender_id)
        to = Recipient(str(first), "reply", first, "zh")
        try:
            await outbox.keep([outbox.Notice(f"answer:{key}:{n}", EMAIL_ANSWER, to, prepared(mail), None,
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
