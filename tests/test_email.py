"""The email channel: a real Dovecot holds the bot's mailbox, a real aiosmtpd catches what it sends.

Mail is put into INBOX the way a mail server delivers it (IMAP APPEND); the channel reads
it as in production and hands it to the real conversation (behind the dedupe).
The pure parts (loop guard, parsing, quoted history) are tables.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from adapters.email import EmailChannel, refusal, should_answer
from adapters.email.config import mailbox_problem
from adapters.email.imap import MailboxWatcher
from adapters.email.outgoing import notice_mail, outcome
from adapters.email.parsing import reply_subject
from bot.app import build_conversation, make_channel
from bot.config import load_settings
from bot.conversation.inbound import Inbound
from bot.conversation.nlu import Parser
from models.inputs import CustomerIn, EventIn, OrderIn
from models.messages import Button, Delivery, Reply, Target
from models.outbox import EMAIL_ANSWER as ANSWER
from models.outbox import Outbox
from models.schedule import utcnow
from notifications.sending import OutboxSender
from tests.kit.base import SECRET, free_port
from tests.kit.dovecot import Dovecot, dovecot_binary
from tests.kit.fakes import MailSink

from tests.kit.mail import (ASKS_CODE, BOT, CONTACT, LOG, NO, STOCKING, STRANGER, dovecot,  # noqa: F401 - fixtures
                            email_settings, mail, message_id, order_at, until)


@dataclass
class MailBot:
    channel: EmailChannel
    server: Dovecot
    sink: MailSink
    handled: list  # (message id, was it \Seen while being handled)
    received: list  # every InboundMessage handed to the conversation

    def answers_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.sink.to(address) if m["Auto-Submitted"] == "auto-replied"]

    async def answer_to(self, raw: bytes, address: str = STRANGER, timeout: float = 10) -> EmailMessage:
        mid = message_id(raw)
        return await until(lambda: next((m for m in self.answers_to(address) if m["In-Reply-To"] == mid), None),
                           timeout)

    async def idling(self) -> None:
        await until(lambda: self.channel.watcher._client is not None
                    and self.channel.watcher._client.has_pending_idle())


@pytest.fixture
async def mailbot(email_settings, engine, smtp, dovecot, monkeypatch):
    monkeypatch.setattr(MailboxWatcher, "first_retry", 0.2)
    monkeypatch.setattr(MailboxWatcher, "retry_seconds", 0.5)
    inbound = Inbound(build_conversation(email_settings, engine))
    codes = OutboxSender(email_settings.notifications, engine, {})
    handled, received = [], []

    async def watched(msg):
        received.append(msg)
        # What Dovecot says while the message is being handled: it must still be unseen.
        handled.append((msg.message_id, await asyncio.to_thread(dovecot.seen, msg.message_id)))
        replies = await inbound(msg)
        await codes.run_once()  # what the answer caused (a code mail) goes out as the service would send it
        return replies

    channel = make_channel("email", email_settings, watched)
    codes.channels["email"] = channel
    await channel.startup()
    yield MailBot(channel, dovecot, smtp[0], handled, received)
    await channel.shutdown()


# ---------------------------------------------------------------- the conversation over IMAP and SMTP
async def test_a_question_gets_a_threaded_answer_and_the_mail_is_seen_only_after(mailbot: MailBot, engine):
    await order_at(engine)
    raw = mail(subject=f"Re: where is {NO}", body="Hello, any news?",
               headers={"References": "<earlier@buyer.example>"})
    mailbot.server.deliver(raw)
    answer = await mailbot.answer_to(raw)
    mid = message_id(raw)
    assert answer["Subject"] == f"Re: where is {NO}"
    assert answer["In-Reply-To"] == mid
    assert answer["References"].split() == ["<earlier@buyer.example>", mid]
    assert answer["Auto-Submitted"] == "auto-replied" and answer["From"] == BOT
    assert answer.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in answer.iter_parts()] == ["text/plain", "text/html"]
    text = answer.get_body(("plain",)).get_content()
    assert ASKS_CODE.search(text) and not STOCKING.search(text), "a stranger is asked for a code"
    assert ASKS_CODE.search(answer.get_body(("html",)).get_content())
    assert mailbot.handled == [(mid, [False])], "unseen while it was being handled"
    await until(lambda: mailbot.server.seen(mid) == [True])
    [code] = await until(lambda: mailbot.sink.codes(CONTACT))

    # The code comes back as an answer to the bot's mail, over the quoted history.
    reply = mail(subject=f"Re: {answer['Subject']}", mid=make_msgid(domain="other.example"),
                 body=f"{code}\n\nOn Mon, Nov 24, 2026 at 10:02 AM Orders <{BOT}> wrote:\n> {text}",
                 headers={"In-Reply-To": answer["Message-ID"], "References": f"{mid} {answer['Message-ID']}"})
    mailbot.server.deliver(reply)
    shown = (await mailbot.answer_to(reply)).get_body(("plain",)).get_content()
    assert STOCKING.search(shown) and "12345.67" not in shown


async def test_the_contact_on_file_gets_the_progress_directly(mailbot: MailBot, engine):
    await order_at(engine)
    raw = mail(sender="Zhang San <Zhang@Buyer.Example>", subject="订单进度", body=f"{NO} 到哪了？")
    mailbot.server.deliver(raw)
    answer = await mailbot.answer_to(raw, CONTACT)
    text = answer.get_body(("plain",)).get_content()
    assert STOCKING.search(text) and not ASKS_CODE.search(text)
    assert answer["To"] == CONTACT and answer["Subject"] == "Re: 订单进度"
    assert not mailbot.sink.codes(CONTACT), "no code needed"


async def test_the_conversation_hears_which_mail_the_receiving_server_authenticated(mailbot: MailBot, engine):
    await order_at(engine)
    claim = "mx.factory.example; dkim=pass header.d=buyer.example; dmarc=pass header.from=buyer.example"
    # (what the receiving server put on top, what the sender wrote into the mail, authenticated)
    cases = [(claim, None, True),
             ("mx.factory.example; dkim=none; dmarc=fail header.from=buyer.example", claim, False),
             (None, None, False)]
    mails = []
    for on_top, written, _ in cases:
        raw = mail(sender=CONTACT, subject=f"cancel {NO}", body="please cancel it",
                   headers={"Authentication-Results": written} if written else None)
        mails.append(raw if on_top is None else f"Authentication-Results: {on_top}\r\n".encode() + raw)
        mailbot.server.deliver(mails[-1])
    for raw in mails:
        await mailbot.answer_to(raw, CONTACT)
    got = {m.message_id: m.authenticated for m in mailbot.received}
    assert [got[message_id(raw)] for raw in mails] == [expected for *_, expected in cases]


LOOPING = {
    "auto-reply": mail(subject="Out of office", headers={"Auto-Submitted": "auto-replied"}),
    "list": mail(headers={"List-Id": "<buyers.lists.example>", "Precedence": "list"}),
    "bounce": mail(sender="MAILER-DAEMON@mx.buyer.example", subject="Undelivered Mail Returned to Sender"),
}


async def test_auto_replies_lists_and_bounces_get_no_answer_but_are_marked_seen(mailbot: MailBot, engine):
    await order_at(engine)
    for raw in LOOPING.values():
        mailbot.server.deliver(raw)
    last = mail()
    mailbot.server.deliver(last)
    await mailbot.answer_to(last)  # handled one at a time, in order: the others are done
    assert len(mailbot.sink.messages) == 2, "the answer to the last mail and its code mail, nothing else"
    for raw in LOOPING.values():
        assert mailbot.server.seen(message_id(raw)) == [True]
    await until(lambda: mailbot.server.unseen() == 0)


def raw_mail(sender: bytes, subject: bytes, body: str, mid: str | None = None) -> bytes:
    """A mail as spam and broken clients send it: header bytes as they are, no encoding fixed up."""
    mid = mid or make_msgid(domain="buyer.example")
    return (b"From: " + sender + b"\r\nTo: " + BOT.encode() + b"\r\nSubject: " + subject + b"\r\nDate: "
            + formatdate().encode() + b"\r\nMessage-ID: " + mid.encode()
            + b"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body.encode() + b"\r\n")


async def test_spam_whose_sender_cannot_be_read_gets_no_answer(mailbot: MailBot, engine):
    await order_at(engine)
    # Raw GBK-looking bytes where the address should be: decoded, they leave U+FFFD in it.
    spam = [raw_mail(b"\xff\xfe\xb9\xe3 <\xb9\xe3\xb8\xe6@promo.example>", b"=?utf-8?B?/////w==?=", f"where is {NO}"),
            raw_mail(b"=?utf-8?B?/////w==?=", b"\xd3\xc5\xbb\xdd", f"where is {NO}"),
            raw_mail(b"<a\xef\xbf\xbd@promo.example>", b"hi", f"where is {NO}")]
    for raw in spam:
        mailbot.server.deliver(raw)
    last = mail()
    mailbot.server.deliver(last)
    await mailbot.answer_to(last)  # handled in order: the spam is done
    assert {r for rcpts, _ in mailbot.sink.messages for r in rcpts} == {STRANGER, CONTACT}, "nobody else was written to"
    for raw in spam:
        assert mailbot.server.seen(message_id(raw)) == [True]


async def test_a_broken_subject_leaves_no_replacement_characters_in_the_reply(mailbot: MailBot, engine):
    await order_at(engine)
    # A subject whose encoded word is broken halfway: the readable part stays, the debris goes.
    half = raw_mail(STRANGER.encode(), b"=?utf-8?B?/////w==?= where is " + NO.encode(), "Hello, any news?")
    # Nothing readable at all: the answer's own first line is the subject.
    none = raw_mail(STRANGER.encode(), b"\xff\xfe\xfd\xfc", f"where is {NO}")
    mailbot.server.deliver(half)
    mailbot.server.deliver(none)
    first = await mailbot.answer_to(half)
    assert first["Subject"] == f"Re: where is {NO}"
    second = await mailbot.answer_to(none)
    text = second.get_body(("plain",)).get_content()
    assert "\ufffd" not in second["Subject"] and second["Subject"].strip()
    first_line = next(line.strip() for line in text.splitlines() if line.strip())
    said = " ".join(second["Subject"].split())  # header folding may double a space
    assert first_line.startswith(said.removesuffix("…")) and len(said) <= 60


async def test_long_subjects_are_cut_between_words(mailbot: MailBot, engine):
    await order_at(engine)
    words = ("Dear team we would kindly like to know the current production and shipping status of our "
             "purchase order " + NO + " placed last week for the spring collection samples please").split()
    raw = mail(subject=" ".join(words))
    mailbot.server.deliver(raw)
    subject = (await mailbot.answer_to(raw))["Subject"]
    assert subject.startswith("Re: Dear team") and subject.endswith("…") and len(subject) <= 120
    assert all(w in words for w in subject.removeprefix("Re: ").removesuffix("…").split()), subject


def test_notice_subjects_are_cut_between_words_and_chinese_between_characters():
    english = notice_mail(CONTACT, Reply("Your order " + NO + " has left the warehouse and is on its way with SF"))
    assert english.subject == "Your order " + NO + " has left the warehouse and is on…"
    chinese = notice_mail(CONTACT, Reply("您的订单" + NO + "已经从杭州仓库出库，顺丰快递正在配送中，预计十二月三日下午送达，请您注意查收，谢谢您的耐心"))
    assert chinese.subject == "您的订单" + NO + "已经从杭州仓库出库，顺丰快递正在配送中，预计十二月三日下午送达，请您注意查收，谢谢…"
    assert len(english.subject) <= 60 and len(chinese.subject) <= 60


async def test_digits_in_a_link_are_not_taken_for_an_order_number(mailbot: MailBot, engine):
    await order_at(engine)
    raw = mail(sender=CONTACT, subject="hello",
               body="Is my order on its way? Tracking link: https://shop.example/t?__utma=193350514.1")
    mailbot.server.deliver(raw)
    answer = await mailbot.answer_to(raw, CONTACT)
    text = answer.get_body(("plain",)).get_content()
    assert "193350514" not in text and "Which order" in text, text
    assert [m.text for m in mailbot.received][-1].count("193350514") == 1, "the mail was read, link and all"


async def test_the_same_message_id_twice_is_answered_once(mailbot: MailBot, engine):
    await order_at(engine)
    raw = mail()
    mailbot.server.deliver(raw)
    mailbot.server.deliver(raw)
    last = mail(body="and one more thing")
    mailbot.server.deliver(last)
    await mailbot.answer_to(last)
    mid = message_id(raw)
    assert len([m for m in mailbot.answers_to(STRANGER) if m["In-Reply-To"] == mid]) == 1
    assert await until(lambda: mailbot.server.seen(mid) == [True, True])


async def test_mail_arriving_while_idling_is_handled_within_seconds(mailbot: MailBot, engine):
    await order_at(engine)
    await mailbot.idling()
    raw = mail()
    started = time.monotonic()
    mailbot.server.deliver(raw)
    await mailbot.answer_to(raw, timeout=5)
    assert time.monotonic() - started < 5


async def test_the_channel_reconnects_after_the_server_restarts(mailbot: MailBot, engine, caplog):
    caplog.set_level(logging.DEBUG, LOG)
    await order_at(engine)
    await mailbot.idling()
    mailbot.server.stop()
    await asyncio.sleep(2.5)  # several attempts fail meanwhile (0.2 s doubling)
    mailbot.server.start()
    raw = mail()
    mailbot.server.deliver(raw)
    await mailbot.answer_to(raw, timeout=15)
    down = [r for r in caplog.records if r.name == LOG and r.levelno == logging.WARNING]
    retries = [r for r in caplog.records if r.name == LOG and r.levelno == logging.DEBUG and "unavailable" in r.message]
    assert 1 <= len(down) <= 2, "once for the lost connection, once for the refused ones"
    assert retries, "the same failure again is not logged as a warning"
    assert "watching INBOX" in caplog.records[-1].message or any(
        "watching INBOX" in r.message for r in caplog.records[caplog.records.index(down[-1]):])


async def test_an_answer_smtp_could_not_take_waits_in_the_outbox_and_survives_a_restart(mailbot: MailBot, engine,
                                                                                          email_settings):
    await order_at(engine)
    smtp_port = mailbot.channel.outgoing.settings.smtp_port
    mailbot.channel.outgoing.settings.smtp_port = free_port()  # nothing listens there
    raw = mail()
    mailbot.server.deliver(raw)
    await until(lambda: mailbot.server.seen(message_id(raw)) == [True])  # done with: the answer is kept
    [kept] = await Outbox.filter(kind=ANSWER)
    assert (kept.status, kept.recipient) == ("pending", f"email:{STRANGER}") and not mailbot.answers_to(STRANGER)
    await mailbot.channel.shutdown()  # the process stops; what it kept is in the database

    mailbot.channel.outgoing.settings.smtp_port = smtp_port
    later = OutboxSender(email_settings.notifications, engine, {"email": make_channel("email", email_settings)})
    # (another process, SMTP back)
    await Outbox.filter(id=kept.id).update(next_attempt_at=utcnow())
    assert await later.run_once() == 1
    answer = await mailbot.answer_to(raw)
    assert ASKS_CODE.search(answer.get_body(("plain",)).get_content()), "the answer the router gave, not a blank"
    assert answer["Auto-Submitted"] == "auto-replied" and answer["Subject"].startswith("Re:")
    assert len(mailbot.answers_to(STRANGER)) == 1
    assert (await Outbox.get(id=kept.id)).status == "sent" and await later.run_once() == 0


async def test_a_failing_handler_is_retried_and_a_mail_that_always_fails_is_given_up(email_settings, dovecot, caplog,
                                                                                       monkeypatch):
    monkeypatch.setattr(MailboxWatcher, "retry_seconds", 0.2)
    caplog.set_level(logging.DEBUG, LOG)
    calls: dict[str, int] = {}

    async def flaky(msg):
        calls[msg.text] = calls.get(msg.text, 0) + 1
        if msg.text == "poison" or calls[msg.text] < 3:
            raise RuntimeError("the database went away")
        return [Reply("here you are")]

    channel = make_channel("email", email_settings, flaky)
    await channel.startup()
    try:
        poison, flaky_mail = mail(subject="", body="poison"), mail(subject="", body="twice broken")
        dovecot.deliver(poison)
        dovecot.deliver(flaky_mail)
        await until(lambda: dovecot.unseen() == 0)
    finally:
        await channel.shutdown()
    assert calls == {"poison": 5, "twice broken": 3}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 3, "each failing mail logged when it first fails, the poison once more when given up"
    assert dovecot.seen(message_id(poison)) == [True] and dovecot.seen(message_id(flaky_mail)) == [True]


async def test_a_refused_login_is_logged_once_and_retried_until_shutdown(email_settings, dovecot, caplog,
                                                                         monkeypatch):
    monkeypatch.setattr(MailboxWatcher, "first_retry", 0.1)
    caplog.set_level(logging.DEBUG, LOG)
    email_settings.email.imap_password = SecretStr("wrong")
    channel = make_channel("email", email_settings, lambda msg: [])
    await channel.startup()
    # Two tries: Dovecot holds a repeated wrong login back for a few seconds (its auth penalty).
    await until(lambda: len([r for r in caplog.records if "LOGIN refused" in r.message]) >= 2, timeout=15)
    started = time.monotonic()
    await channel.shutdown()
    assert time.monotonic() - started < 2, "shutdown does not wait out the backoff"
    refused = [r for r in caplog.records if "LOGIN refused" in r.message]
    assert [r.levelno for r in refused].count(logging.WARNING) == 1 and "wrong" not in caplog.text


# ---------------------------------------------------------------- proactive mail and SMTP failures
class PickySink(MailSink):
    """Refuses some recipients the way mail servers do."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("gone@"):
            return "550 5.1.1 no such user"
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def picky(email_settings):
    sink = PickySink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    email_settings.email.smtp_port = controller.port
    yield sink
    controller.stop()


