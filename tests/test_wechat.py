"""The WeChat channel, driven the way WeChat drives it: signed (and in safe mode encrypted)
XML posted over HTTP to the running app, and WeChat's API replaced by a local server."""
from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate
from wechatpy.crypto import WeChatCrypto

from adapters.wechat.client import WeChatApi
from adapters.wechat.config import WeChatSettings
from adapters.wechat.config import problem as wechat_problem
from adapters.wechat.pieces import MAX_BYTES, MAX_CHARS, pieces, xml_safe
from adapters.wechat.pushes import MENU_KEYS
from bot.app import build_app, build_conversation, make_channel
from bot.conversation import texts
from bot.conversation.inbound import Inbound
from models.chats import InboundDedupe
from models.messages import Reply, Target
from models.people import Identity
from models.platforms import ChannelToken
from models.schedule import utcnow
from tests.kit.base import Bot
from tests.kit.story import ASKS_CODE, EMAIL, NO, STOCKING, opened, order_at
from tests.kit.wechat_api import (
    AES_KEY,
    APP_ID,
    APP_SECRET,
    TOKEN,
    WeChatApiStub,
    WeChatSide,
    configure,
    event_xml,
    push_xml,
    serve,
    text_xml,
)


# ---------------------------------------------------------------- the URL check and signatures
async def test_the_url_check_echoes_echostr_only_with_the_right_signature(wx: WeChatSide):
    assert await wx.servers.url_check("echo-42") == (200, "echo-42")
    status, body = await wx.servers.url_check("echo-42", signature="0" * 40)
    assert status == 403 and "echo-42" not in body


async def test_a_text_asks_for_a_code_and_the_code_shows_the_progress(wx: WeChatSide, bot: Bot):
    await order_at(bot)
    asked = await wx.say("o_user_1", f"查订单 {NO}")
    assert asked.status == 200 and ASKS_CODE.search(asked.text) and not STOCKING.search(asked.text)
    assert asked.reply["ToUserName"] == "o_user_1" and asked.reply["MsgType"] == "text"
    [code] = bot.mail.codes(EMAIL)
    shown = await wx.say("o_user_1", code)
    assert STOCKING.search(shown.text) and "12345.67" not in shown.text
    assert await opened("wechat", "o_user_1") == [NO]


async def test_a_bad_signature_is_refused_with_nothing_stored(wx: WeChatSide, bot: Bot):
    await order_at(bot)
    refused = await wx.post(text_xml("o_user_2", f"查订单 {NO}", 770001), bad_signature=True)
    assert refused.status == 403 and json.loads(refused.body)["error"]["code"] == "forbidden"
    assert await InboundDedupe.all().count() == 0 and await Identity.filter(channel="wechat").count() == 0
    assert bot.mail.messages == []


async def test_safe_mode_refuses_plaintext_and_another_apps_encryption(bot: Bot, settings, wx_api, engine):
    configure(settings, wx_api)
    async with aiohttp.ClientSession() as session:
        server, _, servers = await serve(settings, engine, Inbound(bot.conversation), session)
        plain = await servers.post(text_xml("o_user_3", "你好", 770002), plaintext=True)
        other = await servers.post(text_xml("o_user_3", "你好", 770003),
                                   crypto=WeChatCrypto(TOKEN, AES_KEY, "wx_another_app_0000"))
        await server.close()
    assert (plain.status, other.status) == (403, 403)
    assert await InboundDedupe.all().count() == 0


async def test_the_webhook_is_in_the_openapi_document(settings, wx_api, engine):
    app = build_app(configure(settings, wx_api), engine, channels=[make_channel("wechat", settings)])
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        doc = await (await client.get("/api/v1/openapi.json")).json()
    validate(doc)
    assert {"get", "post"} <= set(doc["paths"]["/webhooks/wechat"])


