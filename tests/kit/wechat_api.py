"""WeChat seen from outside, for tests: pushes signed (and in safe mode encrypted) the way
WeChat's servers make them, and a stand-in for WeChat's HTTP API that records what the bot
sends and misbehaves on request.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from wechatpy.crypto import WeChatCrypto

from adapters.wechat import WeChatChannel
from adapters.wechat.config import WeChatSettings
from bot.app import build_app, make_channel
from tests.kit.base import Bot

APP_ID = "wx0123456789abcdef"
APP_SECRET = "test-app-secret-0123456789abcdef"
TOKEN = "orderbotTestToken42"
AES_KEY = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")  # 43 characters, as the OA shows it
ACCOUNT = "gh_0123456789ab"  # the Official Account's original id (ToUserName)


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def push_xml(openid: str, msg_type: str, *, created: int | None = None, **fields: str | int) -> str:
    """A push as WeChat writes it: strings in CDATA, numbers bare."""
    parts = [f"<ToUserName>{cdata(ACCOUNT)}</ToUserName>", f"<FromUserName>{cdata(openid)}</FromUserName>",
             f"<CreateTime>{created or int(time.time())}</CreateTime>", f"<MsgType>{cdata(msg_type)}</MsgType>"]
    parts += [f"<{k}>{v if isinstance(v, int) else cdata(v)}</{k}>" for k, v in fields.items()]
    return "<xml>" + "".join(parts) + "</xml>"


def text_xml(openid: str, text: str, msg_id: int) -> str:
    return push_xml(openid, "text", Content=text, MsgId=msg_id)


def event_xml(openid: str, event: str, key: str | None = None, *, created: int | None = None) -> str:
    fields: dict[str, str | int] = {"Event": event}
    if key is not None:
        fields["EventKey"] = key
    return push_xml(openid, "event", created=created, **fields)


@dataclass
class Answer:
    """What the webhook answered: status, body, and the passive reply's fields once decrypted."""

    status: int
    body: str
    elapsed: float
    reply: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.reply.get("Content", "")

    @property
    def success(self) -> bool:
        return self.status == 200 and self.body.strip() in ("", "success")