async def test_a_notice_is_sent_as_auto_generated_text_and_html(email_settings, picky):
    channel = make_channel("email", email_settings)
    reply = Reply("订单 SO202611240042 已发货\n<b>not markup</b>", buttons=(Button("查看进度", NO),),
                  link="https://factory.example/p/abc?x=1&y=2")
    delivery = await channel.send(Target("email", CONTACT), reply)
    assert delivery.ok and delivery.message_id
    [got] = picky.to(CONTACT)
    assert got["Message-ID"] == delivery.message_id and got["Auto-Submitted"] == "auto-generated"
    assert got["Subject"] == "订单 SO202611240042 已发货" and got["From"] == BOT
    text, page = got.get_body(("plain",)).get_content(), got.get_body(("html",)).get_content()
    assert f"查看进度: {NO}" in text and "https://factory.example/p/abc?x=1&y=2" in text
    assert "&lt;b&gt;not markup&lt;/b&gt;" in page and "<b>" not in page
    assert 'href="https://factory.example/p/abc?x=1&amp;y=2"' in page


SEND_FAILURES = [
    ("gone@buyer.example", False, "550"),
    ("busy@buyer.example", True, "451"),
    ("not-an-address", False, "not an e-mail address"),
]


@pytest.mark.parametrize("address, retryable, reason", SEND_FAILURES)
async def test_smtp_refusals_say_whether_to_try_again(email_settings, picky, address, retryable, reason):
    delivery = await make_channel("email", email_settings).send(Target("email", address), Reply("hi"))
    assert not delivery.ok and delivery.retryable is retryable and reason in delivery.reason


