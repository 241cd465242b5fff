"""The Telegram channel: python-telegram-bot's ``Bot`` and ``Update`` inside our aiohttp app.

Webhook mode: ``POST /webhooks/telegram`` checks ``X-Telegram-Bot-Api-Secret-Token`` first
(constant-time; 403 and nothing stored otherwise) and handles the update in the background,
a bounded number at a time. The call waits a moment for the answer: when it is ready and
the limiter has a slot for it, it goes back as the call's response (Telegram takes a
method call there), else it is sent through the limiter like any message. Polling mode (no public URL) asks
``getUpdates`` instead, from one process at a time. In groups the bot answers only what
addresses it: a mention, a command, a reply to it, a tap on its button (privacy mode).
"""
from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

import orjson
from aiohttp import web
from telegram import Bot
from telegram.error import TelegramError

from adapters.base import Host, Occasion, Route, error_response
from adapters.telegram import updates
from adapters.telegram.config import TelegramSettings
from adapters.telegram.sender import NOTICE, REPLY, TelegramSender, keyboard_json
from adapters.telegram.transport import AiohttpRequest
from models import leases
from models.messages import Delivery, InboundMessage, Reply, Target

log = logging.getLogger(__name__)

PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WORKERS = 64  # updates handled at once
BACKLOG = 10_000  # beyond this many waiting updates, Telegram is asked to send them again later
UPDATES = ["message", "callback_query"]
POLL_LEASE = "telegram-polling"
INLINE_WAIT = 0.5  # how long a webhook call waits to carry the answer back itself


