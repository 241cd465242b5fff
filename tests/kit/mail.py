"""Mail the e-mail tests build, and the mailbox they run against (shared by test_email and test_email_burst)."""
from __future__ import annotations

import asyncio
import re
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import pytest
from pydantic import SecretStr

from models.inputs import CustomerIn, EventIn, OrderIn
from tests.kit.dovecot import Dovecot, dovecot_binary

BOT = Dovecot.USER  # the bot's mailbox is also its From address
NO = "SO202611240042"
CONTACT = "zhang@buyer.example"
STRANGER = "li@other.example"
STOCKING = re.compile(r"备货|Stocking")
ASKS_CODE = re.compile(r"验证码|code", re.IGNORECASE)
LOG = "adapters.email"


# ---------------------------------------------------------------- building mail
def mail(sender: str = STRANGER, subject: str = f"where is {NO}", body: str = "Hello, any news?",
         mid: str | None = None, headers: dict | None = None, html: str | None = None) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, BOT, subject
    m["Date"] = formatdate(localtime=True)
    m["Message-ID"] = mid or make_msgid(domain="buyer.example")
    for name, value in (headers or {}).items():
        m[name] = value
    if body is not None:
        m.set_content(body)
    if html is not None:
        if body is None:
            m.set_content(html, subtype="html")
        else:
            m.add_alternative(html, subtype="html")
    return m.as_bytes()


def message_id(raw: bytes) -> str:
    return re.search(rb"^Message-ID: (.+?)\r?$", raw, re.MULTILINE | re.IGNORECASE).group(1).decode()


async def until(check, timeout: float = 10.0, every: float = 0.05):
    """Wait until ``check()`` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(every)


async def order_at(engine, node: str = "stocking", no: str = NO, email: str = CONTACT) -> None:
    await engine.create_order(OrderIn(order_no=no, customer=CustomerIn(name="张三", email=email, locale="zh"),
                                      amount="12345.67"))
    for i, n in enumerate(["approved", "paid", "stocking"]):
        await engine.apply_event(no, EventIn(event_id=f"{no}-{i}", node=n))
        if n == node:
            break


# ---------------------------------------------------------------- a mailbox, a mail server, the bot
@pytest.fixture
def dovecot(tmp_path):
    binary = dovecot_binary()
    if binary is None:
        pytest.skip("dovecot is not installed (apt-get install -y dovecot-imapd); CI installs it")
    server = Dovecot(tmp_path / "imap", binary)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def email_settings(settings, dovecot, smtp):
    _, smtp_port = smtp
    e = settings.email
    e.enabled, e.imap_host, e.imap_port, e.imap_ssl = True, "127.0.0.1", dovecot.port, False
    e.imap_user, e.imap_password = dovecot.USER, SecretStr(dovecot.PASSWORD)
    e.smtp_host, e.smtp_port, e.smtp_starttls, e.from_address = "127.0.0.1", smtp_port, False, BOT
    return settings