async def test_an_smtp_server_that_is_down_or_silent_means_try_again(email_settings, monkeypatch):
    monkeypatch.setattr("adapters.email.outgoing.SMTP_TIMEOUT", 0.5)
    email_settings.email.smtp_port = free_port()
    refused = await make_channel("email", email_settings).send(Target("email", CONTACT), Reply("hi"))
    assert not refused.ok and refused.retryable

    connections = []

    async def silent(reader, writer):  # accepts, never greets
        connections.append(writer)
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    email_settings.email.smtp_port = server.sockets[0].getsockname()[1]
    try:
        timed_out = await make_channel("email", email_settings).send(Target("email", CONTACT), Reply("hi"))
    finally:
        server.close()
        for writer in connections:
            writer.close()
            await asyncio.gather(writer.wait_closed(), return_exceptions=True)
        await server.wait_closed()
    assert not timed_out.ok and timed_out.retryable


@pytest.mark.parametrize("error, retryable", [
    (aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@b")]), False),
    (aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(452, "mailbox full", "a@b")]), True),
    (aiosmtplib.SMTPDataError(554, "spam"), False),
    (aiosmtplib.SMTPDataError(421, "closing"), True),
    (aiosmtplib.SMTPSenderRefused(553, "not yours", BOT), False),
    (aiosmtplib.SMTPAuthenticationError(535, "bad password"), True),
    (aiosmtplib.SMTPServerDisconnected("gone"), True),
    (aiosmtplib.SMTPConnectError("refused"), True),
    (aiosmtplib.SMTPReadTimeoutError("slow"), True),
    (ConnectionRefusedError(111, "refused"), True),
])
def test_smtp_errors_as_deliveries(error, retryable):
    delivery = outcome(error)
    assert isinstance(delivery, Delivery) and not delivery.ok and delivery.retryable is retryable