class TelegramChannel:
    """Telegram: private chats, groups by mention, inline buttons, deep links."""

    name = "telegram"

    def __init__(self, config: TelegramSettings, host: Host) -> None:
        self.config, self.public_url = config, host.public_url
        self.bot = Bot(self.config.token.get_secret_value(), base_url=self.config.base_url,
                       request=AiohttpRequest(connections=WORKERS, timeout=15),
                       get_updates_request=AiohttpRequest(connections=1, timeout=70))
        self.sender = TelegramSender(self.bot, self.config.rate_limit_per_second)
        self.routes = (Route("POST", PATH, self.webhook, "Telegram's updates (webhook mode)", auth=False,
                             tag="channels"),) if self.config.mode == "webhook" else ()
        self._on_message = host.on_message
        self._workers = asyncio.Semaphore(WORKERS)
        self._tasks: set[asyncio.Task] = set()
        self._poller: asyncio.Task | None = None
        self._bot_id: int | None = None

    # ------------------------------------------------------------ lifetime
    async def startup(self) -> None:
        try:
            await self.bot.initialize()  # getMe: the bot's id and username
        except TelegramError as e:
            log.error("telegram: getMe failed (%s); the channel will try again as it is used", e)
        else:
            self._bot_id = self.bot.id
            self.config.bot_username = self.config.bot_username or self.bot.username
            log.info("telegram: started as @%s in %s mode", self.bot.username, self.config.mode)
        if self.config.mode == "polling":
            self._poller = asyncio.get_running_loop().create_task(self._poll())
        elif (self.public_url or "").startswith("https://"):
            await self._set_webhook()

    async def _set_webhook(self) -> None:
        url = self.public_url + PATH
        try:
            await self.bot.set_webhook(url, secret_token=self.config.webhook_secret.get_secret_value(),
                                       allowed_updates=UPDATES)
            log.info("telegram: webhook set to %s", url)
        except TelegramError as e:
            log.error("telegram: setWebhook failed: %s", e)

    async def shutdown(self) -> None:
        if self._poller:
            self._poller.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)
        await self.sender.close()
        try:
            await self.bot.shutdown()
        except TelegramError:
            pass

    # ------------------------------------------------------------ inbound
    async def webhook(self, request: web.Request) -> web.StreamResponse:
        expected = self.config.webhook_secret.get_secret_value().encode()
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            log.warning("telegram: refused a webhook call with a wrong secret token from %s", request.remote)
            return error_response(403, "forbidden", "wrong secret token")
        try:
            data = await request.json(loads=orjson.loads)
        except ValueError:  # orjson.JSONDecodeError is one
            log.warning("telegram: a webhook call that is not JSON")
            return error_response(400, "malformed_json", "the body is not JSON")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            log.warning("telegram: a webhook call that is no update")
            return error_response(400, "bad_request", "not a Telegram update")
        if len(self._tasks) >= BACKLOG:
            return error_response(503, "busy", "too many updates waiting; Telegram will send this again")
        task = self._spawn(self._answers(data))
        done, _ = await asyncio.wait({task}, timeout=INLINE_WAIT)
        if task in done and not task.cancelled() and task.exception() is None:
            chat_id, replies = task.result()
            if replies and self.sender.claim_now(chat_id, replies[0]):
                # Telegram takes a method call as the answer to its webhook call: the quickest road.
                self._spawn(self._send(chat_id, replies[1:]))
                return web.Response(body=orjson.dumps(self._as_call(chat_id, replies[0])),
                                    content_type="application/json")
            self._spawn(self._send(chat_id, replies))
        else:
            task.add_done_callback(self._send_when_done)
        return web.Response(status=200)

    def _spawn(self, work) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _send_when_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is None:
            self._spawn(self._send(*task.result()))

    @staticmethod
    def _as_call(chat_id: str, reply: Reply) -> dict[str, Any]:
        call: dict[str, Any] = {"method": "sendMessage", "chat_id": chat_id, "text": reply.text}
        markup = keyboard_json(reply)
        if markup is not None:
            call["reply_markup"] = markup
        return call

    async def _send(self, chat_id: str, replies: list[Reply]) -> None:
        for reply in replies:
            await self.sender.send(chat_id, reply, REPLY)

    async def _answers(self, data: dict[str, Any]) -> tuple[str, list[Reply]]:
        """Handle one update (a bounded number at a time): the chat and what to say to it."""
        async with self._workers:
            try:
                msg = self.read(data)
                tapped = data.get("callback_query")
                if isinstance(tapped, dict) and isinstance(tapped.get("id"), str):
                    await self._answer_callback(tapped["id"])  # stops the button's spinner, even for a tap we ignore
                if msg is None:
                    return "", []
                return msg.chat_id, await self._on_message(msg)
            except Exception:  # noqa: BLE001 - one bad update must not stop the others
                log.exception("telegram: update %s could not be handled", data.get("update_id"))
                return "", []

    async def _handle(self, data: dict[str, Any]) -> None:
        """Polling: handle an update and send the answers through the sender."""
        await self._send(*await self._answers(data))

    async def _answer_callback(self, callback_id: str) -> None:
        try:
            await self.bot.answer_callback_query(callback_id)
        except TelegramError as e:
            log.info("telegram: answerCallbackQuery failed: %s", e)

    def read(self, data: dict[str, Any]) -> InboundMessage | None:
        """An update's JSON as the conversation reads it (``updates.read``); None, logged in one
        line, for an update that is not for it."""
        msg = updates.read(data, self._bot_id, self.config.bot_username)
        if msg is None:
            what = next((k for k in data if k != "update_id"), "nothing")
            log.info("telegram: update %s (%s) is not for the conversation; ignored", data.get("update_id"),
                     str(what)[:40])
        return msg

    async def _poll(self) -> None:
        """getUpdates, from the one process holding the polling lease."""
        offset, backoff = None, 1.0
        try:
            await self.bot.delete_webhook()
        except TelegramError as e:
            log.warning("telegram: deleteWebhook failed: %s", e)
        while True:
            if not await leases.take(POLL_LEASE, 90):
                await asyncio.sleep(30)
                continue
            try:
                # The JSON, not Update.de_list: one update PTB cannot read would lose the whole batch.
                batch = await self.bot._post("getUpdates", {"offset": offset, "timeout": 50,
                                                            "allowed_updates": UPDATES}, read_timeout=60)
                backoff = 1.0
            except TelegramError as e:
                log.warning("telegram: getUpdates failed (%s); again in %.0f s", e, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 300)
                continue
            for data in batch if isinstance(batch, list) else ():
                if isinstance(data, dict) and type(data.get("update_id")) is int:
                    offset = data["update_id"] + 1
                    self._spawn(self._handle(data))

    # ------------------------------------------------------------ outbound
    async def send(self, target: Target, reply: Reply, occasion: Occasion | None = None) -> Delivery:
        """A notification: through the same limiter as replies, after them."""
        return await self.sender.send(target.address, reply, NOTICE)
