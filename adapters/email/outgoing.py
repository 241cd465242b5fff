"""Mail the bot sends, all of it: threaded answers (``auto-replied``), notices and codes
(``auto-generated``). The one e-mail sender of the service.

Mail goes over SMTP (aiosmtplib) when ``[email] smtp_host`` is set, else into the dev
mailbox, a table that `orderbot mailbox` lists, so the whole code flow works on a fresh
machine (the demo) without a mail server. Every mail goes out as text plus a simple HTML
alternative; buttons become text lines (mail has none). SMTP failures become a
``Delivery`` that tells whether trying again can help: 4xx answers, timeouts and refused
connections can; a 5xx refusal cannot. Mail the bot sends first is paced per receiving
domain: large providers throttle or junk a sender that mails many of their users at once.
"""
from __future__ import annotations

import asyncio
import dataclasses
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from adapters.email.config import EmailSettings
from adapters.email.parsing import reply_subject
from adapters.email.subject import SHORT, clean, cut
from models.devmail import DevMail
from models.messages import Brand, Delivery, Reply

log = logging.getLogger("adapters.email")
SMTP_TIMEOUT = 20


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


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


def plain(reply: Reply, brand: Brand | None = None) -> str:
    """The reply as plain text, its buttons as lines to answer with, the company's signature below."""
    lines = [reply.text]
    if reply.buttons:
        lines.append("")
        lines += [f"- {b.label}" if b.label == b.data else f"- {b.label}: {b.data}" for b in reply.buttons]
    if reply.link:
        lines += ["", reply.link]
    lines += signature(brand)
    return "\n".join(lines)


def signature(brand: Brand | None) -> list[str]:
    """The company's name and contact after the usual "-- " separator (RFC 3676 4.3), when it has any."""
    if brand is None or not (brand.name or brand.contact()):
        return []
    return ["", "-- ", *filter(None, [brand.name, " · ".join(brand.contact())])]


def as_html(reply: Reply, brand: Brand | None = None) -> str:
    """A small HTML rendering of ``plain(reply)``; every piece of text is escaped."""
    body = html.escape(plain(Reply(reply.text, reply.buttons)))
    link = ""
    if reply.link:
        href = html.escape(reply.link, quote=True)
        link = f'<p><a href="{href}">{href}</a></p>'
    foot = ""
    if sig := signature(brand)[2:]:
        foot = ('<p style="font-family:sans-serif;color:#666;font-size:90%;border-top:1px solid #ddd;'
                'padding-top:8px">' + "<br>".join(html.escape(line) for line in sig) + "</p>")
    return ('<!doctype html><html><body><div style="font-family:sans-serif;white-space:pre-wrap">'
            f"{body}</div>{link}{foot}</body></html>")


def threading_headers(original: EmailMessage) -> dict[str, str]:
    """In-Reply-To and References that put the answer under the customer's mail (RFC 5322 3.6.4)."""
    mid = " ".join(str(original.get("Message-ID") or "").split())
    if not mid:
        return {}
    refs = " ".join(str(original.get("References") or "").split())
    return {"In-Reply-To": mid, "References": f"{refs} {mid}".strip()}


def answer_mail(to: str, original: EmailMessage, reply: Reply, brand: Brand | None = None) -> Mail:
    """The answer to ``original``, threaded under it."""
    headers = {**threading_headers(original), "Auto-Submitted": "auto-replied"}
    first = next((line.strip() for line in reply.text.splitlines() if line.strip()), "")
    return Mail(to=to, subject=reply_subject(original.get("Subject"), first), text=plain(reply, brand),
                html=as_html(reply, brand),
                headers=headers)




def prepared(mail: Mail) -> dict:
    """``mail`` as an outbox payload (``Mail(**payload)`` gives it back)."""
    return dataclasses.asdict(mail)


def notice_mail(to: str, reply: Reply, brand: Brand | None = None) -> Mail:
    """A mail the bot sends first (a notification), with the first line of the text as subject."""
    first = reply.subject or next((line.strip() for line in reply.text.splitlines() if line.strip()), "orderbot")
    subject = cut(clean(first), SHORT)
    return Mail(to=to, subject=subject, text=plain(reply, brand), html=as_html(reply, brand),
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
    """Sends mail the configured way (SMTP, else the dev mailbox); never raises, answers a ``Delivery``."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self.sender = settings.address

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

    async def deliver(self, mail: Mail) -> Delivery:
        """Send ``mail``: sent (its Message-ID), or failed and whether to try again."""
        msg = self.message(mail)
        try:
            await self._send(msg, mail)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
            return outcome(e)
        return Delivery.sent(str(msg["Message-ID"]))

    async def _send(self, msg: EmailMessage, mail: Mail) -> None:
        if not self.uses_smtp:
            await DevMail.create(to_address=msg["To"], from_address=self.sender, subject=msg["Subject"] or "",
                                 text=mail.text, headers={k: str(v) for k, v in msg.items()})
            return
        s = self.settings
        await aiosmtplib.send(
            msg, hostname=s.smtp_host, port=s.smtp_port, username=s.smtp_user,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_port == 465, start_tls=s.smtp_starttls if s.smtp_port != 465 else False,
            timeout=SMTP_TIMEOUT,
        )