# ---------------------------------------------------------------- start-up
def _with(settings, **email):
    for k, v in email.items():
        setattr(settings.email, k, v)
    return settings


COMPLETE = {"enabled": True, "imap_host": "imap.example", "imap_user": "orders@factory.example",
                "imap_password": SecretStr("x"), "smtp_host": "smtp.example"}


@pytest.mark.parametrize("changes, problem", [
    ({}, None),
    ({"enabled": False}, "enabled = false"),
    ({"imap_host": None}, "imap_host is not set"),
    ({"imap_user": None, "imap_password": None}, "imap_user, imap_password are not set"),
    ({"smtp_host": None}, "smtp_host is not set, so replies could not go out"),
    ({"imap_user": "orders", "from_address": None}, "from_address is not set"),
    ({"imap_user": "orders", "from_address": "orders@factory.example"}, None),
])
def test_the_channel_says_why_it_does_not_read_the_mailbox(settings, changes, problem):
    said = mailbox_problem(_with(settings, **{**COMPLETE, **changes}).email)
    assert (said is None) if problem is None else (problem in said)


async def test_the_channel_always_sends_and_reads_the_mailbox_only_when_configured(settings, caplog, db):
    from bot import app

    caplog.set_level(logging.INFO, "adapters.email")
    [channel] = [c for c in app.build_channels(settings, lambda msg: []) if c.name == "email"]
    await channel.startup()
    assert channel.watcher is None and "the mailbox is not read (enabled = false)" in caplog.text
    assert "to the dev mailbox" in caplog.text
    assert (await channel.send(Target("email", CONTACT), Reply("发货了"))).ok, "SMTP or not, mail goes out"
    [channel] = [c for c in app.build_channels(_with(settings, **COMPLETE)) if c.name == "email"]
    assert isinstance(channel, EmailChannel) and channel.address == "orders@factory.example"


