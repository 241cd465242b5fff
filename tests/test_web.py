"""The web chat over real HTTP and WebSockets: the page, the code flow, cookies, origins, limits."""
from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from adapters.web.config import problem
from adapters.web.cookies import COOKIE, cookie_value
from bot.app import build_app, make_channel
from bot.config import ConfigError, load_settings
from bot.conversation.inbound import Inbound
from models.access import OrderAccess
from models.messages import Reply, Target
from models.people import Identity
from tests.kit.base import SECRET, Bot
from tests.kit.story import ASKS_CODE, EMAIL, NO, STOCKING, opened, order_at
from tests.kit.web_client import Site, serve_site


@pytest.fixture
async def site(bot: Bot, settings, engine) -> AsyncIterator[Site]:
    async with serve_site(bot, settings, engine) as s:
        yield s


# ---------------------------------------------------------------- the page and its files
@pytest.mark.parametrize("accept, query, lang, words", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "", "zh-CN", "订单助手"),
    ("en-US,en;q=0.9", "", "en", "Order assistant"),
    ("en;q=0.5,zh-TW;q=0.8", "", "zh-CN", "订单助手"),
    ("zh-CN", "?lang=en", "en", "Order assistant"),
    ("", "", "zh-CN", "订单助手"),
])
async def test_the_page_speaks_the_visitors_language(site: Site, accept, query, lang, words):
    async with aiohttp.ClientSession() as http, \
            http.get(f"{site.base}/chat{query}", headers={"Accept-Language": accept}) as r:
        page = await r.text()
        assert r.status == 200 and r.content_type == "text/html"
        assert f'<html lang="{lang}">' in page and f"<title>{words}</title>" in page
        assert 'aria-live="polite"' in page and '<label for="ob-input"' in page
        assert 'name="viewport"' in page and "https://" not in page  # nothing from elsewhere
        cookie = r.headers["Set-Cookie"]
        assert cookie.startswith(COOKIE + "=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Secure" not in cookie  # plain http here; https or an https public_url adds it
        assert "frame-ancestors 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("query, expected", [
    ("", ["Secure", "SameSite=Lax", "HttpOnly"]),
    ("?embed=1", ["Secure", "SameSite=None", "Partitioned", "HttpOnly"]),  # a Lax cookie never reaches a frame
])
async def test_behind_https_the_cookie_is_secure(site: Site, query, expected):
    site.chat.host = replace(site.chat.host, public_url="https://orders.example.com")
    async with aiohttp.ClientSession() as http, http.get(f"{site.base}/chat{query}") as r:
        assert all(part in r.headers["Set-Cookie"] for part in expected), r.headers["Set-Cookie"]
    status, _ = await site.visitor(origin="https://orders.example.com").post({"text": "你好"})
    assert status == 200, "the public URL's origin is the chat's own"


FORGED_HOST = "evil.example'; script-src *"


@pytest.mark.parametrize("public_url, listen_url, connect", [
    (None, None, "'self' ws://127.0.0.1:8080"),  # [server] host and port, as the settings fixture leaves them
    ("https://orders.example.com", None, "'self' wss://orders.example.com"),
    ("http://orders.example.com:8000/base", None, "'self' ws://orders.example.com:8000"),
    (None, "http://0.0.0.0:8080", "'self'"),  # listening everywhere names no address a browser uses
])
async def test_the_pages_csp_comes_from_the_config_never_from_the_host_header(site: Site, public_url, listen_url,
                                                                              connect):
    site.chat.host = replace(site.chat.host, public_url=public_url, listen_url=listen_url or site.chat.host.listen_url)
    async with aiohttp.ClientSession() as http, http.get(f"{site.base}/chat", headers={"Host": FORGED_HOST}) as r:
        csp = r.headers["Content-Security-Policy"]
    assert r.status == 200 and "evil" not in csp and "script-src 'self';" in csp, csp
    assert f"connect-src {connect};" in csp, csp


