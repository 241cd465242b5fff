"""From raw RFC 822 bytes to an ``InboundMessage``: who wrote, what they wrote now, and the dedupe key."""
from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable
from email import message_from_bytes, policy
from email.message import EmailMessage, Message

from adapters.email.authresults import SenderCheck
from adapters.email.body import html_to_text, strip_quoted
from adapters.email.guard import address_of, refusal
from adapters.email.subject import SHORT, clean, cut
from models.messages import InboundMessage

log = logging.getLogger("adapters.email")
CHANNEL = "email"
# Reply and forward prefixes, in the languages the customers' mail clients speak.
_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|antw|tr|答复|回复|回覆|答覆|转发|轉寄|转寄)\s*(\[\d+\])?\s*[:：]\s*)+",
                     re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|vs|antw|答复|回复|回覆|答覆)\s*(\[\d+\])?\s*[:：]\s*)+", re.IGNORECASE)
_PLACEHOLDERS = frozenset({"", "no subject", "(no subject)", "无主题", "(无主题)", "untitled", "(untitled)"})
_GB = frozenset({"gb2312", "gbk", "x-gbk", "gb_2312-80", "euc-cn"})  # GB18030 reads all of them
MAX_SUBJECT = 200
MAX_REPLY_SUBJECT = 120  # long subjects are cut between words, "…" at the end
TOPMOST = SenderCheck()  # the default: only the topmost Authentication-Results header proves a From


def _one_line(value: object) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip()


def topic(subject: str | None) -> str:
    """The subject without "Re:", "Fwd:", "回复：" prefixes."""
    return _PREFIX.sub("", _one_line(subject))[:MAX_SUBJECT]


def reply_subject(subject: str | None, fallback: str = "") -> str:
    """"Re: " and the original subject, never "Re: Re: ", without what a broken charset left in it.

    When nothing readable is left, ``fallback`` (the answer's own first line) is the subject.
    """
    rest = clean(_REPLY_PREFIX.sub("", clean(subject)))
    if not rest.strip("?？ -_.") and fallback:
        return cut(clean(fallback), SHORT)
    return cut(f"Re: {rest or '(no subject)'}", MAX_REPLY_SUBJECT)


def decode_part(part: Message, notes: list[str] | None = None) -> str:
    """A text part's content as str, whatever its charset claims; undecodable bytes become U+FFFD."""
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    if isinstance(payload, str):
        return payload
    charset = (part.get_content_charset() or "utf-8").lower()
    charset = "gb18030" if charset in _GB else charset
    try:
        return payload.decode(charset, "replace")
    except LookupError:  # a charset Python does not know
        if notes is not None:
            notes.append(f"unknown charset {charset!r}")
        return payload.decode("utf-8", "replace")


def body_text(msg: EmailMessage, notes: list[str] | None = None) -> str:
    """The readable body: the plain part, else the HTML part as text ("" when there is neither)."""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001 - a broken structure has no body we can find
        part = None
    if part is None:
        return ""
    text = decode_part(part, notes)
    return html_to_text(text) if part.get_content_subtype() == "html" else text


def compose_text(subject: str, body: str) -> str:
    """The text the router reads: the subject first when it adds something, then the new text."""
    about = topic(subject)
    if about.lower() in _PLACEHOLDERS:
        return body
    if unicodedata.normalize("NFKC", about).lower() in unicodedata.normalize("NFKC", body).lower():
        return body
    return f"{about}\n{body}" if body else about


def dedupe_key(msg: Message, raw: bytes) -> str:
    """The Message-ID, else a hash of the raw bytes (the same mail fetched twice gets the same key)."""
    mid = _one_line(msg.get("Message-ID"))
    return mid if mid else "sha256:" + hashlib.sha256(raw).hexdigest()


def parse_mail(raw: object, own_addresses: Iterable[str] = (), check: SenderCheck = TOPMOST) -> InboundMessage | None:
    """``raw`` RFC 822 bytes as an InboundMessage; None for mail not to answer or not readable.

    ``check`` says whether the receiving server proved the From (``authenticated``). Every
    mail that is refused or has a defect is logged once, here.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    if not isinstance(raw, (bytes, bytearray)) or not raw.strip():
        log.warning("email: empty or non-bytes input; ignored")
        return None
    raw = bytes(raw)
    try:
        msg = message_from_bytes(raw, policy=policy.default)
        key = dedupe_key(msg, raw)
        why = refusal(msg, own_addresses)
        if why:
            log.info("email %s: not answered (%s)", key, why)
            return None
        sender = address_of(msg.get("From"))
        notes: list[str] = []
        subject = msg.get("Subject")
        body = body_text(msg, notes)
        notes += [f"undecodable bytes in the {what}"
                  for what, value in (("subject", str(subject or "")), ("body", body)) if "\ufffd" in value]
        text = compose_text(str(subject or ""), strip_quoted(body))
        defects = {type(d).__name__ for part in msg.walk() for d in part.defects}
        defects |= {type(d).__name__ for h in (subject, msg.get("From")) for d in getattr(h, "defects", ())}
    except Exception as e:  # noqa: BLE001 - a mail nobody can read must not stop the mailbox
        log.warning("email: unreadable mail ignored (%s: %s)", type(e).__name__, e)
        return None
    if defects:
        notes.insert(0, f"malformed ({', '.join(sorted(defects))})")
    if not text:
        notes.append("no text")
    if notes:
        log.warning("email %s from %s: %s; answered as it reads", key, sender, "; ".join(notes))
    return InboundMessage(channel=CHANNEL, sender_id=sender, chat_id=sender, text=text, message_id=key,
                          authenticated=check.authenticated(msg), raw=msg)
