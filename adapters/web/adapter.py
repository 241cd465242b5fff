"""The web chat channel: a page, a JSON API, a WebSocket and an embeddable widget.

A visitor is known by a signed cookie (``adapters.web.cookies``); their messages come in
over ``POST /chat/api/messages`` or the WebSocket ``/chat/ws`` and are answered on the
same request or socket. The bot can speak first (a notice) only while the visitor has the
page open: ``send`` pushes to the visitor's open sockets in this process. Nothing is
queued for a visitor who is away — a queue in memory would be lost on restart and would
sit in the wrong process behind a load balancer — so ``send`` answers "unreachable" and
the notifications fall back to another channel of the customer's, or retry.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from adapters.base import Host, HttpError, Occasion
from adapters.web.config import WebSettings
from adapters.web.cookies import Visitor, set_visitor_cookie, visitor_of
from adapters.web.origins import best_language, language_of, origin_allowed
from adapters.web.page import Page
from adapters.web.proxies import TrustedProxies
from adapters.web.routes import chat_routes
from adapters.web.wire import ChatMessageIn, dumps, parse_message, replies_out, reply_out
from models.messages import Delivery, InboundMessage, Reply, Target

log = logging.getLogger(__name__)
MAX_FRAME = 64 * 1024  # bytes; a frame of 4,000 characters, even all escaped, is well within


@dataclass(frozen=True)
class WebInput:
    """One message as the web chat received it, before it is an InboundMessage."""

    visitor: str
    text: str
    client_id: str | None = None
    source: str | None = None
    language: str | None = None


class WebChat:
    """The web chat channel (see the module docstring); ``routes`` documents what it mounts."""

    name = "web"

    def __init__(self, config: WebSettings, host: Host) -> None:
        self.config, self.host = config, host
        self.page = Page()
        self.routes = chat_routes(self)
        self._on_message = host.on_message
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}

    # ------------------------------------------------------------ the channel protocol
    def parse(self, raw: Any) -> InboundMessage | None:
        if not isinstance(raw, WebInput) or not raw.visitor or not raw.text.strip():
            return None
        message_id = f"{raw.visitor}:{raw.client_id}" if raw.client_id else None
        return InboundMessage(channel=self.name, sender_id=raw.visitor, chat_id=raw.visitor, text=raw.text,
                              message_id=message_id, source=raw.source, language=raw.language, raw=raw)

    async def send(self, target: Target, reply: Reply, occasion: Occasion | None = None) -> Delivery:
        """Push ``reply`` to every page the visitor has open (here); unreachable when none is."""
        if target.channel != self.name:
            return Delivery.failed(f"not a web chat target: {target}", retryable=False)
        frame = {"replies": [reply_out(reply)]}
        delivered = 0
        for ws in list(self._sockets.get(target.address, ())):
            try:
                await ws.send_json(frame, dumps=dumps)
                delivered += 1
            except (ConnectionError, RuntimeError) as e:
                log.debug("web chat: a socket of %s is gone (%s)", target.address, e)
        if not delivered:
            return Delivery.failed("visitor not connected", retryable=True, unreachable=True)
        return Delivery.sent()

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        await self._close_sockets()

    async def _close_sockets(self) -> None:
        sockets = [ws for group in self._sockets.values() for ws in group]
        self._sockets.clear()
        await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")
                               for ws in sockets), return_exceptions=True)

    # ------------------------------------------------------------ HTTP
    @property
    def _secret(self) -> str:
        return self.host.secret_key

    def _remember(self, response: web.StreamResponse, request: web.Request, visitor: Visitor, *,
                  always: bool = False) -> None:
        if visitor.new or always:
            set_visitor_cookie(response, request, self._secret, visitor, public_url=self.host.public_url,
                               embedded=request.query.get("embed") == "1")

    def _check_origin(self, request: web.Request) -> None:
        if not origin_allowed(request, self.config.allowed_origins, self.host.public_url):
            origin = request.headers.get("Origin")
            raise HttpError(403, "forbidden_origin", f"requests from {origin} are not taken here" if origin
                           else "an Origin header is required")

    async def chat_page(self, request: web.Request) -> web.Response:
        lang = language_of(request)
        greeting = self.host.words("greeting", lang) if self.host.words else ""
        response = self.page.render(lang, embed=request.query.get("embed") == "1",
                                    start=request.query.get("start"), allowed_origins=self.config.allowed_origins,
                                    greeting=greeting, own_url=self.host.public_url or self.host.listen_url,
                                    company=self.host.brand.name)
        self._remember(response, request, visitor_of(request, self._secret), always=True)
        return response

    async def chat_widget(self, request: web.Request) -> web.Response:
        return self.page.widget_js(request)

    async def chat_static(self, request: web.Request) -> web.Response:
        return self.page.static(request, request.match_info["name"])

    async def chat_messages(self, request: web.Request) -> web.Response:
        self._check_origin(request)
        visitor = visitor_of(request, self._secret)
        msg = parse_message(await request.read())
        replies = await self._answer(request, visitor.id, msg)
        response = web.json_response(replies_out(replies), dumps=dumps)
        self._remember(response, request, visitor)
        return response

    async def _answer(self, request: web.Request, visitor: str, msg: ChatMessageIn) -> list[Reply]:
        if self._on_message is None:
            raise HttpError(503, "chat_unavailable", "the chat is not connected to the bot")
        lang = (msg.lang or "").lower()[:2]
        language = lang if lang in ("zh", "en") else best_language(request.headers.get("Accept-Language"))
        source = TrustedProxies(self.config.trusted_proxies).of(request)  # for the per-address limit
        inbound = self.parse(WebInput(visitor, msg.text, msg.id, source, language))
        return await self._on_message(inbound) if inbound else []

    # ------------------------------------------------------------ WebSocket
    async def chat_socket(self, request: web.Request) -> web.WebSocketResponse:
        self._check_origin(request)
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME)
        if not ws.can_prepare(request).ok:
            raise HttpError(400, "not_websocket", "this address takes WebSocket connections only")
        visitor = visitor_of(request, self._secret)
        self._remember(ws, request, visitor)
        await ws.prepare(request)
        self._sockets.setdefault(visitor.id, set()).add(ws)
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    await self._on_frame(ws, request, visitor.id, frame.data)
                elif frame.type == WSMsgType.BINARY:
                    await _send(ws, _error_frame(HttpError(400, "malformed_json", "send text frames of JSON")))
        finally:
            group = self._sockets.get(visitor.id)
            if group is not None:
                group.discard(ws)
                if not group:
                    self._sockets.pop(visitor.id, None)
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, request: web.Request, visitor: str, data: str) -> None:
        try:
            msg = parse_message(data)
        except HttpError as e:
            await _send(ws, _error_frame(e, _frame_id(data)))
            return
        try:
            replies = await self._answer(request, visitor, msg)
        except HttpError as e:
            await _send(ws, _error_frame(e, msg.id))
            return
        except Exception:  # noqa: BLE001 - one failed message must not end the visitor's connection
            log.exception("web chat: message %s of %s failed", msg.id, visitor)
            await _send(ws, _error_frame(HttpError(500, "internal_error", "something went wrong on our side"),
                                         msg.id))
            return
        await _send(ws, {"id": msg.id, **replies_out(replies)})


def _frame_id(data: str) -> str | None:
    try:
        found = json.loads(data).get("id")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) and len(found) <= 100 else None


def _error_frame(e: HttpError, msg_id: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": e.code, "message": e.message, "status": e.status}
    if e.field:
        error["field"] = e.field
    return {"id": msg_id, "error": error}


async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    try:
        await ws.send_json(frame, dumps=dumps)
    except (ConnectionError, RuntimeError):
        pass  # the page went away while we answered; it will ask again over HTTP or on reconnect