async def test_the_widget_and_the_page_files_are_served_with_types_and_caching(site: Site):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{site.base}/chat/widget.js") as r:
            assert r.status == 200 and r.content_type == "application/javascript"
            assert "max-age=3600" in r.headers["Cache-Control"] and "/chat?embed=1" in await r.text()
            etag = r.headers["ETag"]
        async with http.get(f"{site.base}/chat/widget.js", headers={"If-None-Match": etag}) as r:
            assert r.status == 304
        page = await (await http.get(f"{site.base}/chat")).text()
        for path, kind in (("chat.js", "application/javascript"), ("chat.css", "text/css")):
            [url] = re.findall(rf'"(/chat/static/{re.escape(path)}\?v=\w+)"', page)
            async with http.get(site.base + url) as r:
                assert r.status == 200 and r.content_type == kind and "immutable" in r.headers["Cache-Control"]
        async with http.get(f"{site.base}/chat/static/../adapter.py") as r:
            assert r.status == 404 and "error" in await r.json()


# ---------------------------------------------------------------- the conversation over HTTP
async def test_the_whole_code_flow_through_the_http_api(site: Site):
    await order_at(site.bot)
    me = site.visitor()
    asked = await me.say(f"查一下订单{NO}")
    assert ASKS_CODE.search(asked) and not STOCKING.search(asked)
    shown = await me.say(await site.code())
    assert STOCKING.search(shown) and "12345.67" not in shown and "13812345678" not in shown
    again = await me.say("我的订单到哪了")
    assert STOCKING.search(again) and len(site.bot.mail.to(EMAIL)) == 1, "the same cookie needs no second code"
    identity = await Identity.get(channel="web", external_id=me.visitor_id)
    assert await opened("web", me.visitor_id) == [NO] and identity.locale == "zh"

    stranger = site.visitor()
    reply = await stranger.say(f"查一下订单{NO}")
    assert ASKS_CODE.search(reply) and not STOCKING.search(reply), "a browser without the cookie is someone else"
    assert stranger.visitor_id != me.visitor_id


async def test_replies_carry_buttons_as_label_and_data(site: Site):
    await order_at(site.bot)
    me = site.visitor()
    await me.say(NO)
    _, data = await me.post({"text": await site.code(), "id": "code"})
    [reply] = data["replies"]
    assert set(reply) == {"text", "buttons", "link"}
    assert {"label": "订阅进度", "data": f"订阅 {NO}"} in reply["buttons"]
    assert "订阅" in await me.say(reply["buttons"][0]["data"])


async def test_a_forged_cookie_gets_a_fresh_visitor_and_sees_nothing(site: Site, settings):
    await order_at(site.bot)
    owner = site.visitor()
    await owner.say(NO)
    assert STOCKING.search(await owner.say(await site.code()))
    victim = owner.visitor_id
    for forged in (victim, f"{victim}.{'A' * 43}", cookie_value("another-secret-key-0123456789", victim)):
        thief = site.visitor()
        thief.session.cookie_jar.update_cookies({COOKIE: forged}, response_url=aiohttp.client.URL(site.base))
        reply = await thief.say(f"查一下订单{NO}")
        assert ASKS_CODE.search(reply) and not STOCKING.search(reply), forged
        assert thief.visitor_id not in (None, victim), "the forged cookie is replaced by a fresh visitor"
    assert await OrderAccess.all().count() == 1, "only the owner's visitor sees the order"


async def test_a_retried_message_id_is_answered_once(site: Site):
    me = site.visitor()
    first = await me.say("你好", msg_id="retry-1")
    assert "订单助手" in first
    assert await me.say("你好", msg_id="retry-1") == ""
    assert "订单助手" in await me.say("你好", msg_id="retry-2")
    other = site.visitor()
    assert "订单助手" in await other.say("你好", msg_id="retry-1"), "ids are per visitor"


