"""A browser's view of the web chat for tests: visitors with their own cookies, a served site."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp.test_utils import TestServer

from adapters.web import WebChat
from adapters.web.cookies import COOKIE
from bot.app import build_app, make_channel
from bot.conversation.inbound import Inbound
from tests.kit.base import Bot
from tests.kit.story import EMAIL


class Visitor:
    """One browser: its own cookie jar, and the chat's origin on every request (as a browser sends it)."""

    def __init__(self, base: str, *, origin: str | None = "same", language: str = "zh-CN,zh;q=0.9") -> None:
        self.base = base
        self.origin = base if origin == "same" else origin
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             headers={"Accept-Language": language})
        self._n = 0

    def headers(self) -> dict[str, str]:
        return {"Origin": self.origin} if self.origin else {}

    async def post(self, body=None, *, raw: bytes | None = None, query: str = ""):
        kw = {"data": raw} if raw is not None else {"json": body}
        async with self.session.post(f"{self.base}/chat/api/messages{query}", headers=self.headers(), **kw) as r:
            return r.status, await r.json(content_type=None)

    async def say(self, text: str, msg_id: str | None = None) -> str:
        """Send ``text``; the bot's answer (every reply's text joined)."""
        self._n += 1
        status, data = await self.post({"text": text, "id": msg_id or f"m{self._n}"})
        assert status == 200, data
        return "\n".join(r["text"] for r in data["replies"])

    @property
    def visitor_id(self) -> str | None:
        cookie = self.session.cookie_jar.filter_cookies(f"{self.base}/chat").get(COOKIE)
        return cookie.value.split(".")[0] if cookie else None

    async def close(self) -> None:
        await self.session.close()


@dataclass
class Site:
    """The whole service, web chat on, served on a local port; the bot's mail goes to a real SMTP sink."""

    base: str
    bot: Bot
    chat: WebChat
    visitors: list[Visitor]

    def visitor(self, **kw) -> Visitor:
        v = Visitor(self.base, **kw)
        self.visitors.append(v)
        return v

    async def code(self, email: str = EMAIL) -> str:
        await self.bot.sender.run_once()  # the code mail goes out after the reply
        return self.bot.mail.codes(email)[-1]


@asynccontextmanager
async def serve_site(bot: Bot, settings, engine) -> AsyncIterator[Site]:
    """The service with the web chat on a local port, wired to ``bot``'s conversation."""
    chat = make_channel("web", settings, Inbound(bot.conversation))
    server = TestServer(build_app(settings, engine, channels=[chat]), host="127.0.0.1")
    await server.start_server()
    site = Site(str(server.make_url("")).rstrip("/"), bot, chat, [])
    try:
        yield site
    finally:
        for v in site.visitors:
            await v.close()
        await server.close()
