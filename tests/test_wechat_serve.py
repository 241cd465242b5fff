"""WeChat retrying a push against two real `orderbot serve` processes on one PostgreSQL
database: the message is handled once, whichever process each try reaches.

PostgreSQL only (``ORDERBOT_TEST_DATABASE_URL``): several processes on one database is
what PostgreSQL is for. The processes run the code of this checkout (PYTHONPATH), on a
database of their own, migrated with `orderbot migrate` as an operator would.
"""
from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.app import build_engine
from bot.config import load_settings
from bot.db import database
from models.chats import Challenge, InboundDedupe
from models.devmail import DevMail
from models.inputs import CustomerIn, OrderIn
from tests.kit.base import PG_URL, ROOT, free_port, healthy, pg_admin, with_db
from tests.kit.wechat_api import AES_KEY, APP_ID, APP_SECRET, TOKEN, WeChatApiStub, WeChatServers, text_xml

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set ORDERBOT_TEST_DATABASE_URL")

NO = "SO202611240042"
EMAIL = "zhang@buyer.example"
OPENID = "o_two_processes"
MSG_ID = 770900
ASKS_CODE = re.compile(r"验证码|code", re.IGNORECASE)
STOP_WITHIN = 15  # seconds; the channel's shutdown waits up to 10 s for answers still being worked on


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database of this test's own (dropped afterwards, connections and all)."""
    name = f"orderbot_serve_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    await pg_admin(PG_URL, f'CREATE DATABASE "{name}"')
    try:
        yield with_db(PG_URL, name)
    finally:
        await pg_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(config: Path) -> dict[str, str]:
    """The environment of an `orderbot` process: this config, and this checkout's code first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
    env["ORDERBOT_CONFIG"] = str(config)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def _write_config(path: Path, url: str, api_url: str) -> Path:
    """WeChat on (safe mode) with its API at ``api_url``; every other channel off."""
    path.write_text(f"""\
[database]
url = "{url}"
[server]
host = "127.0.0.1"
timezone = "Asia/Shanghai"
[security]
secret_key = "test-secret-key-0123456789abcdef"
[wechat]
enabled = true
app_id = "{APP_ID}"
app_secret = "{APP_SECRET}"
token = "{TOKEN}"
encoding_aes_key = "{AES_KEY}"
api_base_url = "{api_url}"
[telegram]
enabled = false
[email]
enabled = false
[web]
enabled = false
""", encoding="utf-8")
    return path


async def _seed(config: Path) -> None:
    """An order whose contact gets the code; an unknown WeChat user asking for it needs one."""
    settings = load_settings(config)
    async with database(settings.database.url):
        await build_engine(settings).create_order(
            OrderIn(order_no=NO, customer=CustomerIn(name="张三", email=EMAIL, locale="zh"), amount="12345.67"))


async def _counts(url: str) -> dict[str, int]:
    async with database(url):
        return {"dedupe": await InboundDedupe.filter(channel="wechat").count(),
                "challenges": await Challenge.all().count(),
                "code_mails": await DevMail.filter(to_address=EMAIL).count()}


def _log(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


async def test_two_serve_processes_on_one_postgres_database_handle_a_msgid_tried_three_times_once(
        tmp_path: Path, pg_url: str, wx_api: WeChatApiStub, monkeypatch):
    for key in list(os.environ):  # the in-process seeding reads the config file alone, as the processes do
        if key.startswith("ORDERBOT_"):
            monkeypatch.delenv(key)
    config = _write_config(tmp_path / "orderbot.toml", pg_url, wx_api.url)
    env = _env(config)
    migrated = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "bot", "migrate"], env=env,
                                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert migrated.returncode == 0 and "applied" in migrated.stdout, migrated.stdout + migrated.stderr
    await _seed(config)

    ports, logs, procs = [free_port(), free_port()], [tmp_path / "serve-1.log", tmp_path / "serve-2.log"], []
    try:
        for port, log in zip(ports, logs, strict=True):
            with log.open("w") as out:  # the child keeps its own descriptor
                procs.append(subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)], env=env,
                                              cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT))
        up = await asyncio.gather(*(healthy(port, proc, 30) for port, proc in zip(ports, procs, strict=True)))
        assert all(up), "\n".join(f"--- serve {i + 1}:\n{_log(log)}" for i, log in enumerate(logs))

        push = text_xml(OPENID, f"查订单 {NO}", MSG_ID)
        async with aiohttp.ClientSession() as session:
            one, other = (WeChatServers(session, f"http://127.0.0.1:{port}/webhooks/wechat", safe=True)
                          for port in ports)
            # WeChat's three tries, all in flight at once, reaching one process, the other, the first again
            answers = await asyncio.gather(one.post(push), other.post(push), one.post(push))

        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(asyncio.to_thread(proc.wait, STOP_WITHIN) for proc in procs))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    output = [_log(log) for log in logs]
    shown = "\n".join(f"--- serve {i + 1}:\n{text}" for i, text in enumerate(output))

    assert codes == [0, 0], shown
    assert all(a.status == 200 for a in answers), [(a.status, a.body[:200]) for a in answers]
    passive = [a for a in answers if a.reply]
    later = wx_api.texts_to(OPENID)  # a reply slower than WeChat's 5 s would follow as a customer-service message
    assert len(passive) + len(later) == 1, (answers, later)
    assert all(ASKS_CODE.search(text) for text in [a.text for a in passive] + later)
    assert sum(a.success for a in answers) == 3 - len(passive), "the other tries are answered `success`"
    assert await _counts(pg_url) == {"dedupe": 1, "challenges": 1, "code_mails": 1}
    assert sum(text.count(f"wechat message {MSG_ID} seen before") for text in output) == 2, shown
    assert all("wechat: webhook at" in text for text in output), "both processes ran the WeChat channel"
    assert "Traceback" not in shown and " ERROR " not in shown, shown
