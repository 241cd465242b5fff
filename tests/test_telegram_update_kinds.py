"""Every kind of Telegram update, posted to the webhook as Telegram would: none makes a traceback,
a message from a person is answered, the rest are ignored in one log line.

``tests/data/payloads/telegram_update_kinds.json`` has each kind of the Bot API's Update in a
minimal and a maximal form, written from the Bot API's object definitions (the file says how);
``telegram_updates.json`` has the real samples, among them those python-telegram-bot refused.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from bot.app import build_app, make_channel
from bot.conversation.inbound import Inbound
from tests.kit.telegram_api import TOKEN

DATA = Path(__file__).parent / "data" / "payloads"
KINDS = json.loads((DATA / "telegram_update_kinds.json").read_text(encoding="utf-8"))["updates"]
REAL = json.loads((DATA / "telegram_updates.json").read_text(encoding="utf-8"))
REFUSED_BY_PTB = [r for r in REAL["rows"] if "ptb_raised" in r]
SECRET = "kinds-secret-0123"


@pytest.fixture
async def telegram(bot, settings, botapi):
    """The service's Telegram webhook; posts an update as Telegram does. An answer carried back
    on the webhook call is recorded with the Bot API stand-in's calls, as if sent."""
    t = settings.telegram
    t.enabled, t.token, t.webhook_secret, t.base_url = True, SecretStr(TOKEN), SecretStr(SECRET), botapi.base_url
    t.rate_limit_per_second = 1000
    channel = make_channel("telegram", settings, Inbound(bot.conversation))
    server = TestServer(build_app(settings, bot.engine, channels=[channel]), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:

        async def post(body: dict) -> int:
            async with session.post(server.make_url("/webhooks/telegram"), json=body,
                                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                answer = await r.read()
                if r.status == 200 and answer[:1] == b"{":
                    call = json.loads(answer)
                    botapi.calls.append((call["method"], call, time.monotonic()))
                return r.status

        post.channel = channel  # type: ignore[attr-defined]
        yield post
    await server.close()


async def settle(channel, bot) -> None:
    while channel._tasks:
        await asyncio.wait(set(channel._tasks))
    await bot.sender.run_once()


def _troubles(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def _ignored_lines(caplog, update_id: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if f"update {update_id} " in r.getMessage()]


def _chats(update: dict) -> set[str]:
    """Every id the update names (chats and people): an answer to any of them would show up there."""
    found: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            if type(value.get("id")) is int:
                found.add(str(value["id"]))
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
    walk(update)
    return found


def test_the_kinds_file_covers_every_update_kind_in_both_forms():
    kinds = {"message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
             "business_message", "edited_business_message", "deleted_business_messages", "message_reaction",
             "message_reaction_count", "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
             "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member", "chat_member",
             "chat_join_request", "chat_boost", "removed_chat_boost"}
    forms = {(k["kind"], k["form"]) for k in KINDS}
    assert {(kind, form) for kind in kinds for form in ("minimal", "maximal")} <= forms
    assert len(REFUSED_BY_PTB) >= 6, "the samples python-telegram-bot refused stay in the table"


@pytest.mark.parametrize("case", KINDS, ids=[f"{k['kind']}-{k['form']}-{i}" for i, k in enumerate(KINDS)])
async def test_every_kind_of_update_is_taken_without_a_traceback(telegram, botapi, bot, caplog, case):
    with caplog.at_level(logging.INFO):
        assert await telegram(case["update"]) == 200
        await settle(telegram.channel, bot)
    assert not _troubles(caplog)
    answers = [t for chat in _chats(case["update"]) for t in botapi.texts(chat)]
    if case["answered"]:
        assert len(answers) == 1 and "我只会" not in answers[0] and "read text" not in answers[0], case["why"]
    else:
        assert not answers, case["why"]
        assert len(_ignored_lines(caplog, case["update"]["update_id"])) == 1, "ignored, in one line"


@pytest.mark.parametrize("row", REFUSED_BY_PTB, ids=[r["name"] for r in REFUSED_BY_PTB])
async def test_a_real_update_python_telegram_bot_refused_is_answered_or_ignored_in_one_line(
        telegram, botapi, bot, caplog, row):
    with caplog.at_level(logging.INFO):
        assert await telegram(row["payload"]) == 200
        await settle(telegram.channel, bot)
    assert not _troubles(caplog)
    expected = row["expected"]
    answered = [t for chat in _chats(row["payload"]) for t in botapi.texts(chat)]
    if expected is not None and expected.get("mentioned", False):
        assert len(answered) == 1, row["name"]
    else:
        assert not answered
        if expected is None:
            assert len(_ignored_lines(caplog, row["payload"]["update_id"])) == 1