class WeChatServers:
    """Posts to the bot's webhook as WeChat does, in safe mode or plaintext mode."""

    def __init__(self, session: aiohttp.ClientSession, url: str, *, safe: bool) -> None:
        self.session, self.url, self.safe = session, url, safe
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
        self._nonce = itertools.count(1000)

    async def url_check(self, echostr: str = "echo-42", *, signature: str | None = None) -> tuple[int, str]:
        ts, nonce = str(int(time.time())), str(next(self._nonce))
        params = {"signature": signature or sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
                  "echostr": echostr}
        async with self.session.get(self.url, params=params) as r:
            return r.status, await r.text()

    async def post(self, inner: str | bytes, *, bad_signature: bool = False, plaintext: bool | None = None,
                   crypto: WeChatCrypto | None = None, outer: bytes | None = None) -> Answer:
        """Post ``inner`` (the push's XML); ``plaintext`` overrides the mode, ``outer`` the whole body."""
        ts, nonce = str(int(time.time())), str(next(self._nonce))
        params = {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": "o_query"}
        if self.safe if plaintext is None else not plaintext:
            sealed = ET.fromstring((crypto or self.crypto).encrypt_message(inner, nonce, ts))
            encrypt = sealed.findtext("Encrypt")
            params.update(encrypt_type="aes", msg_signature=sealed.findtext("MsgSignature"))
            body = outer or (f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName>"
                             f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>").encode()
            if bad_signature:
                params["msg_signature"] = "0" * 40
        else:
            body = outer or (inner if isinstance(inner, bytes) else inner.encode())
            if bad_signature:
                params["signature"] = "0" * 40
        t0 = time.monotonic()
        async with self.session.post(self.url, params=params, data=body,
                                     headers={"Content-Type": "text/xml"}) as r:
            answer = Answer(r.status, await r.text(), 0.0)
        answer.elapsed = time.monotonic() - t0
        if answer.status == 200 and answer.body.strip().startswith("<xml>"):
            answer.reply = self._open(answer.body, encrypted="encrypt_type" in params)
        return answer

    def _open(self, body: str, *, encrypted: bool) -> dict[str, str]:
        if encrypted:
            x = ET.fromstring(body)
            body = self.crypto.decrypt_message(body, x.findtext("MsgSignature"), x.findtext("TimeStamp"),
                                               x.findtext("Nonce"))  # checks our reply's signature too
        return {child.tag: child.text or "" for child in ET.fromstring(body)}


class WeChatApiStub:
    """WeChat's API on loopback: tokens as stable_token hands them out, and every call recorded.

    ``errors[path]`` lists errcodes to answer, one per call, before answering normally;
    ``delay`` slows every answer; ``status`` answers every call with that HTTP status.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, dict]] = []
        self.accepted: list[tuple[str, dict]] = []  # the calls answered with errcode 0
        self.errors: dict[str, list[int]] = {}
        self.delay = 0.0
        self.status = 200
        self.current: str | None = None
        self._issued = 0
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/cgi-bin/{path:.*}", self._handle)
        return app

    def rotate(self) -> str:
        """A new token, the old one invalid from now on (as a forced refresh does)."""
        self._issued += 1
        self.current = f"ACCESS_TOKEN_{self._issued}"
        return self.current

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = json.loads(await request.read() or b"{}")
        self.calls.append((path, dict(request.query), body))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status != 200:
            return web.Response(status=self.status, text="upstream trouble")
        if self.errors.get(path):
            code = self.errors[path].pop(0)
            return web.json_response({"errcode": code, "errmsg": f"test error {code}"})
        if path == "stable_token":
            if body.get("force_refresh") or self.current is None:
                self.rotate()
            return web.json_response({"access_token": self.current, "expires_in": 7200})
        if request.query.get("access_token") != self.current:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
        self.accepted.append((path, body))
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": len(self.calls)})

    def bodies(self, path: str) -> list[dict]:
        """Every call to ``path``, answered well or not."""
        return [b for p, _, b in self.calls if p == path]

    def texts_to(self, openid: str) -> list[str]:
        """The customer-service texts WeChat accepted for ``openid``."""
        return [b["text"]["content"] for p, b in self.accepted
                if p == "message/custom/send" and b.get("touser") == openid]

    async def wait_texts(self, openid: str, n: int = 1, timeout: float = 5) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.texts_to(openid)) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.texts_to(openid)


# ---------------------------------------------------------------- the service's WeChat side
def configure(settings, wx_api: WeChatApiStub, *, safe: bool = True, **changes):
    section = {"enabled": True, "app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN,
               "encoding_aes_key": AES_KEY if safe else None, "api_base_url": wx_api.url, **changes}
    settings.wechat = WeChatSettings(**section)
    return settings


class WeChatSide:
    """The running app with its WeChat channel, and WeChat's servers posting to it."""

    def __init__(self, bot: Bot, channel: WeChatChannel, servers: WeChatServers) -> None:
        self.bot, self.channel, self.servers = bot, channel, servers
        self._ids = iter(range(880001, 10**9))

    async def say(self, openid: str, text: str, msg_id: int | None = None):
        answer = await self.servers.post(text_xml(openid, text, msg_id or next(self._ids)))
        await self.bot.sender.run_once()  # the code mail goes out after the reply
        return answer

    async def post(self, inner: str, **kw):
        answer = await self.servers.post(inner, **kw)
        await self.bot.sender.run_once()
        return answer


async def serve(settings, engine, on_message, session: aiohttp.ClientSession):
    channel = make_channel("wechat", settings, on_message)
    server = TestServer(build_app(settings, engine, channels=[channel]), host="127.0.0.1")
    await server.start_server()
    servers = WeChatServers(session, str(server.make_url("/webhooks/wechat")),
                            safe=settings.wechat.encoding_aes_key is not None)
    return server, channel, servers
