"""Signing in without a password: a one-time link from the chat (or mailed), a session cookie.

``GET /console/signin/<token>`` only shows whose link it is and a button: mail scanners and
link previews fetch links, and must not use them up. The button's post opens the session.
A mailed link is asked for by address; the answer is the same whether or not anyone has it.
"""
from __future__ import annotations

import re
from datetime import timedelta

from aiohttp import web

from bot.console.common import (
    COOKIE, console, lang, now, plain, render, signed_in, staff_action, staff_page,
)
from models import audit, console as sessions
from models.messages import Target
from models.outbox import CONSOLE_LINK, DIRECT, Notice, keep
from models.people import StaffMember
from models.recipients import Recipient

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,63}$")
MAILS_PER_QUARTER = 3  # links mailed to one member in 15 minutes: enough for a lost mail, not a flood


def _next(request: web.Request) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    target = request.query.get("next", "")
    return target if target.startswith("/console") and not target.startswith("//") else "/console/"


async def signin_page(request: web.Request) -> web.StreamResponse:
    if await signed_in(request):
        raise web.HTTPSeeOther(_next(request))
    return render(request, "signin.html", {"sent": False, "error": None, "next": _next(request),
                                           "request_ended": "next" in request.query})


async def mail_link(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    address = str(form.get("email", "")).strip().lower()
    if not EMAIL.match(address):
        return render(request, "signin.html", {"sent": False, "error": "signin.bad_email", "next": "/console/",
                                               "request_ended": False},
                      status=400)
    at = now(request)
    member = await StaffMember.filter(email__iexact=address, active=True).first()
    if member is not None and await sessions.ConsoleSignin.filter(
            staff_id=member.id, via="email", created_at__gt=at - timedelta(minutes=15)).count() < MAILS_PER_QUARTER:
        token = await sessions.issue_link(member, "email", at)
        url = f"{console(request).base_url(request)}/console/signin/{token}"
        to = Target("email", address)
        await keep([Notice(f"console-link:{token[:12]}", CONSOLE_LINK, Recipient(str(to), DIRECT, to, member.locale),
                           {"name": member.name, "url": url}, None, at)])
    return render(request, "signin.html", {"sent": True, "error": None, "next": "/console/",
                                           "request_ended": False})


async def link_page(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    member = await sessions.link_holder(token, now(request)) if len(token) <= 64 else None
    if member is None:
        return _used(request)
    response = render(request, "signin_confirm.html", {"member": member, "token": token})
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's address
    return response


async def redeem(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    opened = await sessions.redeem(token, now(request), request.headers.get("User-Agent")) if len(token) <= 64 \
        else None
    if opened is None:
        return _used(request)
    session, member = opened
    await audit.acted(member.code, "console.signin", f"staff:{member.code}", None, None, at=now(request))
    response = web.HTTPSeeOther("/console/")
    response.set_cookie(COOKIE, session, max_age=sessions.SESSION_HOURS * 3600, httponly=True, samesite="Lax",
                        secure=_https(request), path="/")
    if member.locale in ("zh", "en") and "lang" not in request.query:
        response.set_cookie("orderbot_lang", lang(request), max_age=365 * 24 * 3600, httponly=True,
                            samesite="Lax", path="/")
    return response


@staff_action
async def signout(request: web.Request) -> web.StreamResponse:
    await sessions.end_session(request["session_id"], now(request))
    response = web.HTTPSeeOther("/console/signin")
    response.del_cookie(COOKIE, path="/")
    return response


@staff_action
async def signout_everywhere(request: web.Request) -> web.StreamResponse:
    member = request["staff"]
    await sessions.end_sessions(member.id, now(request))
    await audit.acted(member.code, "console.signout_all", f"staff:{member.code}", None, None, at=now(request))
    response = web.HTTPSeeOther("/console/signin")
    response.del_cookie(COOKIE, path="/")
    return response


def _https(request: web.Request) -> bool:
    public = console(request).public_url or ""
    return request.secure or public.startswith("https://")


def _used(request: web.Request) -> web.Response:
    response = plain(request, "signin.used", "signin.used_why", 404)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@staff_page
async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console/")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/console/signin", signin_page),
        web.post("/console/signin", mail_link),
        web.get("/console/signin/{token}", link_page),
        web.post("/console/signin/{token}", redeem),
        web.post("/console/signout", signout),
        web.post("/console/signout-everywhere", signout_everywhere),
        web.get("/console", root),
    ]
