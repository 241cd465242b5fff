"""Whether a mail's From is proven: the receiving server's ``Authentication-Results`` (RFC 8601).

A From header is whatever the sender typed. A receiving server that checks DKIM and DMARC
writes what it found into an ``Authentication-Results`` header on top of the mail. A mail
counts as authenticated when there DKIM passed for the From's domain or a parent of it
(``header.d``, else ``header.i``: relaxed alignment), or DMARC passed for the From's domain
(``header.from``). A sender can write such headers into the mail too, so only our server's
count: those naming ``[email] authserv_id`` when it is set, else the topmost one alone (the
last added). Microsoft 365 writes no authserv-id at all; its header is the topmost too.

``authres`` on PyPI (last release 2019) refuses Microsoft's headers and a trailing ``;``,
hence this small reader: comments and quoted strings as RFC 5322 reads them, then
``method=result`` and ``ptype.property=value`` pairs. What it cannot read proves nothing;
it never raises.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses

HEADER = "authentication-results"
MAX_LENGTH = 16_000  # characters of one header; real ones stay under 2,000
# method=result, reason=..., ptype.property=value: a value is a quoted string or runs to a space or ";".
_PAIR = re.compile(r'([A-Za-z0-9][\w./-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s";]+)')


class Unreadable(ValueError):
    """A header whose comments or quoted strings do not close."""


@dataclass(frozen=True)
class Result:
    """One ``method=result`` with its properties (``header.d`` → ``example.com``), all lower-case."""

    method: str
    result: str
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Results:
    """One header: who wrote it ("" when it names nobody) and what it found."""

    authserv_id: str
    results: tuple[Result, ...]


def _segments(text: str) -> list[str]:
    """``text`` split at ``;`` outside quoted strings, with every comment made a space."""
    segments, out, depth, quoted, i = [], [], 0, False, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and (quoted or depth):  # a quoted pair: the next character is taken as it is
            if not depth:
                out.append(text[i:i + 2])
            i += 2
            continue
        if depth:
            depth += {"(": 1, ")": -1}.get(c, 0)
            if not depth:
                out.append(" ")
        elif quoted:
            out.append(c)
            quoted = c != '"'
        elif c == "(":
            depth = 1
        elif c == ")":
            raise Unreadable("a comment closed that was never opened")
        elif c == ";":
            segments.append("".join(out))
            out = []
        else:
            out.append(c)
            quoted = c == '"'
        i += 1
    if depth or quoted:
        raise Unreadable("a comment or a quoted string is not closed")
    return [*segments, "".join(out)]


def _unquote(value: str) -> str:
    if len(value) > 1 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _result(segment: str) -> Result | None:
    """One resinfo; None for what is none (Microsoft's bare ``hotmail.com``, ``none``, junk)."""
    segment = segment.strip()
    if not _PAIR.match(segment):
        return None
    (method, result), *rest = _PAIR.findall(segment)
    properties: dict[str, str] = {}
    for name, value in rest:
        properties.setdefault(name.lower(), _unquote(value).lower())
    return Result(method.split("/")[0].strip().lower(), _unquote(result).lower(), properties)


def parse(value: str) -> Results:
    """One header's value (unfolded or not); raises ``Unreadable`` for what cannot be read."""
    if len(value) > MAX_LENGTH:
        raise Unreadable(f"longer than {MAX_LENGTH} characters")
    first, *rest = _segments(value.replace("\r", " ").replace("\n", " "))
    if _PAIR.match(first.strip()):  # no authserv-id: Microsoft 365 starts with its first result
        authserv_id, rest = "", [first, *rest]
    else:
        words = first.split()
        authserv_id = _unquote(words[0]).lower() if words else ""
    return Results(authserv_id, tuple(r for r in map(_result, rest) if r is not None))


def _parent_or_same(signer: str, domain: str) -> bool:
    signer = signer.rstrip(".")
    return "." in signer and (domain == signer or domain.endswith("." + signer))


def _proves(result: Result, domain: str) -> bool:
    if result.result != "pass":
        return False
    if result.method == "dkim":
        signer = result.properties.get("header.d") or result.properties.get("header.i", "").rpartition("@")[2]
        return _parent_or_same(signer, domain)
    if result.method == "dmarc":
        return result.properties.get("header.from", "").rpartition("@")[2].rstrip(".") == domain
    return False


def from_domain(msg: Message) -> str | None:
    """The domain of the one address of the one From header; None when there is not exactly one."""
    froms = msg.get_all("From") or []
    addresses = [a for _, a in getaddresses([str(f) for f in froms]) if a] if len(froms) == 1 else []
    if len(addresses) != 1 or "@" not in addresses[0]:
        return None
    return addresses[0].rpartition("@")[2].strip().rstrip(".").lower() or None


@dataclass(frozen=True)
class SenderCheck:
    """How this mailbox proves a From: ``[email] authserv_id`` and ``trust_unauthenticated``."""

    authserv_id: str | None = None
    trust_unauthenticated: bool = False

    def _ours(self, msg: Message) -> Iterator[Results]:
        values = [str(v) for k, v in msg.raw_items() if k.lower() == HEADER]
        for value in values if self.authserv_id else values[:1]:
            try:
                found = parse(value)
            except Unreadable:
                continue
            if not self.authserv_id or found.authserv_id == self.authserv_id.lower():
                yield found

    def authenticated(self, msg: Message) -> bool:
        """True when our receiving server proved the From (or ``trust_unauthenticated`` says to believe it)."""
        if self.trust_unauthenticated:
            return True
        try:
            domain = from_domain(msg)
            return domain is not None and any(_proves(r, domain) for found in self._ours(msg) for r in found.results)
        except Exception:  # noqa: BLE001 - a mail too broken to read proves nothing, and must still be answered
            return False