def test_the_channel_is_an_adapter(settings):
    channel = make_channel("email", _with(settings, **COMPLETE))
    assert channel.name == "email" and channel.routes == ()


# ---------------------------------------------------------------- the loop guard
def headers_mail(headers: dict, content_type: str | None = None) -> EmailMessage:
    m = EmailMessage()
    for name, value in {"From": CONTACT, "Subject": "hi", **headers}.items():
        if value is not None:
            m[name] = value
    m.set_content("where is my order")
    if content_type:
        m.replace_header("Content-Type", content_type)
    return m


DSN = (b"From: Mail Delivery System <bounces@mx.buyer.example>\r\nTo: orders@factory.example\r\n"
       b"Subject: Delivery Status Notification (Failure)\r\nMessage-ID: <dsn1@mx.buyer.example>\r\n"
       b"MIME-Version: 1.0\r\n"
       b'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
       b"--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
       b"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.buyer.example\r\n\r\n"
       b"Final-Recipient: rfc822; nobody@buyer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
       b"--b1--\r\n")


GUARD = [
    ("a person", {}, True),
    ("Auto-Submitted: no", {"Auto-Submitted": "no"}, True),
    ("Auto-Submitted: auto-replied", {"Auto-Submitted": "auto-replied"}, False),
    ("Auto-Submitted: auto-generated", {"Auto-Submitted": "auto-generated"}, False),
    ("Auto-Submitted with a comment", {"Auto-Submitted": "auto-notified; owner-email=a@b"}, False),
    ("Return-Path <>", {"Return-Path": "<>"}, False),
    ("Return-Path of a person", {"Return-Path": f"<{CONTACT}>"}, True),
    ("empty Sender", {"Sender": "<>"}, False),
    ("MAILER-DAEMON", {"From": "MAILER-DAEMON@mx.buyer.example"}, False),
    ("postmaster", {"From": "Postmaster <postmaster@buyer.example>"}, False),
    ("no-reply sender", {"From": "no-reply@shop.example"}, False),
    ("list owner", {"From": "owner-buyers@lists.example"}, False),
    ("Precedence: bulk", {"Precedence": "bulk"}, False),
    ("Precedence: list", {"Precedence": "list"}, False),
    ("Precedence: junk", {"Precedence": "junk"}, False),
    ("Precedence: first-class", {"Precedence": "first-class"}, True),
    ("List-Id", {"List-Id": "<buyers.lists.example>"}, False),
    ("List-Unsubscribe", {"List-Unsubscribe": "<mailto:leave@lists.example>"}, False),
    ("List-Post", {"List-Post": "<mailto:buyers@lists.example>"}, False),
    ("our own mail", {"From": "Orders <ORDERS@factory.example>"}, False),
    ("X-Autoreply", {"X-Autoreply": "yes"}, False),
    ("X-Autorespond", {"X-Autorespond": "Out of office"}, False),
    ("X-Auto-Response-Suppress: All", {"X-Auto-Response-Suppress": "All"}, False),
    ("X-Auto-Response-Suppress: DR", {"X-Auto-Response-Suppress": "DR"}, True),
    ("X-Failed-Recipients", {"X-Failed-Recipients": CONTACT}, False),
    ("read receipt", {}, False),  # content type below
    ("no From", {"From": None}, False),
    ("From without an address", {"From": "undisclosed-recipients:;"}, False),
]


@pytest.mark.parametrize("why, headers, answer", GUARD, ids=[row[0] for row in GUARD])
def test_the_loop_guard(why, headers, answer):
    content_type = ('multipart/report; report-type=disposition-notification; boundary="x"'
                    if why == "read receipt" else None)
    msg = headers_mail(headers, content_type)
    assert should_answer(msg, BOT) is answer
    assert (refusal(msg, [BOT]) is None) is answer


def test_a_delivery_status_notification_is_not_answered(channel, caplog):
    caplog.set_level(logging.DEBUG, LOG)
    msg = message_from_bytes(DSN, policy=policy.default)
    assert not should_answer(msg, BOT) and "bounce" in refusal(msg, [BOT])
    assert channel.parse(DSN) is None and "bounce" in caplog.text


# ---------------------------------------------------------------- parse
@pytest.fixture
def channel(settings):
    return make_channel("email", _with(settings, **COMPLETE, from_address=BOT))


def test_parse_reads_who_wrote_what(channel, caplog):
    caplog.set_level(logging.DEBUG, LOG)
    raw = mail(sender="Zhang San <Zhang@Buyer.Example>", subject="order", body=f"where is {NO}?", mid="<m1@b.example>")
    msg = channel.parse(raw)
    assert (msg.channel, msg.sender_id, msg.chat_id, msg.message_id) == ("email", CONTACT, CONTACT, "<m1@b.example>")
    assert msg.text == f"order\nwhere is {NO}?" and not msg.is_group
    assert isinstance(msg.raw, EmailMessage) and msg.raw["Subject"] == "order"
    assert not caplog.records, "a good mail is not logged"


def test_parse_without_a_message_id_uses_a_hash_of_the_bytes(channel):
    raw = mail().replace(b"Message-ID:", b"X-Old-ID:")
    first, again, other = channel.parse(raw), channel.parse(raw), channel.parse(raw + b"more\n")
    assert first.message_id.startswith("sha256:") and first.message_id == again.message_id != other.message_id


