"""The console for tests: the whole service on a local port, staff to sign in, a real browser.

- ``serve_desk(bot, settings, engine, channels=...)``: the application as ``orderbot serve``
  builds it (console, API, the channels given), on a loopback port.
- ``Desk.member(...)``: a staff member; ``Desk.link(member)``: a fresh sign-in link, as the
  bot or ``orderbot console-link`` hands it out.
- ``open_browser()``: Debian's Chromium through Playwright (``executable_path``; Playwright
  never downloads a browser). ``sign_in(context, desk, member)`` signs a browser context in
  the way a person does: opens the link, presses the button.
- ``shoot(page, name)`` writes the page at 1280×800 and at 390×844 under ``SHOTS``
  (``$ORDERBOT_SCREENSHOTS``, else ``tests/screenshots``), for someone to look at.
"""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from tests.kit.base import ROOT, Bot

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(os.environ.get("ORDERBOT_SCREENSHOTS") or ROOT / "tests" / "screenshots")
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-quic"]


@dataclass
class Desk:
    """The service with its console, served on a loopback port."""

    base: str
    bot: Bot
    engine: object
    server: TestServer
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    async def member(self, name: str = "李经理", role: str = "manager", code: str | None = None, *,
                     department: str | None = None, identities: dict[str, str] | None = None,
                     email: str | None = None):
        from models.people import add_staff

        return await add_staff(name, role, code, department, identities or {}, email)

    async def link(self, member) -> str:
        from models import console

        return f"{self.base}/console/signin/{await console.issue_link(member, 'test', self.engine.clock())}"

    async def client(self, member=None) -> aiohttp.ClientSession:
        """An HTTP client (its own cookies), signed in as ``member`` when one is given."""
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.sessions.append(session)
        if member is not None:
            async with session.post(await self.link(member), allow_redirects=False) as r:
                assert r.status == 303, await r.text()
        return session

    async def csrf(self, session: aiohttp.ClientSession, path: str = "/console/") -> str:
        """The CSRF token a signed-in page carries (as a form would send it back)."""
        async with session.get(self.base + path) as r:
            found = re.search(r'name="csrf" value="([0-9a-f]+)"', await r.text())
        assert found, "a signed-in page carries the CSRF token"
        return found.group(1)


@asynccontextmanager
async def serve_desk(bot: Bot, settings, engine, channels: Sequence = ()) -> AsyncIterator[Desk]:
    from bot.app import build_app

    server = TestServer(build_app(settings, engine, channels=list(channels)), host="127.0.0.1")
    await server.start_server()
    desk = Desk(str(server.make_url("")).rstrip("/"), bot, engine, server)
    try:
        yield desk
    finally:
        for s in desk.sessions:
            await s.close()
        await server.close()


@asynccontextmanager
async def open_browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    assert CHROMIUM, "Debian's chromium is not installed (apt-get install chromium)"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


async def new_context(browser, size: str = "desktop", lang: str = "zh-CN"):
    context = await browser.new_context(viewport=VIEWPORTS[size], locale=lang, device_scale_factor=1)
    context.set_default_timeout(10_000)
    return context


async def sign_in(context, desk: Desk, member):
    """A page of ``context`` signed in as ``member`` through a one-time link, on the Today page."""
    page = await context.new_page()
    await page.goto(await desk.link(member))
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{desk.base}/console/")
    return page


async def shoot(page, name: str) -> list[Path]:
    """The page as it is, at both sizes (the viewport it had is put back)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    was = page.viewport_size
    written = []
    for size, viewport in VIEWPORTS.items():
        await page.set_viewport_size(viewport)
        await page.wait_for_timeout(150)  # charts redraw on resize
        path = SHOTS / f"{name}-{viewport['width']}x{viewport['height']}.png"
        await page.screenshot(path=path, full_page=True)
        written.append(path)
    if was:
        await page.set_viewport_size(was)
    return written