# ---------------------------------------------------------------- retries and deadlines
async def test_the_same_msgid_three_times_is_handled_once(wx: WeChatSide, bot: Bot, wx_api: WeChatApiStub):
    await order_at(bot)
    answers = [await wx.say("o_user_4", f"查订单 {NO}", msg_id=770010) for _ in range(3)]
    assert ASKS_CODE.search(answers[0].text) and all(a.success for a in answers[1:])
    assert len(bot.mail.codes(EMAIL)) == 1 and await InboundDedupe.all().count() == 1
    assert wx_api.texts_to("o_user_4") == []


async def test_two_app_instances_on_one_database_handle_a_retried_msgid_once(bot: Bot, wx_settings, engine):
    await order_at(bot)
    async with aiohttp.ClientSession() as session:
        one = await serve(wx_settings, engine, Inbound(bot.conversation), session)
        other = await serve(wx_settings, engine, Inbound(build_conversation(wx_settings, engine)), session)
        push = text_xml("o_user_5", f"查订单 {NO}", 770020)
        answers = await asyncio.gather(one[2].post(push), other[2].post(push), one[2].post(push))
        await bot.sender.run_once()
        for server, _, _ in (one, other):
            await server.close()
    assert sum(bool(ASKS_CODE.search(a.text)) for a in answers) == 1
    assert sum(a.success for a in answers) == 2
    assert len(bot.mail.codes(EMAIL)) == 1 and await InboundDedupe.all().count() == 1


async def test_a_slow_answer_is_success_now_and_a_customer_service_message_later(
        bot: Bot, wx_settings, engine, wx_api: WeChatApiStub):
    await order_at(bot)
    inbound = Inbound(bot.conversation)

    async def slow(msg):
        await asyncio.sleep(0.6)
        return await inbound(msg)

    async with aiohttp.ClientSession() as session:
        server, channel, servers = await serve(wx_settings, engine, slow, session)
        channel.reply_deadline = 0.2
        answer = await servers.post(text_xml("o_user_6", f"查订单 {NO}", 770030))
        [later] = await wx_api.wait_texts("o_user_6")
        await server.close()
    assert answer.success and answer.elapsed < 0.5
    assert ASKS_CODE.search(later)
    assert [b["force_refresh"] for b in wx_api.bodies("stable_token")] == [False]


async def test_a_long_answer_is_a_passive_reply_and_then_the_rest(bot: Bot, wx_settings, engine, wx_api):
    long = "\n".join(f"第{i}行：订单节点说明，用来把回复写得很长很长。" for i in range(120))

    async def talkative(msg):
        return [Reply(long)]

    async with aiohttp.ClientSession() as session:
        server, channel, servers = await serve(wx_settings, engine, talkative, session)
        channel.follow_up_delay = 0
        answer = await servers.post(text_xml("o_user_7", "hi", 770040))
        rest = await wx_api.wait_texts("o_user_7", n=len(pieces(long)) - 1)
        await server.close()
    assert len(answer.text) <= MAX_CHARS and len(rest) == len(pieces(long)) - 1
    assert "\n".join([answer.text, *rest]).split("\n") == long.split("\n")


# ---------------------------------------------------------------- the access token and sending
@pytest.fixture
async def channel(settings, wx_api, db):
    channel = make_channel("wechat", configure(settings, wx_api))
    await channel.startup()
    yield channel
    await channel.shutdown()


async def test_the_token_is_fetched_once_and_kept_in_the_database(channel, wx_api: WeChatApiStub, db):
    for text in ("one", "two"):
        assert (await channel.send(Target("wechat", "o_user_8"), Reply(text))).ok
    assert len(wx_api.bodies("stable_token")) == 1
    assert wx_api.bodies("stable_token")[0] == {"grant_type": "client_credential", "appid": APP_ID,
                                                "secret": APP_SECRET, "force_refresh": False}
    row = await ChannelToken.get(name=f"wechat:{APP_ID}")
    assert row.value == wx_api.current
    assert timedelta(seconds=7100) < row.expires_at - utcnow() <= timedelta(seconds=7200)
    assert wx_api.texts_to("o_user_8") == ["one", "two"]


