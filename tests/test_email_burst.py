"""Mail arriving in bursts: every mail is answered within seconds, none waits for the next IDLE period.

A real Dovecot holds the mailbox and a real aiosmtpd takes the answers (fixtures from
``tests.kit.mail``). The IDLE period is left at its default (minutes): an answer that
comes within seconds did not wait for it.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from bot.app import build_conversation, make_channel
from bot.conversation.inbound import Inbound
from tests.kit.dovecot import Dovecot
from tests.kit.fakes import MailSink
from tests.kit.mail import NO, dovecot, email_settings, mail, message_id, order_at, until  # noqa: F401 - fixtures

BURST = 100
BURST_SECONDS = 30  # 100 mails through the whole conversation on a busy 2-core machine; the bug took 28 minutes
QUESTIONS = ["hello", "你好", f"where is {NO}?", "我的订单到哪了", "can I talk to a person?", "SO202611249999 到哪了",
             "thanks!", "订单什么时候发货"]


class Burst:
    def __init__(self, server: Dovecot, sink: MailSink, handling: list[bytes]) -> None:
        self.server, self.sink, self.handling = server, sink, handling

    def answered(self, raws: list[bytes]) -> set[str]:
        """The Message-IDs among ``raws`` that have an answer in the SMTP sink."""
        asked = {message_id(raw) for raw in raws}
        return {m["In-Reply-To"] for _, m in self.sink.messages if m["Auto-Submitted"] == "auto-replied"} & asked


@pytest.fixture
async def burst(email_settings, engine, smtp, dovecot):  # noqa: F811 - fixtures from tests.kit.mail
    inbound = Inbound(build_conversation(email_settings, engine))
    handling: list[bytes] = []  # mail to put into the mailbox while the next mail is being handled

    async def answer(msg):
        if handling:
            await asyncio.to_thread(dovecot.deliver, handling.pop(0))
        return await inbound(msg)

    channel = make_channel("email", email_settings, answer)
    await channel.startup()
    await until(lambda: channel.watcher._client is not None and channel.watcher._client.has_pending_idle())
    yield Burst(dovecot, smtp[0], handling)
    await channel.shutdown()


def customers_mail(n: int) -> bytes:
    return mail(sender=f"buyer{n}@shop{n % 7}.example", subject="", body=QUESTIONS[n % len(QUESTIONS)])


async def test_a_burst_of_100_mails_is_answered_within_30_seconds(burst: Burst, engine):
    await order_at(engine)
    raws = [customers_mail(n) for n in range(BURST)]
    started = time.monotonic()
    # As a mail server hands over a burst: one after another, while the first ones are being answered.
    await asyncio.to_thread(burst.server.deliver_all, raws, 0.02)
    await until(lambda: len(burst.answered(raws)) == BURST, timeout=BURST_SECONDS, every=0.2)
    assert time.monotonic() - started < BURST_SECONDS
    await until(lambda: burst.server.unseen() == 0)


async def test_mail_arriving_while_a_batch_is_handled_is_answered_within_seconds(burst: Burst, engine):
    await order_at(engine)
    first, late = customers_mail(1), customers_mail(2)
    burst.handling.append(late)  # arrives while ``first`` is being answered: its EXISTS comes mid-batch
    started = time.monotonic()
    burst.server.deliver(first)
    await until(lambda: burst.answered([first, late]) == {message_id(first), message_id(late)}, timeout=10)
    assert time.monotonic() - started < 10