GMAIL_HTML = (f'<div dir="ltr">Where is <b>{NO}</b>?<br>Thanks</div><br>'
              '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Nov 24, 2026 at 10:02 AM '
              f'Orders &lt;{BOT}&gt; wrote:<br></div><blockquote class="gmail_quote">SO202611239999 is late'
              '</blockquote></div>')
QQ_HTML = ('<html><head><style>p{color:red}</style></head><body><div>订单到哪了？</div><div><br></div>'
           '<div style="font-size:12px">------------------&nbsp;原始邮件&nbsp;------------------</div>'
           '<div><b>发件人:</b>&nbsp;"Orders"&lt;orders@factory.example&gt;;</div>'
           '<div><b>发送时间:</b>&nbsp;2026年11月24日(星期一) 上午10:02</div><div>SO202611239999</div></body></html>')
OUTLOOK_HTML = ('<html><body><div>Still waiting for it.</div><hr><div id="divRplyFwdMsg"><b>From:</b> Orders<br>'
                '<b>Sent:</b> Monday<br>SO202611239999</div><script>alert(1)</script></body></html>')

PARSED = [
    ("plain", {"subject": "Re:", "body": f"where is {NO}?"}, f"where is {NO}?", NO),
    ("html only, Gmail quote", {"subject": "", "body": None, "html": GMAIL_HTML}, f"Where is {NO}?\nThanks", NO),
    ("html only, QQ quote", {"subject": "", "body": None, "html": QQ_HTML}, "订单到哪了？", None),
    ("html only, Outlook quote", {"subject": "", "body": None, "html": OUTLOOK_HTML}, "Still waiting for it.", None),
    ("> quotes", {"subject": "", "body": f"{NO} please\n> SO202611239999 was shipped\n>> older"}, f"{NO} please", NO),
    ("Gmail English", {"subject": "", "body": f"Any news on {NO}?\n\nOn Mon, Nov 24, 2026 at 10:02 AM Orders "
                                            f"<{BOT}> wrote:\n\n> SO202611239999 is in production."},
     f"Any news on {NO}?", NO),
    ("Gmail English, wrapped", {"subject": "", "body": f"and {NO}?\n\nOn Mon, Nov 24, 2026 at 10:02 AM Factory "
                                                     f"Orders Department <\n{BOT}> wrote:\n\nSO202611239999 is late"},
     f"and {NO}?", NO),
    ("Outlook English", {"subject": "", "body": "Where is it now?\n\n________________________________\nFrom: Orders "
                                              f"<{BOT}>\nSent: Monday, November 24, 2026 10:02\nTo: Zhang\n"
                                              "Subject: SO202611239999\nold text"}, "Where is it now?", None),
    ("Original Message", {"subject": "", "body": f"Please check {NO}\n-----Original Message-----\nFrom: a\n"
                                               "SO202611239999"}, f"Please check {NO}", NO),
    ("QQ 原始邮件", {"subject": "", "body": f"订单{NO}到哪了？\n\n------------------ 原始邮件 ------------------\n"
                                          '发件人: "Orders"<orders@factory.example>;\n发送时间: 2026年11月24日(星期一) '
                                          "上午10:02\n主题: SO202611239999\n旧的内容"}, f"订单{NO}到哪了？", NO),
    ("Outlook 中文", {"subject": "", "body": "还没收到货\n\n发件人: Orders <orders@factory.example>\n发送时间: "
                                           "2026年11月24日 10:02\n收件人: 张三\n主题: 订单 SO202611239999"},
     "还没收到货", None),
    ("Outlook 中文 -----原始邮件-----", {"subject": "", "body": "谢谢\n-----原始邮件-----\n发件人: x\nSO202611239999"},
     "谢谢", None),
    ("Gmail 中文", {"subject": "", "body": f"{NO}呢？\n\nOrders <{BOT}> 于2026年11月24日周一 10:02写道：\n\n"
                                         "> SO202611239999"}, f"{NO}呢？", NO),
    ("Foxmail 在…写道", {"subject": "", "body": f"{NO}呢？\n\n在 2026-11-24 10:02:00，\"Orders\" <{BOT}> 写道：\n"
                                                "SO202611239999"}, f"{NO}呢？", NO),
    ("full-width", {"subject": "", "body": "ＳＯ２０２６１１２４００４２　到哪了？\n\n在２０２６年１１月２４日，Ｏｒｄｅｒｓ写道：\n旧"},
     "ＳＯ２０２６１１２４００４２　到哪了？", NO),
    ("subject with the order number", {"subject": f"Re: 回复: where is {NO}", "body": "any news?"},
     f"where is {NO}\nany news?", NO),
    ("subject already in the body", {"subject": NO, "body": f"{NO} please"}, f"{NO} please", NO),
    ("a placeholder subject", {"subject": "(no subject)", "body": "hi"}, "hi", None),
    ("signature", {"subject": "", "body": f"{NO}?\n-- \nZhang San\nSO202611239999 Ltd"}, f"{NO}?", NO),
]


@pytest.mark.parametrize("why, parts, text, ref", PARSED, ids=[row[0] for row in PARSED])
def test_parse_keeps_only_the_new_text(channel, why, parts, text, ref):
    msg = channel.parse(mail(**parts))
    assert msg.text == text
    refs = list(Parser().parse(msg.text).order_refs)
    assert refs == ([ref] if ref else []), "an order number quoted from an old mail is not read"


def test_parse_reads_gb2312_mail(channel):
    raw = (f"From: {CONTACT}\r\nSubject: =?gb2312?b?tqm1pQ==?=\r\nMessage-ID: <gb@buyer.example>\r\n"
           "Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").encode()
    msg = channel.parse(raw + f"{NO}到哪了？镕".encode("gb18030"))
    assert msg.text == f"订单\n{NO}到哪了？镕"