async def test_a_refused_token_is_renewed_once_and_the_send_tried_once_more(channel, wx_api, db):
    assert (await channel.send(Target("wechat", "o_user_9"), Reply("first"))).ok
    wx_api.errors["message/custom/send"] = [40001]
    assert (await channel.send(Target("wechat", "o_user_9"), Reply("second"))).ok
    assert [b["force_refresh"] for b in wx_api.bodies("stable_token")] == [False, True]
    assert wx_api.texts_to("o_user_9") == ["first", "second"]
    assert (await ChannelToken.get(name=f"wechat:{APP_ID}")).value == wx_api.current
    wx_api.errors["message/custom/send"] = [40001, 40001]
    again = await channel.send(Target("wechat", "o_user_9"), Reply("third"))
    assert not again.ok and "40001" in again.reason, "one renewal per send, not a loop"


async def test_a_token_near_its_end_is_renewed_ahead(channel, wx_api, db):
    await ChannelToken.create(name=f"wechat:{APP_ID}", value=wx_api.rotate(),
                              expires_at=utcnow() + timedelta(minutes=4))
    assert (await channel.send(Target("wechat", "o_user_10"), Reply("hi"))).ok
    assert [b["force_refresh"] for b in wx_api.bodies("stable_token")] == [False]


async def test_processes_share_one_renewal(wx_api: WeChatApiStub, db):
    apis = [WeChatApi(wx_api.url, APP_ID, APP_SECRET, owner=f"host-{i}:1") for i in range(3)]
    for api in apis:
        await api.start()
    try:
        wx_api.delay = 0.3
        sent = await asyncio.gather(*(api.send_text("o_user_11", f"m{i}") for i, api in enumerate(apis)))
        assert all(d.ok for d in sent) and len(wx_api.bodies("stable_token")) == 1
        wx_api.delay = 0
        wx_api.rotate()  # someone forced a new token: the stored one is refused everywhere at once
        sent = await asyncio.gather(*(api.send_text("o_user_11", f"n{i}") for i, api in enumerate(apis)))
        assert all(d.ok for d in sent)
        assert [b["force_refresh"] for b in wx_api.bodies("stable_token")] == [False, True]
    finally:
        for api in apis:
            await api.close()


@pytest.mark.parametrize("errcode, status, retryable, unreachable, reason", [
    (45015, 200, False, True, "this channel cannot reach the user now (outside the 48-hour window)"),
    (43004, 200, False, True, "does not follow"),
    (-1, 200, True, False, "busy"),
    (40007, 200, False, False, "test error 40007"),
    (None, 502, True, False, "502"),
    (None, 404, False, False, "404"),
])
async def test_what_a_failed_send_says(channel, wx_api, db, errcode, status, retryable, unreachable, reason):
    await channel.send(Target("wechat", "o_user_12"), Reply("warm up the token"))
    if errcode is not None:
        wx_api.errors["message/custom/send"] = [errcode]
    wx_api.status = status
    d = await channel.send(Target("wechat", "o_user_12"), Reply("hi"))
    assert (d.ok, d.retryable, d.unreachable) == (False, retryable, unreachable) and reason in d.reason


async def test_a_timeout_is_retryable_and_quotes_no_token(wx_api, db):
    api = WeChatApi(wx_api.url, APP_ID, APP_SECRET, timeout=0.2)
    await api.start()
    wx_api.delay = 1
    d = await api.send_text("o_user_13", "hi")
    await api.close()
    assert not d.ok and d.retryable and "ACCESS_TOKEN" not in d.reason


async def test_template_and_subscribe_messages(channel, wx_api, db):
    target = Target("wechat", "o_user_14")
    assert (await channel.send_template(target, "TPL1", {"order": NO, "node": {"value": "备货"}}, url="https://x")).ok
    assert (await channel.send_subscribe(target, "SUB1", {"thing1": "发货"}, page="pages/order")).ok
    [tpl] = wx_api.bodies("message/template/send")
    [sub] = wx_api.bodies("message/subscribe/bizsend")
    assert tpl == {"touser": "o_user_14", "template_id": "TPL1", "url": "https://x",
                   "data": {"order": {"value": NO}, "node": {"value": "备货"}}}
    assert sub["data"] == {"thing1": {"value": "发货"}} and sub["page"] == "pages/order"


