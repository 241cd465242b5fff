"""The WeChat Official Account channel: the webhook WeChat posts to, and sending back.

WeChat waits 5 s for the answer to a push and then tries again, up to three times. The
channel hands the message to the bot and waits ``reply_deadline`` (4 s) for it: an answer
in time goes back as the passive reply; a slower one is answered ``success`` at once and
sent, when it is ready, as customer-service messages. A retry of a message already taken
in is answered ``success`` (the bot's dedupe returns no replies).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from wechatpy.replies import create_reply

from adapters.base import Host, Occasion, Query, Route, error_response
from adapters.wechat import proactive
from adapters.wechat.client import WeChatApi
from adapters.wechat.config import WeChatSettings
from adapters.wechat.envelope import Envelope, Refused
from adapters.wechat.pieces import SORRY, pieces, xml_safe
from adapters.wechat.pushes import CHANNEL, Malformed, consents, read, understand
from models import platforms
from models.messages import Delivery, InboundMessage, Reply, Target

log = logging.getLogger(__name__)

PATH = "/webhooks/wechat"
REPLY_DEADLINE = 4.0  # seconds; WeChat gives up on a passive reply after 5
FOLLOW_UP_DELAY = 1.0  # seconds between a passive reply and the rest of a long answer, to keep their order
SHUTDOWN_WAIT = 10.0
LONG_TEXT = 4000
SUCCESS = "success"  # what WeChat takes for "received, nothing to say"
_SIGNED = (Query("signature", "string", "sha1 of the sorted token, timestamp and nonce"),
           Query("timestamp", "string", "seconds since 1970"), Query("nonce", "string", "a random number"))
_SAFE = (Query("encrypt_type", "string", "`aes` in safe and compatible mode"),
         Query("msg_signature", "string", "sha1 of the sorted token, timestamp, nonce and Encrypt (safe mode)"),
         Query("openid", "string", "the sender (the XML's FromUserName is what counts)"))


class WeChatChannel:
    """An Official Account: verified, decrypted pushes in; passive replies and API messages out."""

    name = "wechat"

    def __init__(self, wx: WeChatSettings, host: Host) -> None:
        self.config = wx
        key = wx.encoding_aes_key.get_secret_value() if wx.encoding_aes_key else None
        self.envelope = Envelope(wx.token.get_secret_value(), wx.app_id, key or None)
        secret = wx.app_secret.get_secret_value() if wx.app_secret else ""
        self.api = WeChatApi(wx.api_base_url, wx.app_id, secret) if secret else None
        self.reply_deadline = REPLY_DEADLINE
        self.follow_up_delay = FOLLOW_UP_DELAY
        self._on_message = host.on_message
        self._tasks: set[asyncio.Task] = set()
        self.routes = (
            Route("GET", PATH, self.wechat_url_check, "WeChat's URL check: echoes echostr when the signature holds",
                  errors=(403,), auth=False, query=(*_SIGNED, Query("echostr", "string", "the text to echo")),
                  tag="channels"),
            Route("POST", PATH, self.wechat_push, "WeChat's pushes: answered with the passive reply (XML, "
                  "encrypted in safe mode) or `success`", errors=(400, 403), auth=False, query=(*_SIGNED, *_SAFE),
                  tag="channels"),
        )

    def parse(self, raw: Any) -> InboundMessage | None:
        """The message in a decrypted push (XML text); None for anything the router should not see."""
        try:
            meaning = understand(read(raw.decode() if isinstance(raw, bytes) else str(raw)))
        except (Malformed, UnicodeDecodeError):
            return None
        return meaning if isinstance(meaning, InboundMessage) else None

    async def startup(self) -> None:
        if self.api is None:
            log.warning("wechat: app_secret is not set: the bot answers only within WeChat's 5 s and "
                        "cannot send slow answers or notifications")
        else:
            await self.api.start()
        log.info("wechat: webhook at %s (%s mode)", PATH, "safe" if self.envelope.safe_mode else "plaintext")

    async def shutdown(self) -> None:
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=SHUTDOWN_WAIT)
            for task in late:
                task.cancel()
            if late:
                log.warning("wechat: %d answers were still being worked on at shutdown", len(late))
        if self.api is not None:
            await self.api.close()

    async def send(self, target: Target, reply: Reply, occasion: Occasion | None = None) -> Delivery:
        """``reply`` as customer-service text messages (in pieces when long); a notice the way
        WeChat allows it now (``proactive``: within the 48-hour window, else a template or a
        subscribe message)."""
        if occasion is None:
            return await self._text(target, reply)
        return await proactive.notice(self.config, target, reply, occasion, text=self._text,
                                      template=self.send_template, subscribe=self.send_subscribe)

    async def _text(self, target: Target, reply: Reply) -> Delivery:
        return await self._send_texts(target.address, pieces(reply.as_text()))

    # ------------------------------------------------------------ the webhook
    async def wechat_url_check(self, request: web.Request) -> web.Response:
        try:
            echo = self.envelope.echo(request.query)
        except Refused as e:
            log.warning("wechat: refused a URL check from %s: %s", request.remote, e.why)
            return error_response(e.status, "forbidden", "the signature does not match")
        return web.Response(text=echo)

    async def wechat_push(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            xml, encrypted = self.envelope.open(query, await request.read())
            push = read(xml)
            meaning = understand(push)
        except (Refused, Malformed) as e:
            status, why = (e.status, e.why) if isinstance(e, Refused) else (400, str(e))
            log.warning("wechat: refused a push from %s (%d): %s", request.remote, status, why)
            # The reason stays in the log: a caller without the token learns nothing from the answer.
            return error_response(status, "forbidden" if status == 403 else "bad_request",
                                  "refused" if status == 403 else "not a WeChat push")
        if accepted := consents(push):
            await self._record_consents(push, accepted)
        if meaning is None:
            return web.Response(text=SUCCESS)
        if meaning.kind != "text":
            log.info("wechat: a %s message from %s; the conversation answers that it reads text", meaning.kind,
                     meaning.sender_id)
        if len(meaning.text) > LONG_TEXT:
            log.info("wechat: a text of %d characters from %s", len(meaning.text), meaning.sender_id)
        replies = await self._answer(meaning)
        if not replies:
            return web.Response(text=SUCCESS)
        return self._passive(push, "\n\n".join(r.as_text() for r in replies), query, encrypted)

    async def _answer(self, msg: InboundMessage) -> list[Reply]:
        """The bot's replies if they come within the deadline; else [] and they follow by the API."""
        job = asyncio.ensure_future(self._on_message(msg))
        self._track(job)
        try:
            return await asyncio.wait_for(asyncio.shield(job), self.reply_deadline)
        except (TimeoutError, asyncio.CancelledError) as e:
            self._track(asyncio.ensure_future(self._follow_up(job, msg.chat_id)))
            if isinstance(e, asyncio.CancelledError):
                raise  # WeChat hung up: the answer still follows by the API
            log.info("wechat: message %s took over %.1f s; answered %s, the reply follows by the API",
                     msg.message_id, self.reply_deadline, SUCCESS)
            return []
        except Exception:
            log.exception("wechat: handling message %s failed", msg.message_id)
            return [Reply(SORRY)]

    def _passive(self, push: Any, text: str, query: Any, encrypted: bool) -> web.Response:
        first, *rest = pieces(text)
        xml = create_reply(xml_safe(first), push).render()
        if rest:
            self._track(asyncio.ensure_future(self._send_later(push.source, rest, delay=self.follow_up_delay)))
        return web.Response(text=self.envelope.seal(xml, query, encrypted), content_type="application/xml")

    async def _follow_up(self, job: asyncio.Future, openid: str) -> None:
        try:
            replies = await job
        except Exception:
            log.exception("wechat: handling a slow message from %s failed", openid)
            replies = [Reply(SORRY)]
        texts = [p for r in replies for p in pieces(r.as_text())]
        if texts:
            await self._send_later(openid, texts)

    async def _send_texts(self, openid: str, texts: list[str]) -> Delivery:
        if self.api is None:
            return Delivery.failed("wechat.app_secret is not set, so WeChat messages cannot be sent",
                                   retryable=False, unreachable=True)
        delivery = Delivery.sent()
        for text in texts:
            delivery = await self.api.send_text(openid, text)
            if not delivery.ok:
                break
        return delivery

    async def _send_later(self, openid: str, texts: list[str], *, delay: float = 0) -> None:
        """The rest of an answer, after the passive reply or instead of it; what fails is logged."""
        if delay:
            await asyncio.sleep(delay)
        delivery = await self._send_texts(openid, texts)
        if not delivery.ok:
            log.warning("wechat: an answer to %s was not sent: %s", openid, delivery.reason)

    def _track(self, task: asyncio.Future) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _record_consents(push: Any, template_ids: list[str]) -> None:
        """One more subscribe message allowed per accepted template; WeChat's retries count once."""
        openid = push.source
        key = f"{openid}:{push._data.get('CreateTime')}:consent"
        if await platforms.record_consents(Target(CHANNEL, openid), key, template_ids):
            log.info("wechat: %s accepted subscribe messages %s", openid, ", ".join(template_ids))

    # Template and subscribe messages, for notices outside the window (see ``proactive``, WeChatApi).
    async def send_template(self, target: Target, template_id: str, data: dict[str, Any], *,
                            url: str | None = None) -> Delivery:
        if self.api is None:
            return Delivery.failed("wechat.app_secret is not set", retryable=False, unreachable=True)
        return await self.api.send_template(target.address, template_id, data, url=url)

    async def send_subscribe(self, target: Target, template_id: str, data: dict[str, Any], *,
                             page: str | None = None) -> Delivery:
        if self.api is None:
            return Delivery.failed("wechat.app_secret is not set", retryable=False, unreachable=True)
        return await self.api.send_subscribe(target.address, template_id, data, page=page)
