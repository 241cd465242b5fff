"""Who a web visitor is: a random id in a signed cookie, never an id the browser made up.

The cookie ``ob_visitor`` holds ``<visitor id>.<HMAC-SHA256 of it>``, keyed with
``[security] secret_key``. A missing, malformed or forged cookie gets a fresh visitor: a
visitor id is only ever one this server minted, so nobody can talk as somebody else's
chat (which may be bound to a customer) by writing its id into a cookie.

The cookie is HttpOnly and ``SameSite=Lax``; ``Secure`` when the request came over https
or ``[server] public_url`` is https. A chat page opened inside a cross-site iframe (the
widget) cannot use a Lax cookie at all — browsers do not send Lax cookies in a cross-site
frame — so there, over https, the cookie is ``SameSite=None; Secure; Partitioned``: one
identity per embedding site, kept by browsers that allow partitioned third-party cookies.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from aiohttp import web

COOKIE = "ob_visitor"
MAX_AGE = 180 * 24 * 3600  # a bound chat stays bound for half a year of not coming back
_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


@dataclass(frozen=True)
class Visitor:
    """A visitor id and whether this request minted it (then the cookie must be set)."""

    id: str
    new: bool


def _sign(secret: str, visitor_id: str) -> str:
    mac = hmac.new(secret.encode(), b"web-visitor:" + visitor_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def cookie_value(secret: str, visitor_id: str) -> str:
    return f"{visitor_id}.{_sign(secret, visitor_id)}"


def read_cookie(secret: str, value: str | None) -> str | None:
    """The visitor id in a cookie this server signed; None for anything else."""
    if not value or value.count(".") != 1:
        return None
    visitor_id, sig = value.split(".")
    if not _ID.match(visitor_id) or not hmac.compare_digest(sig.encode(), _sign(secret, visitor_id).encode()):
        return None
    return visitor_id


def visitor_of(request: web.Request, secret: str) -> Visitor:
    """The visitor of a signed cookie, else a fresh one."""
    known = read_cookie(secret, request.cookies.get(COOKIE))
    return Visitor(known, False) if known else Visitor(secrets.token_urlsafe(16), True)


def is_secure(request: web.Request, public_url: str | None) -> bool:
    return request.secure or bool(public_url and public_url.startswith("https://"))


def set_visitor_cookie(response: web.StreamResponse, request: web.Request, secret: str, visitor: Visitor,
                       *, public_url: str | None, embedded: bool = False) -> None:
    """Put the visitor's cookie on ``response`` (again: each page load renews its expiry)."""
    secure = is_secure(request, public_url)
    cross_site = embedded and secure  # SameSite=None needs Secure; over http an embed keeps Lax
    response.set_cookie(COOKIE, cookie_value(secret, visitor.id), max_age=MAX_AGE, path="/chat", httponly=True,
                        secure=secure, samesite="None" if cross_site else "Lax")
    if cross_site:
        _partition(response)


def _partition(response: web.StreamResponse) -> None:
    """Add ``Partitioned`` (CHIPS) to the cookie: http.cookies of Python 3.11 cannot write it."""
    morsel = response.cookies[COOKIE]
    header = morsel.OutputString() + "; Partitioned"
    del response.cookies[COOKIE]
    response.headers.add("Set-Cookie", header)
