"""Mail the bot sends: threaded answers (``auto-replied``) and notices (``auto-generated``).

Every mail goes out as text plus a simple HTML alternative; buttons become text lines
(mail has none). SMTP failures become a ``Delivery`` that tells whether trying again
can help: 4xx answers, timeouts and refused connections can; a 5xx refusal cannot.
"""
from __future__ import annotations

import dataclasses
import html
import logging
from email.message import EmailMessage

import aiosmtplib

from adapters.base import Delivery
from models.outbox import EMAIL_ANSWER as ANSWER  # noqa: F401 - the email channel's outbox kind
from adapters.email.parsing import reply_subject
from bot.config import EmailSettings
from bot.mailer import Mail, Mailer
from models.messages import Reply

log = logging.getLogger("adapters.email")
SUBJECT_CHARS = 60


def plain(reply: Reply) -> str:
    """The reply as plain text, its buttons as lines to answer with."""
    lines = [reply.text]
    if reply.buttons:
        lines.append("")
        lines += [f"- {b.label}" if b.label == b.data else f"- {b.label}: {b.data}" for b in reply.buttons]
    if reply.link:
        lines += ["", reply.link]
    return "\n".join(lines)


def as_html(reply: Reply) -> str:
    """A small HTML rendering of ``plain(reply)``; every piece of text is escaped."""
    body = html.escape(plain(Reply(reply.text, reply.buttons)))
    link = ""
    if reply.link:
        href = html.escape(reply.link, quote=True)
        link = f'<p><a href="{href}">{href}</a></p>'
    return ('<!doctype html><html><body><div style="font-family:sans-serif;white-space:pre-wrap">'
            f"{body}</div>{link}</body></html>")


def threading_headers(original: EmailMessage) -> dict[str, str]:
    """In-Reply-To and References that put the answer under the customer's mail (RFC 5322 3.6.4)."""
    mid = " ".join(str(original.get("Message-ID") or "").split())
    if not mid:
        return {}
    refs = " ".join(str(original.get("References") or "").split())
    return {"In-Reply-To": mid, "References": f"{refs} {mid}".strip()}


def answer_mail(to: str, original: EmailMessage, reply: Reply) -> Mail:
    """The answer to ``original``, threaded under it."""
    headers = {**threading_headers(original), "Auto-Submitted": "auto-replied"}
    return Mail(to=to, subject=reply_subject(original.get("Subject")), text=plain(reply), html=as_html(reply),
                headers=headers)




def prepared(mail: Mail) -> dict:
    """``mail`` as an outbox payload (``Mail(**payload)`` gives it back)."""
    return dataclasses.asdict(mail)


def notice_mail(to: str, reply: Reply) -> Mail:
    """A mail the bot sends first (a notification), with the first line of the text as subject."""
    first = next((line.strip() for line in reply.text.splitlines() if line.strip()), "orderbot")
    subject = first if len(first) <= SUBJECT_CHARS else first[:SUBJECT_CHARS - 1] + "…"
    return Mail(to=to, subject=subject, text=plain(reply), html=as_html(reply),
                headers={"Auto-Submitted": "auto-generated"})


def outcome(error: Exception) -> Delivery:
    """What an SMTP failure means for the sender: retry later, or give up on this recipient."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in error.recipients]
        reason = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
        return Delivery.failed(f"recipient refused: {reason}", retryable=all(400 <= c < 500 for c in codes))
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        # Our credentials, not the recipient: fixing the configuration makes a retry work.
        return Delivery.failed(f"SMTP login refused: {error.code} {error.message}", retryable=True)
    if isinstance(error, aiosmtplib.SMTPResponseException) and not isinstance(error, aiosmtplib.SMTPConnectError):
        return Delivery.failed(f"SMTP {error.code} {error.message}", retryable=not 500 <= error.code < 600)
    return Delivery.failed(f"SMTP unavailable: {type(error).__name__}: {error}", retryable=True)


class Outgoing:
    """Sends mail through ``[email] smtp_*``; never raises, answers a ``Delivery``."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self.mailer = Mailer(settings)

    def message(self, mail: Mail) -> EmailMessage:
        return self.mailer.message(mail)

    async def deliver(self, mail: Mail) -> Delivery:
        try:
            msg = await self.mailer.send(mail)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
            return outcome(e)
        return Delivery.sent(str(msg["Message-ID"]))