@pytest.mark.parametrize("body, raw, status, code", [
    (None, b"{not json", 400, "malformed_json"),
    (None, b"", 400, "malformed_json"),
    (["你好"], None, 400, "malformed_json"),
    ({}, None, 400, "invalid_field"),
    ({"text": 42}, None, 400, "invalid_field"),
    ({"text": "   "}, None, 400, "empty_text"),
    ({"text": "\x00\x07 "}, None, 400, "empty_text"),
    (None, b'{"text": "\\ud83d lone half of an emoji"}', 400, "invalid_text"),
    ({"text": "hi", "id": "has spaces and / slashes"}, None, 400, "invalid_field"),
    ({"text": "单" * 4001}, None, 413, "text_too_long"),
    ({"text": "x" * 20_000}, None, 413, "text_too_long"),
])
async def test_bad_messages_get_json_errors(site: Site, body, raw, status, code):
    got, data = await site.visitor().post(body, raw=raw)
    assert got == status and data["error"]["code"] == code and data["error"]["message"]


async def test_the_longest_message_taken_is_answered(site: Site):
    assert await site.visitor().say("查" + "单" * 3999)


@pytest.mark.parametrize("origin", [None, "https://evil.example", "http://127.0.0.1:1", "null"])
async def test_the_api_refuses_other_origins(site: Site, origin):
    status, data = await site.visitor(origin=origin).post({"text": "你好", "id": "x"})
    assert status == 403 and data["error"]["code"] == "forbidden_origin"


@pytest.mark.parametrize("allowed, origin, status", [
    (["https://shop.example"], "https://shop.example", 200),
    (["https://shop.example"], "https://SHOP.example:443", 200),
    (["https://shop.example"], "http://shop.example", 403),
    (["*"], "https://anyone.example", 200),
])
async def test_allowed_origins_may_talk_and_embed(site: Site, allowed, origin, status):
    site.chat.config.allowed_origins = allowed
    got, _ = await site.visitor(origin=origin).post({"text": "你好", "id": "x"})
    assert got == status
    ancestors = "*" if allowed == ["*"] else "'self' " + allowed[0]
    async with aiohttp.ClientSession() as http, http.get(f"{site.base}/chat?embed=1") as r:
        assert f"frame-ancestors {ancestors}" in r.headers["Content-Security-Policy"]


async def test_emoji_and_full_width_text(site: Site):
    await order_at(site.bot)
    me = site.visitor()
    asked = await me.say("📦 查一下订单 ＳＯ２０２６１１２４００４２ 🙏🏽 谢谢！")
    assert ASKS_CODE.search(asked) and NO in asked, "full-width numbers are normalised"
    shown = await me.say(f"　{await site.code()}　")
    assert STOCKING.search(shown)
    assert "订单助手" in await me.say("👋👨‍👩‍👧 你好")
    assert "订单助手" in await me.say("你好\x00！")  # NUL is dropped, not stored (PostgreSQL refuses it)
    async with me.session.post(f"{site.base}/chat/api/messages", json={"text": "你好", "id": "utf8"},
                               headers=me.headers()) as r:
        assert "订单助手".encode() in await r.read(), "UTF-8 JSON, not \\u escapes"


# ---------------------------------------------------------------- the WebSocket
async def ws_say(ws, text: str, msg_id: str) -> dict:
    await ws.send_json({"text": text, "id": msg_id})
    frame = await ws.receive_json(timeout=10)
    assert frame["id"] == msg_id
    return frame


async def test_the_whole_code_flow_over_the_websocket(site: Site):
    await order_at(site.bot)
    me = site.visitor()
    async with me.session.ws_connect(f"{site.base}/chat/ws", headers=me.headers()) as ws:
        asked = await ws_say(ws, f"where is {NO}?", "w1")
        assert ASKS_CODE.search(asked["replies"][0]["text"])
        shown = await ws_say(ws, await site.code(), "w2")
        assert STOCKING.search(shown["replies"][0]["text"])
        assert (await ws_say(ws, await site.code(), "w2"))["replies"] == [], "a retried id is answered once"
        refused = await ws_say(ws, "x" * 20_000, "w3")
        assert refused["error"]["code"] == "text_too_long" and refused["error"]["status"] == 413
        await ws.send_str("{broken")
        assert (await ws.receive_json(timeout=10))["error"]["code"] == "malformed_json"
        assert STOCKING.search((await ws_say(ws, "我的订单", "w4"))["replies"][0]["text"]), "still open"
    # the socket made the cookie; the same visitor goes on over HTTP without a code
    assert STOCKING.search(await me.say("我的订单到哪了")) and len(site.bot.mail.to(EMAIL)) == 1


