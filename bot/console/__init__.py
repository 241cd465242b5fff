"""The staff console and the customer progress page: server-rendered pages on the service's app.

Jinja2 templates (``templates/``, autoescaped: what customers and orders hold is shown as
text), htmx for partial updates and ECharts for charts, both shipped in ``static/vendor``
(no CDN: the console works on a LAN without internet). A page module holds its handlers,
its words (``words.add``) and ``routes()``; it joins by one line in ``PAGES``. Pages reach
the rest only through ``models`` and ``bot.conversation`` (view policy, cards, texts).
"""
from __future__ import annotations

import logging
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.console import front, hooks, imports, inbox, order, orders, people, progress, signin, today
from bot.console.common import CONSOLE, Console, not_found, plain

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
PAGES = [front, signin, today, orders, order, inbox, people, hooks, imports, progress]
YEAR = 365 * 24 * 3600

# Inline scripts are never needed (charts read their data from attributes), so none may run.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https: http:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
OURS = ("/console", "/t/", "/api/docs")


def _ours(path: str) -> bool:
    return path == "/" or path.startswith(OURS)


@web.middleware
async def headers(request: web.Request, handler):
    path = request.path
    try:
        response = await handler(request)
    except web.HTTPException as e:
        if e.status < 400 or not _ours(path) or path.startswith("/console/static/"):
            raise
        # A person reads these pages: a plain page, not the API's JSON error.
        response = not_found(request) if e.status == 404 else plain(request, "forbidden", "bad_request", e.status)
    except Exception:
        if not _ours(path):
            raise
        log.exception("unhandled error on %s %s", request.method, path)
        response = plain(request, "oops", "oops.why", 500)
    if path.startswith("/console/static/"):
        if "v" in request.query:  # a versioned URL never changes
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    elif _ours(path):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def setup(app: web.Application, console: Console) -> None:
    """Mount the console's pages, templates and static files on ``app``."""
    app[CONSOLE] = console
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                         autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                         undefined=jinja2.StrictUndefined)
    app.middlewares.append(headers)
    app.router.add_static("/console/static", STATIC, name="console-static", append_version=True)
    for page in PAGES:
        app.router.add_routes(page.routes())