def test_a_long_body_is_read_without_trouble(channel):
    body = f"where is {NO}?\n" + ("这是一封很长的邮件。" * 10 + "\n") * 200
    assert len(body) > 20_000
    started = time.monotonic()
    msg = channel.parse(mail(subject="", body=body))
    assert msg.text.startswith(f"where is {NO}?") and len(msg.text) > 20_000
    assert time.monotonic() - started < 1
    quoted = channel.parse(mail(subject="", body="ok\n" + "> old line\n" * 2_000 + "On x wrote:\n" * 2_000))
    assert quoted.text == "ok"


MULTIPART_WITHOUT_BOUNDARY = (f"From: {CONTACT}\r\nMessage-ID: <b1@buyer.example>\r\nSubject: {NO}\r\n"
                              "Content-Type: multipart/mixed\r\n\r\nwhere is it\r\n").encode()
BOUNDARY_NEVER_SEEN = (f"From: {CONTACT}\r\nMessage-ID: <b2@buyer.example>\r\n"
                       'Content-Type: multipart/alternative; boundary="zzz"\r\n\r\n'
                       f"where is {NO}\r\n").encode()
BAD_BASE64 = (f"From: {CONTACT}\r\nMessage-ID: <b3@buyer.example>\r\nContent-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: base64\r\n\r\nd2hlcmUgaXMg=!!==U0\r\n").encode()
UNKNOWN_CHARSET = (f"From: {CONTACT}\r\nMessage-ID: <b4@buyer.example>\r\n"
                   f"Content-Type: text/plain; charset=x-klingon\r\n\r\nwhere is {NO}\r\n").encode()
BROKEN_SUBJECT = f"From: {CONTACT}\r\nMessage-ID: <b5@buyer.example>\r\nSubject: =?utf-8?q?caf=C3?=\r\n\r\nhi\r\n"

BAD_INPUT = [
    ("multipart without a boundary", MULTIPART_WITHOUT_BOUNDARY, "message"),
    ("a boundary that never comes", BOUNDARY_NEVER_SEEN, "message"),
    ("broken base64", BAD_BASE64, "message"),
    ("an unknown charset", UNKNOWN_CHARSET, "message"),
    ("a broken encoded subject", BROKEN_SUBJECT.encode(), "message"),
    ("empty body", f"From: {CONTACT}\r\nMessage-ID: <b6@buyer.example>\r\n\r\n".encode(), "message"),
    ("a body line among the headers", f"From: {CONTACT}\r\nSubject: hi\r\nnot a header\r\n".encode(), "message"),
    ("binary garbage", bytes(range(256)) * 8, None),
    ("NUL bytes", b"\x00" * 100 + b"From: \x00\r\n\r\n\x00\x00", None),
    ("no sender", b"Subject: where is SO202611240042\r\n\r\nhello\r\n", None),
    ("nothing", b"", None),
    ("whitespace", b"\r\n \r\n", None),
    ("not bytes", None, None),
    ("a number", 42, None),
]


@pytest.mark.parametrize("why, raw, result", BAD_INPUT, ids=[row[0] for row in BAD_INPUT])
def test_bad_input_neither_crashes_nor_goes_unlogged(channel, caplog, why, raw, result):
    caplog.set_level(logging.DEBUG, LOG)
    msg = channel.parse(raw)
    assert (msg is None) is (result is None)
    if msg is not None:
        assert msg.sender_id == CONTACT and isinstance(msg.text, str)
    assert len([r for r in caplog.records if r.name == LOG]) == 1, "logged once"


def test_a_str_is_read_as_its_bytes(channel):
    assert channel.parse(mail().decode()).sender_id == STRANGER


# ---------------------------------------------------------------- is the From proven?
OURS = "mx.factory.example"  # the receiving server's authserv-id in these rows
PASS = f"{OURS}; dkim=pass header.d=buyer.example; dmarc=pass header.from=buyer.example"