async def test_the_bot_can_speak_first_to_an_open_page(site: Site):
    me = site.visitor()
    await me.say("你好")
    target = Target("web", me.visitor_id)
    missed = await site.chat.send(target, Reply("已发货"))
    assert not missed.ok and missed.retryable and missed.unreachable
    async with me.session.ws_connect(f"{site.base}/chat/ws", headers=me.headers()) as ws:
        await ws_say(ws, "你好", "hello")  # the socket is registered by now
        assert (await site.chat.send(target, Reply("已发货", link="https://orders.example/p/1"))).ok
        frame = await ws.receive_json(timeout=10)
        assert "id" not in frame and frame["replies"][0] == {"text": "已发货", "buttons": [],
                                                              "link": "https://orders.example/p/1"}
    await asyncio.sleep(0.1)
    assert not (await site.chat.send(target, Reply("again"))).ok


async def test_the_websocket_refuses_other_origins_and_plain_requests(site: Site):
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{site.base}/chat/ws", headers={"Origin": "https://evil.example"})
        assert refused.value.status == 403
        async with http.get(f"{site.base}/chat/ws", headers={"Origin": site.base}) as r:
            assert r.status == 400 and (await r.json())["error"]["code"] == "not_websocket"


async def test_stopping_the_server_closes_open_chats_at_once(bot: Bot, settings, engine):
    chat = make_channel("web", settings, Inbound(bot.conversation))
    server = TestServer(build_app(settings, engine, channels=[chat]), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{base}/chat/ws", headers={"Origin": base})
        await asyncio.wait_for(server.close(), timeout=10)
        frame = await ws.receive(timeout=5)
        assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        await ws.close()


# ---------------------------------------------------------------- binding by link
async def test_a_start_link_binds_the_visitor_without_a_code(site: Site, api):
    status, created = await api.create("SO202611240043")
    assert status == 201
    me = site.visitor()
    async with me.session.get(f"{site.base}/chat?start={created['bind_token']}") as r:
        config = json.loads(re.search(r'id="ob-config">(.*?)</script>', await r.text()).group(1))
    assert config["start"] == created["bind_token"], "the page sends /start <token> first"
    assert "已绑定订单 SO202611240043" in await me.say(f"/start {config['start']}")
    listed = await me.say("我的订单")
    assert "SO202611240043" in listed and site.bot.mail.messages == []


async def test_a_start_parameter_that_is_no_token_is_not_put_in_the_page(site: Site):
    async with aiohttp.ClientSession() as http:
        page = await (await http.get(f"{site.base}/chat?start=</script><script>alert(1)</script>")).text()
    assert "alert(1)" not in page and '"start": null' in page


def test_the_web_chat_is_on_unless_turned_off(settings):
    assert problem(settings.web) is None
    settings.web.enabled = False
    assert "enabled = false" in problem(settings.web)



@pytest.mark.parametrize("value, expected", [
    ("https://shop.example, https://WWW.Shop.example/", ["https://shop.example", "https://www.shop.example"]),
    ('["https://shop.example"]', ["https://shop.example"]),
    ("*", ["*"]),
])
def test_allowed_origins_come_from_the_environment_too(monkeypatch, value, expected):
    monkeypatch.setenv("ORDERBOT_WEB__ALLOWED_ORIGINS", value)
    assert load_settings(None, security={"secret_key": SECRET}).web.allowed_origins == expected


def test_an_allowed_origin_with_a_path_is_a_config_error(monkeypatch):
    monkeypatch.setenv("ORDERBOT_WEB__ALLOWED_ORIGINS", "https://shop.example/chat")
    with pytest.raises(ConfigError, match="web.allowed_origins"):
        load_settings(None, security={"secret_key": SECRET})