async def test_without_an_app_secret_the_channel_only_answers(settings, wx_api, db):
    configure(settings, wx_api, app_secret=None)
    assert wechat_problem(settings.wechat) is None
    channel = make_channel("wechat", settings)
    await channel.startup()
    d = await channel.send(Target("wechat", "o_user_15"), Reply("hi"))
    await channel.shutdown()
    assert not d.ok and d.unreachable and not d.retryable and wx_api.calls == []


@pytest.mark.parametrize("section, problem", [
    ({"enabled": False, "app_id": APP_ID, "token": TOKEN}, "enabled"),
    ({"enabled": True, "token": TOKEN}, "app_id"),
    ({"enabled": True, "app_id": APP_ID}, "wechat.token"),
    ({"enabled": True, "app_id": APP_ID, "token": TOKEN, "encoding_aes_key": AES_KEY[:-1]}, "encoding_aes_key"),
    ({"enabled": True, "app_id": APP_ID, "token": TOKEN, "encoding_aes_key": "!" * 43}, "encoding_aes_key"),
    ({"enabled": True, "app_id": APP_ID, "token": TOKEN, "encoding_aes_key": AES_KEY}, None),
])
def test_what_keeps_the_channel_from_starting(settings, section, problem):
    settings.wechat = WeChatSettings(**section)
    found = wechat_problem(settings.wechat)
    assert (found is None) if problem is None else (problem in found)


# ---------------------------------------------------------------- events and other kinds of message
async def test_following_through_a_bind_qr_code_binds(wx: WeChatSide, bot: Bot, api):
    status, created = await api.create("SO202611240043")
    assert status == 201
    scene = created["links"]["wechat_scene"]
    followed = await wx.post(event_xml("o_user_20", "subscribe", f"qrscene_{scene}"))
    assert "已绑定订单 SO202611240043" in followed.text
    listed = await wx.say("o_user_20", "我的订单")
    assert "SO202611240043" in listed.text and bot.mail.messages == []
    again = await wx.post(event_xml("o_user_20", "SCAN", scene))
    assert "已绑定订单 SO202611240043" in again.text, "the chat that used the token may use it again"
    scanned = await wx.post(event_xml("o_user_21", "SCAN", scene))
    assert "另一个聊天" in scanned.text and ASKS_CODE.search(scanned.text), "another chat gets the code flow"
    assert await opened("wechat", "o_user_20") == ["SO202611240043"] and await opened("wechat", "o_user_21") == []


async def test_a_bad_bind_scene_binds_nobody_and_a_plain_follow_is_greeted(wx: WeChatSide):
    bad = await wx.post(event_xml("o_user_22", "SCAN", "bind_not-a-real-token"))
    assert re.search("无效|not valid", bad.text)  # the router reads "/start bind_..." as English (reported)
    hello = await wx.post(event_xml("o_user_23", "subscribe", ""))
    assert "订单助手" in hello.text
    other_scene = await wx.post(event_xml("o_user_24", "subscribe", "qrscene_poster_2026"))
    assert "订单助手" in other_scene.text
    assert (await wx.post(event_xml("o_user_24", "SCAN", "poster_2026"))).success
    assert await Identity.filter(channel="wechat", customer_id__isnull=False).count() == 0


async def test_a_retried_event_is_handled_once(wx: WeChatSide):
    push = event_xml("o_user_25", "subscribe", "", created=1767225600)
    first, second = await wx.post(push), await wx.post(push)
    assert "订单助手" in first.text and second.success


@pytest.mark.parametrize("key", sorted(MENU_KEYS))
async def test_a_menu_click_says_what_its_words_say(wx: WeChatSide, key):
    clicked = await wx.post(event_xml(f"o_click_{key}", "CLICK", key))
    typed = await wx.say(f"o_typed_{key}", MENU_KEYS[key])
    assert clicked.text and clicked.text == typed.text


async def test_an_unknown_menu_key_gets_help(wx: WeChatSide):
    assert "我可以" in (await wx.post(event_xml("o_user_26", "CLICK", "NO_SUCH_KEY"))).text


