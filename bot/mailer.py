"""Outgoing mail: SMTP through aiosmtplib when ``[email] smtp_host`` is set, else the dev mailbox.

The dev mailbox is a table that `orderbot mailbox` lists, so the whole code flow works on
a fresh machine (the demo) without a mail server.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from bot.config import EmailSettings
from models.devmail import DevMail

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 20


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Mailer:
    """Sends mail the configured way; raises on failure so the caller can decide what follows."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self.sender = settings.from_address or settings.imap_user or "orderbot@localhost"

    @property
    def uses_smtp(self) -> bool:
        return bool(self.settings.smtp_host)

    def message(self, mail: Mail) -> EmailMessage:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, mail.to, mail.subject
        msg["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or "orderbot.local")
        for name, value in mail.headers.items():
            msg[name] = value
        msg.set_content(mail.text)
        if mail.html:
            msg.add_alternative(mail.html, subtype="html")
        return msg

    async def send(self, mail: Mail) -> EmailMessage:
        """Send ``mail``; the message as sent (its Message-ID identifies it)."""
        return await self.send_message(self.message(mail), mail)

    async def send_message(self, msg: EmailMessage, mail: Mail | None = None) -> EmailMessage:
        """Send a message built elsewhere (a threaded answer), the configured way."""
        if not self.uses_smtp:
            await DevMail.create(to_address=msg["To"], from_address=self.sender, subject=msg["Subject"] or "",
                                 text=mail.text if mail else msg.get_body(("plain",)).get_content(),
                                 headers={k: str(v) for k, v in msg.items()})
            return msg
        s = self.settings
        await aiosmtplib.send(
            msg, hostname=s.smtp_host, port=s.smtp_port, username=s.smtp_user,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_port == 465, start_tls=s.smtp_starttls if s.smtp_port != 465 else False,
            timeout=SMTP_TIMEOUT,
        )
        return msg
