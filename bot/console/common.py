"""What every console page shares: the session, the language, CSRF, rendering, plain error pages.

- ``@staff_page`` (GET) and ``@staff_action`` (POST) let a handler run only for a signed-in,
  active staff member, put in ``request["staff"]``; without a session a page is sent to the
  sign-in page and an htmx fragment answers 401 (with ``HX-Redirect`` so htmx follows it).
  ``@staff_action`` also refuses a post without the session's CSRF token (form field ``csrf``
  or header ``X-CSRF-Token``, which ``base.html`` gives every htmx request).
- ``render(request, template, context)`` fills a template with what every page needs:
  ``_`` (the words, in the reader's language), ``lang``, ``staff``, ``csrf``, ``static``,
  ``brand``, ``now``.
- ``plain(request, title, why, status)`` is the page for a refusal, a missing page, a bad link.

The language is ``?lang=`` (kept in a cookie), else the staff member's, else the browser's.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from bot.console.words import LANGS, word
from models import console as sessions
from models.engine import ProgressEngine
from models.messages import Brand
from models.people import Role, StaffMember

COOKIE = "orderbot_console"
LANG_COOKIE = "orderbot_lang"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Console:
    """The console's share of the application: the engine, the secret, where it is served."""

    engine: ProgressEngine
    secret_key: str
    public_url: str | None
    tz: ZoneInfo
    brand: Brand = field(default_factory=Brand)
    progress_link_days: int = 30
    chat_enabled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # what later pages need, set by bot/app

    def base_url(self, request: web.Request) -> str:
        return (self.public_url or f"{request.scheme}://{request.host}").rstrip("/")


CONSOLE = web.AppKey("console", Console)


def console(request: web.Request) -> Console:
    return request.app[CONSOLE]


def now(request: web.Request) -> datetime:
    return console(request).engine.clock()


# ---------------------------------------------------------------- language
def lang(request: web.Request) -> str:
    asked = request.query.get("lang")
    if asked in LANGS:
        return asked
    kept = request.cookies.get(LANG_COOKIE)
    if kept in LANGS:
        return kept
    member: StaffMember | None = request.get("staff")
    if member is not None and member.locale in LANGS:
        return member.locale
    return browser_lang(request.headers.get("Accept-Language", ""))


def browser_lang(header: str) -> str:
    """The first of zh and en the browser names (by its q order); zh when it names neither."""
    ranked = []
    for i, part in enumerate(header.split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((-weight, i, tag.strip().lower()[:2]))
    for _, _, tag in sorted(ranked):
        if tag in LANGS:
            return tag
    return "zh"


# ---------------------------------------------------------------- CSRF
def csrf_token(secret: str, session_id: int) -> str:
    return hmac.new(secret.encode(), f"console-csrf:{session_id}".encode(), hashlib.sha256).hexdigest()[:40]


async def csrf_ok(request: web.Request) -> bool:
    expected = csrf_token(console(request).secret_key, request["session_id"])
    given = request.headers.get("X-CSRF-Token")
    if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        given = (await request.post()).get("csrf")
    return isinstance(given, str) and hmac.compare_digest(given, expected)


# ---------------------------------------------------------------- sessions
async def signed_in(request: web.Request) -> StaffMember | None:
    """The active staff member this browser is signed in as (also put in the request), or None."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 100:
        return None
    found = await sessions.session_member(token, now(request))
    if found is None:
        return None
    request["session_id"], request["staff"] = found
    return found[1]


def signin_redirect(request: web.Request) -> web.StreamResponse:
    target = "/console/signin?next=" + quote(request.path_qs, safe="")
    if request.headers.get("HX-Request"):
        return web.Response(status=401, headers={"HX-Redirect": target}, text=word("signin.ended", lang(request)))
    return web.HTTPSeeOther(target)


def staff_page(handler: Handler | None = None, *, roles: tuple[Role, ...] | None = None):
    """A page (or fragment) only a signed-in staff member sees; ``roles`` narrows who."""
    def wrap(h: Handler) -> Handler:
        @functools.wraps(h)
        async def run(request: web.Request) -> web.StreamResponse:
            member = await signed_in(request)
            if member is None:
                return signin_redirect(request)
            if roles is not None and member.role not in roles:
                return plain(request, "forbidden", "forbidden.role", 403)
            return await h(request)
        return run
    return wrap(handler) if handler is not None else wrap


def staff_action(handler: Handler | None = None, *, roles: tuple[Role, ...] | None = None):
    """A post only a signed-in staff member may make, with the session's CSRF token."""
    def wrap(h: Handler) -> Handler:
        @functools.wraps(h)
        async def run(request: web.Request) -> web.StreamResponse:
            member = await signed_in(request)
            if member is None:
                return signin_redirect(request)
            if not await csrf_ok(request):
                return plain(request, "forbidden", "forbidden.csrf", 403)
            if roles is not None and member.role not in roles:
                return plain(request, "forbidden", "forbidden.role", 403)
            return await h(request)
        return run
    return wrap(handler) if handler is not None else wrap


def actor(request: web.Request) -> str:
    """How the signed-in member is named in audit rows and events."""
    return request["staff"].code


# ---------------------------------------------------------------- rendering
def static_url(request: web.Request, name: str) -> str:
    return str(request.app.router["console-static"].url_for(filename=name))


def context(request: web.Request, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    language = lang(request)
    member = request.get("staff")
    c = console(request)
    base = {
        "_": lambda key, **v: word(key, language, **v),
        "lang": language,
        "other_lang": "en" if language == "zh" else "zh",
        "staff": member,
        "csrf": csrf_token(c.secret_key, request["session_id"]) if member is not None else "",
        "static": lambda name: static_url(request, name),
        "brand": c.brand,
        "now": c.engine.clock().astimezone(c.tz),
        "path": request.path,
        "chat_enabled": c.chat_enabled,
    }
    base.update(extra or {})
    return base


def render(request: web.Request, template: str, extra: dict[str, Any] | None = None, *, status: int = 200
           ) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, context(request, extra), status=status)
    if "lang" in request.query and request.query["lang"] in LANGS:
        response.set_cookie(LANG_COOKIE, request.query["lang"], max_age=365 * 24 * 3600, samesite="Lax",
                            httponly=True, path="/")
    return response


def plain(request: web.Request, title: str, why: str, status: int, **values: object) -> web.Response:
    """A plain page saying what went wrong (``title`` and ``why`` are word keys)."""
    if request.headers.get("HX-Request"):
        return web.Response(status=status, text=word(why, lang(request), **values))
    return render(request, "plain.html", {"title_key": title, "why_key": why, "values": values}, status=status)


def not_found(request: web.Request) -> web.Response:
    """The same answer for a page that does not exist and one that is not this reader's."""
    return plain(request, "notfound", "notfound.why", 404)
