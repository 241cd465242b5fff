"""The Telegram channel on real wire formats: Update JSON posted to the webhook, sendMessage
calls received by a local Bot API stand-in."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from adapters.telegram import TelegramChannel
from adapters.telegram.config import problem
from adapters.telegram.sender import NOTICE, REPLY, TelegramSender
from bot.app import build_app, make_channel
from bot.conversation import texts
from bot.conversation.inbound import Inbound
from models.chats import InboundDedupe
from models.messages import Button, Reply, Target
from models.people import Identity, add_staff
from tests.kit.story import ASKS_CODE, EMAIL, NO, STOCKING, opened, order_at
from tests.kit.telegram_api import TOKEN, BotApi, callback, update

SECRET = "hook-secret-0123"


@pytest.fixture
async def telegram(bot, settings, botapi):
    """The service with the Telegram channel on, as `orderbot serve` runs it; posts updates to it."""
    t = settings.telegram
    t.enabled, t.token, t.webhook_secret, t.base_url = True, SecretStr(TOKEN), SecretStr(SECRET), botapi.base_url
    t.rate_limit_per_second = 1000
    channel = make_channel("telegram", settings, Inbound(bot.conversation))
    server = TestServer(build_app(settings, bot.engine, channels=[channel]), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:

        async def post(body, secret: str | None = SECRET, raw: bytes | None = None) -> int:
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
            kw = {"data": raw, "headers": {**headers, "Content-Type": "application/json"}} if raw is not None \
                else {"json": body, "headers": headers}
            async with session.post(server.make_url("/webhooks/telegram"), **kw) as r:
                answer = await r.read()
                if r.status == 200 and answer[:1] == b"{":  # an answer carried back as a method call
                    call = json.loads(answer)
                    botapi.calls.append((call["method"], {**call, "inline": True}, time.monotonic()))
                return r.status

        post.channel = channel  # type: ignore[attr-defined]
        yield post
    await server.close()


async def settle(channel: TelegramChannel, bot) -> None:
    """Wait until the updates posted so far are handled and their mail is out."""
    while channel._tasks:
        await asyncio.wait(set(channel._tasks))
    await bot.sender.run_once()


async def test_the_code_flow_over_the_webhook(telegram, botapi, bot):
    await order_at(bot)
    assert await telegram(update(f"查一下订单{NO}", user=1001)) == 200
    [asked] = await botapi.wait_for(1001, 1)
    assert "验证码" in asked and not STOCKING.search(asked)
    await settle(telegram.channel, bot)
    [code] = bot.mail.codes(EMAIL)
    await telegram(update(code, user=1001))
    shown = (await botapi.wait_for(1001, 2))[-1]
    assert STOCKING.search(shown) and not re.search("验证码|code", shown, re.IGNORECASE)
    buttons = botapi.sent(1001)[-1]["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in buttons] == [f"订阅 {NO}", f"转人工 {NO}"]
    assert (await Identity.get(channel="telegram", external_id="1001")).locale == "zh"


async def test_a_wrong_secret_is_refused_and_nothing_is_stored(telegram, botapi):
    assert await telegram(update("hello"), secret="wrong") == 403
    assert await telegram(update("hello"), secret=None) == 403
    assert await InboundDedupe.all().count() == 0 and await Identity.all().count() == 0
    assert botapi.sent() == []


@pytest.mark.parametrize("raw, status", [
    (b'{"update_id": ', 400),
    (b'["not", "an", "update"]', 400),
    (b'{"message": {"text": "no update id"}}', 400),
])
async def test_malformed_bodies_are_4xx_and_store_nothing(telegram, raw, status):
    assert await telegram(None, raw=raw) == status
    assert await InboundDedupe.all().count() == 0


async def test_odd_updates_do_not_crash(telegram, botapi, bot, caplog):
    sticker = update("")
    del sticker["message"]["text"]
    sticker["message"]["sticker"] = {"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1,
                                     "is_animated": False, "is_video": False, "type": "regular"}
    edited = update("edited")
    edited["edited_message"] = edited.pop("message")
    long = update("查一下订单 " + "很" * 20000, user=1002)
    emoji = update("🙏🙏 ＳＯ２０２６１１２４００４２ 发货了吗？😊", user=1003)
    junk = {"update_id": 77, "message": {"chat": "not a chat"}}
    with caplog.at_level(logging.INFO):
        for body in (sticker, edited, long, emoji, junk):
            assert await telegram(body) == 200
        await settle(telegram.channel, bot)
    assert len(botapi.texts(1001)) == 1  # the sticker got the text-only note; the edit nothing
    assert botapi.texts(1002) and botapi.texts(1003)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert sum("update 77 " in r.message and "ignored" in r.message for r in caplog.records) == 1, "junk: one line"


async def test_answers_ride_back_on_the_webhook_call_within_the_limits(telegram, botapi, bot):
    """The first answer to a chat comes back as the call's response; the next within a second
    to the same chat goes through the limiter, a second later."""
    await telegram(update("你好", user=1020))
    await telegram(update("帮助", user=1020))
    await settle(telegram.channel, bot)
    calls = [(p.get("inline", False), t) for m, p, t in botapi.calls if m == "sendMessage"]
    assert [inline for inline, _ in calls] == [True, False]
    assert calls[1][1] - calls[0][1] >= 0.95


async def test_a_retried_update_is_handled_once(telegram, botapi, bot):
    body = update("你好", user=1004)
    for _ in range(3):
        await telegram(body)
    await settle(telegram.channel, bot)
    assert len(botapi.texts(1004)) == 1


async def test_groups_hear_mentions_commands_and_replies_only(telegram, botapi, bot):
    await order_at(bot)
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    group = -100500
    await telegram(update(f"{NO} 到哪了", user=2001, chat=group, chat_type="supergroup"))
    await telegram(update(f"@order_test_bot {NO}", user=2001, chat=group, chat_type="supergroup"))
    await telegram(update(f"/order@order_test_bot {NO}", user=2001, chat=group, chat_type="supergroup"))
    await telegram(update(f"{NO}", user=2001, chat=group, chat_type="supergroup", reply_to_bot=True))
    await telegram(update(f"/order@other_bot {NO}", user=2001, chat=group, chat_type="supergroup"))
    await settle(telegram.channel, bot)
    cards = botapi.texts(group)
    assert len(cards) == 3 and all(STOCKING.search(c) for c in cards)
    assert not any("12,345.67" in c or "13812345678" in c for c in cards)


def _without_text(body: dict, **content) -> dict:
    del body["message"]["text"]
    body["message"].update(content)
    return body


PHOTO = [{"file_id": "p", "file_unique_id": "q", "width": 90, "height": 90}]
NOT_TEXT = {
    "photo": {"photo": PHOTO},
    "voice": {"voice": {"file_id": "v", "file_unique_id": "w", "duration": 3}},
    "document": {"document": {"file_id": "d", "file_unique_id": "e", "file_name": "invoice.pdf"}},
    "sticker": {"sticker": {"file_id": "s", "file_unique_id": "t", "type": "regular", "width": 1, "height": 1,
                            "is_animated": False, "is_video": False}},
    "video": {"video": {"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1, "duration": 1}},
    "location": {"location": {"latitude": 23.1, "longitude": 113.3}},
}


@pytest.mark.parametrize("what", sorted(NOT_TEXT))
async def test_a_photo_voice_or_document_gets_the_same_text_only_note_as_on_wechat(telegram, botapi, bot, what):
    assert await telegram(_without_text(update("", user=1020), **NOT_TEXT[what])) == 200
    await settle(telegram.channel, bot)
    assert botapi.texts(1020) == [texts.t("text_only", "zh")]


async def test_a_photo_captioned_with_an_order_number_is_asked_about_that_order(telegram, botapi, bot):
    await order_at(bot)
    await telegram(_without_text(update("", user=1021), photo=PHOTO, caption=f"{NO} 收到的货破了"))
    [asked] = await botapi.wait_for(1021, 1)
    assert ASKS_CODE.search(asked) and asked != texts.t("text_only", "zh")


async def test_an_edited_message_is_answered_once_not_again_for_the_edit(telegram, botapi, bot):
    sent = update("帮助", user=1022)
    edited = json.loads(json.dumps(sent))
    edited["update_id"] += 1000
    edited["edited_message"] = {**edited.pop("message"), "text": "帮助！", "edit_date": int(time.time())}
    await telegram(sent)
    await telegram(edited)
    await settle(telegram.channel, bot)
    assert len(botapi.texts(1022)) == 1


async def test_an_anonymous_group_admin_asking_the_bot_is_answered_in_the_group(telegram, botapi, bot):
    group = -100501
    body = update("@order_test_bot 帮助", user=1087968824, chat=group, chat_type="supergroup")
    body["message"]["from"].update(is_bot=True, first_name="Group", username="GroupAnonymousBot")
    body["message"]["sender_chat"] = {"id": group, "type": "supergroup", "title": "Sales group"}
    await telegram(body)
    await telegram(update("帮助", user=1087968824, chat=group, chat_type="supergroup"))  # not addressed: quiet
    await settle(telegram.channel, bot)
    [answer] = botapi.texts(group)
    assert "我可以" in answer


async def test_a_button_tap_is_a_message_and_is_answered(telegram, botapi, bot):
    await telegram(callback("帮助", user=1005))
    await settle(telegram.channel, bot)
    assert [m for m, _, _ in botapi.calls].count("answerCallbackQuery") == 1
    assert "订单" in botapi.texts(1005)[0]


async def test_a_deep_link_binds(telegram, botapi, bot, api):
    _, created = await api.create("SO202611240043")
    await telegram(update(f"/start {created['bind_token']}", user=1006))
    await settle(telegram.channel, bot)
    assert "已绑定订单 SO202611240043" in botapi.texts(1006)[0]
    assert await opened("telegram", "1006") == ["SO202611240043"]


async def test_long_replies_are_split_cleanly(botapi):
    sender = TelegramSender(_bot(botapi), rate=1000)
    text = "\n".join(f"line {i} " + "x" * 60 for i in range(200))  # ~13,000 characters
    delivery = await sender.send("1007", Reply(text, buttons=(Button("ok", "ok"),)))
    parts = botapi.texts(1007)
    assert delivery.ok and len(parts) == 4 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text
    assert [("reply_markup" in p) for p in botapi.sent(1007)] == [False, False, False, True]
    await sender.close()


def _bot(botapi: BotApi):
    from telegram import Bot

    return Bot(TOKEN, base_url=botapi.base_url)


async def test_429_is_honoured_then_sent_once(botapi):
    botapi.too_many, botapi.retry_after = 1, 1
    sender = TelegramSender(_bot(botapi), rate=1000)
    delivery = await sender.send("1008", Reply("hello"))
    assert delivery.ok and botapi.texts(1008) == ["hello"]
    refused, sent = [t for m, _, t in botapi.calls if m == "429"][0], [t for m, _, t in botapi.calls][-1]
    assert sent - refused >= 1.0
    await sender.close()


async def test_a_chats_gap_runs_from_when_telegram_had_its_last_message(botapi):
    """A slow call must not bring two messages to one chat closer together where Telegram counts them."""
    botapi.late_first = 0.6
    sender = TelegramSender(_bot(botapi), rate=1000)
    await asyncio.gather(sender.send("1011", Reply("first")), sender.send("1011", Reply("second")))
    times = [t for m, p, t in botapi.calls if m == "sendMessage" and p["chat_id"] == "1011"]
    assert botapi.texts(1011) == ["first", "second"] and times[1] - times[0] >= 0.99
    await sender.close()


async def test_one_message_a_second_per_chat_and_replies_first(botapi):
    sender = TelegramSender(_bot(botapi), rate=1000)
    notices = [asyncio.ensure_future(sender.send("1009", Reply(f"notice {i}"), NOTICE)) for i in range(2)]
    await asyncio.sleep(0)
    reply = asyncio.ensure_future(sender.send("1009", Reply("the answer"), REPLY))
    other = asyncio.ensure_future(sender.send("1010", Reply("someone else"), NOTICE))
    await asyncio.gather(*notices, reply, other)
    assert botapi.texts(1009) == ["notice 0", "the answer", "notice 1"]
    times = [t for m, p, t in botapi.calls if m == "sendMessage" and p["chat_id"] == "1009"]
    assert all(b - a >= 0.95 for a, b in zip(times, times[1:]))
    other_at = [t for m, p, t in botapi.calls if m == "sendMessage" and p["chat_id"] == "1010"][0]
    assert other_at < times[1], "a chat that must wait holds up nobody else"
    await sender.close()


async def test_notifications_use_the_same_sender(telegram, botapi):
    delivery = await telegram.channel.send(Target("telegram", "1011"), Reply("发货了"))
    assert delivery.ok and botapi.texts(1011) == ["发货了"]


async def test_a_blocked_user_is_unreachable(botapi):
    botapi.blocked.add("1012")
    sender = TelegramSender(_bot(botapi), rate=1000)
    delivery = await sender.send("1012", Reply("x"))
    assert not delivery.ok and delivery.unreachable and not delivery.retryable
    await sender.close()


async def test_polling_mode_answers_even_after_an_update_python_telegram_bot_cannot_read(bot, settings, botapi):
    t = settings.telegram
    t.enabled, t.token, t.mode, t.base_url = True, SecretStr(TOKEN), "polling", botapi.base_url
    t.rate_limit_per_second = 1000
    channel = make_channel("telegram", settings, Inbound(bot.conversation))
    older_client = update("你好", user=1014)
    del older_client["message"]["from"]["is_bot"]  # Telegram's own examples leave it out; PTB 22 refuses that
    poll = {"update_id": older_client["update_id"] + 1, "poll": {"id": "1", "question": "?", "options": []}}
    botapi.pending_updates.extend([older_client, poll, update("你好", user=1013)])
    await channel.startup()
    try:
        # chats are answered concurrently, so the first update's answer may come last
        assert await botapi.wait_for(1013, 1, timeout=10) and await botapi.wait_for(1014, 1, timeout=10)
        assert [m for m, _, _ in botapi.calls if m == "deleteWebhook"]
    finally:
        await channel.shutdown()


def test_a_channel_without_its_settings_is_not_started(settings):
    assert problem(settings.telegram) == "enabled = false"
    settings.telegram.enabled = True
    assert "token" in problem(settings.telegram)
    settings.telegram.token = SecretStr("1:x")
    assert "webhook_secret" in problem(settings.telegram)
    settings.telegram.mode = "polling"
    assert problem(settings.telegram) is None