@pytest.mark.parametrize("push", [
    push_xml("o_user_27", "image", PicUrl="http://mmbiz.example/x.jpg", MediaId="m1", MsgId=770101),
    push_xml("o_user_27", "voice", MediaId="m2", Format="amr", MsgId=770102),
    push_xml("o_user_27", "video", MediaId="m3", ThumbMediaId="t3", MsgId=770103),
    push_xml("o_user_27", "location", Location_X="23.1", Location_Y="113.3", Scale="20", Label="广州", MsgId=770104),
    push_xml("o_user_27", "link", Title="t", Description="d", Url="http://example.com", MsgId=770105),
], ids=["image", "voice", "video", "location", "link"])
async def test_what_is_not_text_gets_the_text_only_note_from_the_conversation(wx: WeChatSide, push):
    answer = await wx.post(push)
    assert answer.text == texts.t("text_only", "zh")
    again = await wx.post(push)  # WeChat's retry of the same MsgId
    assert again.success and await InboundDedupe.all().count() == 1


async def test_recognised_voice_is_read_as_text(wx: WeChatSide):
    voice = push_xml("o_user_28", "voice", MediaId="m", Format="amr", Recognition="帮助", MsgId=770110)
    assert "我可以" in (await wx.post(voice)).text


async def test_quiet_events_get_success(wx: WeChatSide):
    for event in ("unsubscribe", "VIEW", "LOCATION", "TEMPLATESENDJOBFINISH", "some_future_event"):
        assert (await wx.post(event_xml("o_user_29", event, "x"))).success
    assert await Identity.filter(channel="wechat").count() == 0


@pytest.mark.parametrize("push", [
    push_xml("o_device_1", "device_text", DeviceType="gh_1", DeviceID="dev1", SessionID="9", Content="MTIz",
             OpenID="o_device_1", MsgId=770201),
    push_xml("o_device_1", "device_event", Event="bind", DeviceType="gh_1", DeviceID="dev1", SessionID="9",
             Content="", OpenID="o_device_1", OpType="0"),
    push_xml("o_device_1", "device_status", DeviceType="gh_1", DeviceID="dev1", SubscribeType="1",
             DeviceStatus="1", OpType="1"),
], ids=["device_text", "device_event", "device_status"])
async def test_a_device_reporting_in_gets_no_text_only_note(wx: WeChatSide, wx_api: WeChatApiStub, push):
    answer = await wx.post(push)
    assert answer.success and not answer.text
    assert await Identity.filter(channel="wechat").count() == 0
    assert not [c for c in wx_api.calls if "message" in c[0]], "nothing sent by the API either"


# ---------------------------------------------------------------- what WeChat (or anyone) might post
def _refused(status):
    return lambda a: a.status == status and not a.reply


def _answered(pattern):
    return lambda a: a.status == 200 and re.search(pattern, a.text) is not None


SO_FULL_WIDTH = "ＳＯ２０２６１１２４００４２"
BAD_INPUTS = [
    # name, post(wx) arguments, what the answer must be, stored?, adapter log lines
    ("malformed XML", (b"<xml><MsgType>text</MsgType><Content>oops", {}), _refused(400), False, 1),
    ("not XML at all", (b"\x00\xff\xfe garbage", {}), _refused(400), False, 1),
    ("empty body", (b"", {}), _refused(400), False, 1),
    ("XML without MsgType", ("<xml><FromUserName>o_x</FromUserName></xml>", {}), _refused(400), False, 1),
    ("no FromUserName", ("<xml><MsgType>text</MsgType><Content>hi</Content><MsgId>1</MsgId></xml>", {}),
     _refused(400), False, 1),
    ("a MsgId that is not a number", (text_xml("o_bad_1", "hi", 1).replace("<MsgId>1<", "<MsgId>1x<"), {}),
     _refused(400), False, 1),
    ("a DTD with an entity", (('<!DOCTYPE xml [<!ENTITY e "boom">]><xml><MsgType>text</MsgType>'
                               "<FromUserName>o_x</FromUserName><Content>&e;</Content></xml>"), {}),
     _refused(400), False, 1),
    ("wrong signature", (text_xml("o_bad_2", "hi", 770201), {"bad_signature": True}), _refused(403), False, 1),
    ("unknown MsgType", (push_xml("o_bad_3", "hologram", MsgId=770202), {}), _answered("只能读文字"),
     True, 1),
    ("a 20,000-character text", (text_xml("o_bad_4", "查" * 20000, 770203), {}), _answered("."), True, 1),
    ("emoji", (text_xml("o_bad_5", "🚚📦 我的订单 SO202611240042 到哪了？😀", 770204), {}),
     _answered("验证码"), True, 0),
    ("full-width text", (text_xml("o_bad_6", f"查询{SO_FULL_WIDTH}！", 770205), {}), _answered("SO202611240042"),
     True, 0),
    ("a text with ]]> in it", (text_xml("o_bad_7", "x]]>y", 770206), {}), _answered("."), True, 0),
    ("a control character (not XML)", (text_xml("o_bad_8", "x\x01y", 770207), {}), _refused(400), False, 1),
]


