"""A local stand-in for Telegram's Bot API (python-telegram-bot's ``base_url`` points here).

It answers the methods the bot calls, records them, and can be told to answer 429 (with
``retry_after``) or to hand out updates to ``getUpdates``.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from aiohttp import web

TOKEN = "123456:TEST-token"
BOT = {"id": 999, "is_bot": True, "first_name": "OrderBot", "username": "order_test_bot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass
class BotApi:
    calls: list[tuple[str, dict, float]] = field(default_factory=list)
    too_many: int = 0  # answer this many sendMessage calls with 429 first
    retry_after: int = 1
    pending_updates: list[dict] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)  # chats whose user has blocked the bot
    late_first: float = 0.0  # the first sendMessage reaches "Telegram" this many seconds late (a slow network)
    runner: web.AppRunner | None = None
    base_url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await request.json() if request.content_type == "application/json" else dict(await request.post())
        params = {k: (json.loads(v) if isinstance(v, str) and v[:1] in "[{" else v) for k, v in params.items()}
        if method == "sendMessage" and self.late_first:
            late, self.late_first = self.late_first, 0.0
            await asyncio.sleep(late)
        if method == "sendMessage" and self.too_many > 0:
            self.too_many -= 1
            self.calls.append(("429", params, time.monotonic()))
            return web.json_response({"ok": False, "error_code": 429, "description": "Too Many Requests",
                                      "parameters": {"retry_after": self.retry_after}}, status=429)
        if method == "sendMessage" and str(params.get("chat_id")) in self.blocked:
            self.calls.append(("403", params, time.monotonic()))
            return web.json_response({"ok": False, "error_code": 403,
                                      "description": "Forbidden: bot was blocked by the user"}, status=403)
        self.calls.append((method, params, time.monotonic()))
        if method == "getMe":
            return web.json_response({"ok": True, "result": BOT})
        if method == "sendMessage":
            chat = int(params["chat_id"])
            return web.json_response({"ok": True, "result": {
                "message_id": len(self.calls), "date": int(time.time()), "text": params.get("text", ""),
                "chat": {"id": chat, "type": "private" if chat > 0 else "group"}}})
        if method == "getUpdates":
            if not self.pending_updates:
                await asyncio.sleep(0.2)
            updates, self.pending_updates = self.pending_updates, []
            return web.json_response({"ok": True, "result": updates})
        return web.json_response({"ok": True, "result": True})

    async def start(self, port: int) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.base_url = f"http://127.0.0.1:{port}/bot"

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    def sent(self, chat_id: int | str | None = None) -> list[dict]:
        return [p for m, p, _ in self.calls if m == "sendMessage" and (chat_id is None or str(p["chat_id"]) == str(chat_id))]

    def texts(self, chat_id: int | str) -> list[str]:
        return [p["text"] for p in self.sent(chat_id)]

    async def wait_for(self, chat_id, count: int, timeout: float = 10) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.texts(chat_id)) < count:
            await asyncio.sleep(0.02)
        return self.texts(chat_id)


_update_id = 0


def update(text: str, user: int = 1001, chat: int | None = None, *, chat_type: str = "private",
           entities: list[dict] | None = None, reply_to_bot: bool = False, language: str = "zh-hans") -> dict:
    """A message Update as Telegram would post it."""
    global _update_id
    _update_id += 1
    chat_obj = {"id": chat or user, "type": chat_type}
    chat_obj.update({"first_name": f"U{user}"} if chat_type == "private" else {"title": "Sales group"})
    msg = {"message_id": _update_id, "date": int(time.time()), "chat": chat_obj, "text": text,
           "from": {"id": user, "is_bot": False, "first_name": f"U{user}", "language_code": language}}
    ents = list(entities or [])
    if text.startswith("/"):
        ents.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
    if "@order_test_bot" in text:
        ents.append({"type": "mention", "offset": text.index("@order_test_bot"), "length": len("@order_test_bot")})
    if ents:
        msg["entities"] = ents
    if reply_to_bot:
        msg["reply_to_message"] = {"message_id": 1, "date": int(time.time()), "chat": chat_obj, "text": "…",
                                   "from": {"id": BOT["id"], "is_bot": True, "first_name": "OrderBot"}}
    return {"update_id": _update_id, "message": msg}


def callback(data: str, user: int = 1001) -> dict:
    global _update_id
    _update_id += 1
    chat = {"id": user, "type": "private", "first_name": f"U{user}"}
    return {"update_id": _update_id, "callback_query": {
        "id": f"cb{_update_id}", "chat_instance": "1", "data": data,
        "from": {"id": user, "is_bot": False, "first_name": f"U{user}"},
        "message": {"message_id": 5, "date": int(time.time()), "chat": chat, "text": "card",
                    "from": {"id": BOT["id"], "is_bot": True, "first_name": "OrderBot"}}}}
