"""Every console route, found in the application's router: none answers without a session
(except the sign-in pages, the customer progress page, the landing page and the API
document), and none changes anything on a post without the session's CSRF token."""
from __future__ import annotations

import re

import pytest

from tests.kit.base import Bot
from tests.kit.console import Desk, serve_desk

OPEN = ("/console/signin", "/console/static", "/t/", "/api/docs")
OPEN_EXACT = ("/",)


@pytest.fixture
async def desk(bot: Bot, settings, engine):
    async with serve_desk(bot, settings, engine) as d:
        yield d


def console_routes(desk: Desk) -> list[tuple[str, str]]:
    """(method, path with its parameters filled in) of every console route that needs a session."""
    found = []
    for route in desk.server.app.router.routes():
        if route.method == "HEAD" or not getattr(route.handler, "__module__", "").startswith("bot.console"):
            continue
        path = route.resource.canonical
        if path in OPEN_EXACT or path.startswith(OPEN):
            continue
        # Order numbers and ids alike: "1" fits every parameter's pattern (ids are digits).
        found.append((route.method, re.sub(r"\{[^}]+\}", "1", path)))
    return sorted(set(found))


async def test_no_console_page_or_fragment_answers_without_a_session(desk: Desk, api):
    await api.create("SO202612010001")
    routes = console_routes(desk)
    assert ("GET", "/console/") in routes and ("POST", "/console/signout") in routes
    session = await desk.client()
    for method, path in routes:
        for hx in (False, True):
            headers = {"HX-Request": "true"} if hx else {}
            async with session.request(method, desk.base + path, headers=headers, allow_redirects=False) as r:
                body = await r.text()
                if hx:
                    assert r.status == 401 and "HX-Redirect" in r.headers, (method, path)
                else:
                    assert r.status == 303 and r.headers["Location"].startswith("/console/signin"), (method, path)
                assert "SO202612010001" not in body, (method, path)


async def test_no_post_is_taken_without_the_csrf_token(desk: Desk, api):
    await api.create("SO202612010001")
    admin = await desk.member("管理员", "admin", "A001")
    session = await desk.client(admin)
    posts = [p for m, p in console_routes(desk) if m == "POST"]
    assert posts
    for path in posts:
        async with session.post(desk.base + path, data={"note": "x"}, allow_redirects=False) as r:
            assert r.status == 403, path
    async with session.get(desk.base + "/console/", allow_redirects=False) as r:
        assert r.status == 200, "refused posts did not sign anyone out"