@pytest.mark.parametrize("name, post, check, stored, logged", BAD_INPUTS, ids=[row[0] for row in BAD_INPUTS])
async def test_bad_input_is_refused_or_answered_never_a_crash(wx: WeChatSide, bot: Bot, caplog, name, post, check,
                                                             stored, logged):
    await order_at(bot)
    inner, kw = post
    with caplog.at_level(logging.INFO):
        answer = await wx.post(inner, **kw)
    assert check(answer), f"{name}: {answer.status} {answer.body[:200]!r}"
    assert (await InboundDedupe.all().count() > 0) == stored
    if not stored:
        assert await Identity.filter(channel="wechat").count() == 0 and bot.mail.messages == []
    lines = [r for r in caplog.records if r.name.startswith("adapters.wechat")]
    assert len(lines) == logged, [r.getMessage() for r in lines]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_malformed_push_inside_valid_encryption_is_a_400(bot: Bot, settings, wx_api, engine):
    configure(settings, wx_api)
    async with aiohttp.ClientSession() as session:
        server, _, servers = await serve(settings, engine, Inbound(bot.conversation), session)
        inner = await servers.post("<xml><MsgType>text</MsgType><Content>oops")
        outer = await servers.post(text_xml("o_bad_9", "hi", 770301), outer=b"<xml><Encrypt>")
        await server.close()
    assert (inner.status, outer.status) == (400, 400)
    assert await InboundDedupe.all().count() == 0


# ---------------------------------------------------------------- pure parts
@pytest.mark.parametrize("xml, expected", [
    (text_xml("o_p", "查订单 SO1", 5), ("o_p", "查订单 SO1", "5")),
    (event_xml("o_p", "CLICK", "HELP", created=1700000000), ("o_p", "帮助", "o_p:1700000000:click")),
    (event_xml("o_p", "subscribe", "qrscene_bind_abc", created=1700000001),
     ("o_p", "/start bind_abc", "o_p:1700000001:subscribe_scan")),
    (event_xml("o_p", "SCAN", "bind_abc", created=1700000002), ("o_p", "/start bind_abc", "o_p:1700000002:scan")),
    (push_xml("o_p", "image", MsgId=6), ("o_p", "", "6")),  # the conversation answers it
    (event_xml("o_p", "unsubscribe"), None),
    ("<xml><MsgType>text", None),
])
def test_parse_reads_a_push(settings, wx_api, xml, expected):
    msg = make_channel("wechat", configure(settings, wx_api)).parse(xml)
    got = (msg.sender_id, msg.text, msg.message_id) if msg else None
    assert got == expected
    assert msg is None or (msg.channel, msg.chat_id, msg.is_group) == ("wechat", "o_p", False)


def test_pieces_fit_one_wechat_message():
    for text in ["短", "字" * 1500, "😀" * 700, ("line\n" * 400)]:
        parts = pieces(text)
        assert all(len(p) <= MAX_CHARS and len(p.encode()) <= MAX_BYTES for p in parts)
        assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_xml_safe_keeps_cdata_whole():
    assert xml_safe("a]]>b\x00c") == "a]]]]><![CDATA[>bc"
