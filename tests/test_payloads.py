"""Real payloads nobody here wrote, read as the channels read them: tables of recorded Telegram
updates and WeChat pushes (``tests/data/payloads/``) → the InboundMessage the conversation
gets, or nothing, or a refusal; receiving servers' Authentication-Results headers → whether
the e-mail channel counts the mail's From as authenticated.

The payloads come from the platforms' documentation and from public SDKs' own test suites
(python-telegram-bot's Bot API docs examples, teloxide, TelegramBots, aiogram; wechatpy,
EasyWeChat, WxJava, chanxuehong/wechat); every row names where it came from. Telegram updates
that python-telegram-bot refuses to read carry its exception (``ptb_raised``): the channel reads
updates from their JSON, so they are read, or ignored, like the rest.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.wechat.pushes import Malformed, consents, read, understand
from bot.app import make_channel

DATA = Path(__file__).parent / "data" / "payloads"
TELEGRAM = json.loads((DATA / "telegram_updates.json").read_text(encoding="utf-8"))
WECHAT = json.loads((DATA / "wechat_pushes.json").read_text(encoding="utf-8"))
AUTH_RESULTS = json.loads((DATA / "email_authentication_results.json").read_text(encoding="utf-8"))
MESSAGE = ("channel", "sender_id", "chat_id", "text", "message_id", "is_group", "mentioned", "language", "kind")


def _seen(msg) -> dict | None:
    return None if msg is None else {k: getattr(msg, k) for k in MESSAGE}


def _want(expected: dict | None, got: dict | None) -> dict | None:
    """The expected row's fields, with the defaults of the fields it leaves out."""
    if expected is None or got is None:
        return expected
    defaults = {"is_group": False, "mentioned": False, "language": None, "kind": "text"}
    return {k: expected.get(k, defaults.get(k)) for k in MESSAGE}


@pytest.fixture
def telegram(settings):
    t = settings.telegram
    t.enabled, t.token, t.webhook_secret = True, SecretStr("123:abc"), SecretStr("s")
    t.bot_username = TELEGRAM["bot_username"]
    channel = make_channel("telegram", settings)
    channel._bot_id = TELEGRAM["bot_id"]  # startup() learns it from getMe
    return channel


@pytest.mark.parametrize("row", TELEGRAM["rows"], ids=[r["name"] for r in TELEGRAM["rows"]])
def test_a_recorded_telegram_update_is_read_as_the_platform_meant_it(telegram, row):
    got = _seen(telegram.read(row["payload"]))
    assert got == _want(row["expected"], got), row["source"]


@pytest.mark.parametrize("row", WECHAT["rows"], ids=[r["name"] for r in WECHAT["rows"]])
def test_a_recorded_wechat_push_is_read_as_the_platform_meant_it(row):
    expected = row["expected"]
    if expected == {"malformed": True}:
        with pytest.raises(Malformed):
            understand(read(row["payload"]))
        return
    push = read(row["payload"])
    got = _seen(understand(push))
    assert got == _want(expected, got), row["source"]
    assert consents(push) == row.get("consents", [])


def test_the_tables_are_from_somewhere_and_cover_failures():
    rows = TELEGRAM["rows"] + WECHAT["rows"]
    assert all(r["source"].strip() for r in rows), "every payload says where it came from"
    assert sum(r["expected"] is None for r in TELEGRAM["rows"]) >= 3, "updates that are not for the conversation"
    assert sum(r["expected"] == {"malformed": True} for r in WECHAT["rows"]) >= 4, "pushes that are refused"


@pytest.mark.parametrize("row", AUTH_RESULTS["rows"], ids=[r["name"] for r in AUTH_RESULTS["rows"]])
def test_a_receiving_servers_authentication_results_say_whether_the_from_is_proven(settings, row):
    settings.email.authserv_id = row.get("authserv_id")
    on_top = "".join(f"Authentication-Results: {h}\n" for h in row["headers"])  # as servers add them: above the rest
    raw = (f"{on_top}From: {row['from']}\nTo: orders@factory.example\nSubject: order\n"
           "Message-ID: <a1@buyer.example>\n\nwhere is SO202611240042?\n").replace("\n", "\r\n")
    msg = make_channel("email", settings).parse(raw.encode())
    assert msg is not None and msg.authenticated is row["authenticated"], row["source"]