# (why, From, Authentication-Results topmost first, [email] authserv_id, authenticated); real
# servers' headers are in tests/data/payloads/email_authentication_results.json.
AUTHENTICATION = [
    ("no header", CONTACT, [], None, False),
    ("dkim and dmarc pass", CONTACT, [PASS], None, True),
    ("dkim=pass header.d", CONTACT, [f"{OURS}; dkim=pass header.d=buyer.example"], None, True),
    ("dkim=pass header.i", CONTACT, [f"{OURS}; dkim=pass header.i=@buyer.example"], None, True),
    ("dkim=pass header.i with a local part", CONTACT, [f"{OURS}; dkim=pass header.i=zhang@buyer.example"], None, True),
    ("dkim=fail", CONTACT, [f"{OURS}; dkim=fail header.d=buyer.example"], None, False),
    ("dkim=pass for another domain", CONTACT, [f"{OURS}; dkim=pass header.d=other.example"], None, False),
    ("dkim=pass for a parent domain", "zhang@mail.buyer.example", [f"{OURS}; dkim=pass header.d=buyer.example"],
     None, True),
    ("dkim=pass for a subdomain of the From's", CONTACT, [f"{OURS}; dkim=pass header.d=mail.buyer.example"], None,
     False),
    ("dkim=pass for a name that only ends alike", CONTACT, [f"{OURS}; dkim=pass header.d=evilbuyer.example"], None,
     False),
    ("dkim=pass for a top-level domain", CONTACT, [f"{OURS}; dkim=pass header.d=example"], None, False),
    ("dkim=pass without a signing domain", CONTACT, [f"{OURS}; dkim=pass header.s=sel"], None, False),
    ("dmarc=pass", CONTACT, [f"{OURS}; dmarc=pass header.from=buyer.example"], None, True),
    ("dmarc=pass for another domain", CONTACT, [f"{OURS}; dmarc=pass header.from=other.example"], None, False),
    ("dmarc=pass for the parent of the From's domain", "zhang@mail.buyer.example",
     [f"{OURS}; dmarc=pass header.from=buyer.example"], None, False),
    ("dmarc=fail", CONTACT, [f"{OURS}; dmarc=fail header.from=buyer.example"], None, False),
    ("spf=pass alone", CONTACT, [f"{OURS}; spf=pass smtp.mailfrom=buyer.example"], None, False),
    ("upper case", CONTACT, [f"{OURS.upper()}; DKIM=PASS Header.D=Buyer.Example."], None, True),
    ("a method version and a reason", CONTACT,
     [f'{OURS} 1; dkim/1=pass reason="good; signature" header.d=buyer.example'], None, True),
    ("none", CONTACT, [f"{OURS}; none"], None, False),
    ("a pass inside a comment", CONTACT, [f"{OURS}; arc=pass (dkim=pass header.d=buyer.example)"], None, False),
    ("a pass inside a quoted string", CONTACT,
     [f'{OURS}; spf=pass smtp.mailfrom="a; dkim=pass header.d=buyer.example"'], None, False),
    ("a pass after junk", CONTACT, [f"{OURS}; junk dkim=pass header.d=buyer.example"], None, False),
    ("forged below a failing one", CONTACT, [f"{OURS}; dkim=fail header.d=buyer.example", PASS], None, False),
    ("forged below, ours passes", CONTACT, [PASS, f"{OURS}; dkim=fail header.d=buyer.example"], None, True),
    ("authserv_id: ours below another server's", CONTACT, ["mx.relay.example; dkim=none", PASS], OURS, True),
    ("authserv_id: any of ours passing", CONTACT, [f"{OURS}; spf=pass smtp.mailfrom=buyer.example", PASS],
     OURS.upper(), True),
    ("authserv_id: nothing of ours", CONTACT, [PASS.replace(OURS, "mx.attacker.example")], OURS, False),
    ("authserv_id: ours fails, a forged one of another server passes", CONTACT,
     [f"{OURS}; dkim=fail", PASS.replace(OURS, "mx.google.com")], OURS, False),
    ("no authserv-id (Microsoft 365) with authserv_id set", CONTACT, [PASS.replace(f"{OURS}; ", "")], OURS, False),
    ("two From headers", f"{CONTACT}\r\nFrom: {STRANGER}", [PASS], None, False),
    ("two addresses in From", f"{CONTACT}, {STRANGER}", [PASS], None, False),
    ("an unclosed comment", CONTACT, [f"{OURS}; dkim=pass (oops header.d=buyer.example"], None, False),
    ("a comment closed too often", CONTACT, [f"{OURS}; dkim=pass header.d=buyer.example)"], None, False),
    ("an unclosed quoted string", CONTACT, [f'{OURS}; dkim=pass header.d="buyer.example'], None, False),
    ("empty", CONTACT, [""], None, False),
    ("only semicolons", CONTACT, [";;;"], None, False),
    ("control characters and non-ASCII", CONTACT, [f"{OURS}; dkim=pass header.d=bu\x01yer.example 订单"], None,
     False),
    ("an encoded word", CONTACT, [f"=?utf-8?q?{OURS}=3B_dkim=3Dpass_header.d=3Dbuyer.example?="], None, False),
    ("very long", CONTACT, [f"{OURS}; " + "x-junk=pass; " * 5000 + "dkim=pass header.d=buyer.example"], None,
     False),
]


def authenticated_mail(sender: str, results: list[str]) -> bytes:
    on_top = "".join(f"Authentication-Results: {r}\r\n" for r in results)
    return (f"{on_top}From: {sender}\r\nTo: {BOT}\r\nSubject: cancel {NO}\r\nMessage-ID: <auth@buyer.example>\r\n"
            "\r\nplease cancel it\r\n").encode("utf-8", "surrogateescape")


@pytest.mark.parametrize("why, sender, results, authserv_id, expected", AUTHENTICATION,
                         ids=[row[0] for row in AUTHENTICATION])
def test_a_mail_is_authenticated_only_by_the_receiving_servers_own_results(settings, why, sender, results, authserv_id,
                                                                         expected):
    channel = make_channel("email", _with(settings, authserv_id=authserv_id))
    msg = channel.parse(authenticated_mail(sender, results))
    assert msg is not None and msg.authenticated is expected


def test_trust_unauthenticated_counts_every_mail_as_authenticated(settings):
    raw = authenticated_mail(CONTACT, [f"{OURS}; dkim=fail header.d=buyer.example"])
    assert not make_channel("email", settings).parse(raw).authenticated, "the default: trust no unproven From"
    assert make_channel("email", _with(settings, trust_unauthenticated=True)).parse(raw).authenticated


@pytest.mark.parametrize("value, expected", [("MX.Factory.Example ", "mx.factory.example"), ("", None), (" ", None)])
def test_authserv_id_comes_from_the_environment_too(monkeypatch, value, expected):
    monkeypatch.setenv("ORDERBOT_EMAIL__AUTHSERV_ID", value)
    monkeypatch.setenv("ORDERBOT_EMAIL__TRUST_UNAUTHENTICATED", "true")
    email = load_settings(None, security={"secret_key": SECRET}).email
    assert email.authserv_id == expected and email.trust_unauthenticated is True


# ---------------------------------------------------------------- subjects
@pytest.mark.parametrize("subject, expected", [
    ("where is my order", "Re: where is my order"),
    ("Re: where is my order", "Re: where is my order"),
    ("RE: Re: re[2]: where", "Re: where"),
    ("回复：订单进度", "Re: 订单进度"),
    ("答复: Re: 订单进度", "Re: 订单进度"),
    ("Fwd: where", "Re: Fwd: where"),
    ("", "Re: (no subject)"),
    (None, "Re: (no subject)"),
    ("line\r\n folded", "Re: line folded"),
])
def test_reply_subjects(subject, expected):
    assert reply_subject(subject) == expected
