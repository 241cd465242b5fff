"""Shared fixtures: a fresh database per test (SQLite, or PostgreSQL when
``ORDERBOT_TEST_DATABASE_URL`` is set), the engine, a live API server, the CLI, and a
guard that fails any test trying to reach the real network.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.app import build_app, build_engine
from bot.config import Settings, load_settings
from bot.db import database
from models.apikeys import ApiKey, hash_key, new_key
from models.engine import ProgressEngine
from tests.kit.base import PG_URL, SECRET, Api, Bot, CliResult, free_port, migrate, pg_admin, with_db

# ---------------------------------------------------------------- no real network
_LOCAL = ("127.", "::1", "localhost", "0.0.0.0")
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


class RealNetworkCall(RuntimeError):
    """A test tried to reach a host that is not this machine."""


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # unix socket path
        return True
    host = str(address[0])
    return host.startswith(_LOCAL)


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
        raise RealNetworkCall(f"tests may not reach the real network (tried {address})")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
        raise RealNetworkCall(f"tests may not reach the real network (tried {address})")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host is not None and not str(host if not isinstance(host, bytes) else host.decode()).startswith(_LOCAL):
        raise RealNetworkCall(f"tests may not resolve real host names (tried {host})")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def no_real_network() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo  # type: ignore[assignment]


# ---------------------------------------------------------------- databases
@dataclass
class TestDatabase:
    """Where this run's tests keep their data, and how each test gets a fresh copy."""

    kind: str  # "sqlite" or "postgres"
    template: str  # SQLite: a migrated file to copy; PostgreSQL: the run's database URL

    def fresh(self, tmp: Path) -> str:
        if self.kind == "sqlite":
            target = tmp / "orderbot.db"
            shutil.copyfile(self.template, target)
            return f"sqlite://{target}"
        asyncio.run(_truncate(self.template))
        return self.template


async def _truncate(url: str) -> None:
    from tortoise import Tortoise

    async with database(url):
        tables = [m._meta.db_table for app in Tortoise.apps.values() for m in app.values()]
        conn = Tortoise.get_connection("default")
        await conn.execute_script(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


@pytest.fixture(scope="session")
def test_database(tmp_path_factory) -> Iterator[TestDatabase]:
    """Migrated once per run; each test then starts from an empty, current schema."""
    if PG_URL:
        name = f"orderbot_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        url = with_db(PG_URL, name)
        asyncio.run(pg_admin(PG_URL, f'CREATE DATABASE "{name}"'))
        try:
            asyncio.run(migrate(url))
            yield TestDatabase("postgres", url)
        finally:
            asyncio.run(pg_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        asyncio.run(migrate(f"sqlite://{path}"))
        yield TestDatabase("sqlite", str(path))


@pytest.fixture
def db_url(test_database: TestDatabase, tmp_path: Path) -> str:
    """The URL of this test's own, empty, migrated database."""
    return test_database.fresh(tmp_path)


@pytest.fixture
def settings(db_url: str, tmp_path: Path, monkeypatch) -> Settings:
    for key in list(os.environ):
        if key.startswith("ORDERBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return load_settings(None, database={"url": db_url}, security={"secret_key": SECRET},
                         server={"timezone": "Asia/Shanghai"})


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[None]:
    async with database(settings.database.url):
        yield


@pytest.fixture
async def engine(settings: Settings, db) -> ProgressEngine:
    return build_engine(settings)


# ---------------------------------------------------------------- a live API
@pytest.fixture
async def api(settings: Settings, engine: ProgressEngine) -> AsyncIterator[Api]:
    key = new_key()
    await ApiKey.create(name="erp-test", prefix=key[:10], key_hash=hash_key(key))
    server = TestServer(build_app(settings, engine), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield Api(str(server.make_url("")).rstrip("/"), key, session)
    await server.close()


# ---------------------------------------------------------------- the CLI, as a user runs it
@pytest.fixture
def cli(settings: Settings, tmp_path: Path):
    """Run `orderbot ...` in a subprocess against this test's database."""
    config = tmp_path / "test-orderbot.toml"
    config.write_text(f'[database]\nurl = "{settings.database.url}"\n[security]\nsecret_key = "{SECRET}"\n'
                      '[server]\ntimezone = "Asia/Shanghai"\n')

    def run(*args: str, env: dict | None = None, input: str | None = None, timeout: float = 60) -> CliResult:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
        full_env["ORDERBOT_CONFIG"] = str(config)
        full_env.update(env or {})
        p = subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                           env=full_env, cwd=tmp_path, input=input, timeout=timeout)
        return CliResult(p.returncode, p.stdout, p.stderr)

    run.config = config  # type: ignore[attr-defined]
    return run


# ---------------------------------------------------------------- the conversation
@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    from tests.kit.fakes import MailSink

    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, controller.port
    controller.stop()


@pytest.fixture
async def bot(settings: Settings, engine: ProgressEngine, smtp) -> Bot:
    from datetime import datetime, timezone

    from bot.app import build_conversation, make_channel
    from notifications.sending import OutboxSender
    from tests.kit.fakes import Clock

    sink, port = smtp
    settings.email.smtp_host, settings.email.smtp_port = "127.0.0.1", port
    settings.email.smtp_starttls, settings.email.from_address = False, "orders@factory.example"
    clock = Clock(datetime.now(timezone.utc))
    engine.clock = clock
    sender = OutboxSender(settings.notifications, engine, {"email": make_channel("email", settings)})
    return Bot(build_conversation(settings, engine), sender, sink, engine, clock)


@pytest.fixture
async def wx_api():
    """WeChat's API (tests/wechat_fakes.WeChatApiStub) on a loopback port of this process."""
    from aiohttp.test_utils import TestServer

    from tests.kit.wechat_api import WeChatApiStub

    stub = WeChatApiStub()
    server = TestServer(stub.app(), host="127.0.0.1")
    await server.start_server()
    stub.url = str(server.make_url("/"))
    yield stub
    await server.close()


@pytest.fixture(params=["safe", "plaintext"])
def wx_settings(request, settings, wx_api):
    """Settings with the WeChat channel on, in safe mode (AES) and in plaintext mode."""
    from tests.kit.wechat_api import configure

    return configure(settings, wx_api, safe=request.param == "safe")


@pytest.fixture
async def wx(bot: Bot, wx_settings, engine):
    """The service's WeChat webhook, and WeChat's servers posting to it."""
    from bot.conversation.inbound import Inbound
    from tests.kit.wechat_api import WeChatSide, serve

    async with aiohttp.ClientSession() as session:
        server, channel, servers = await serve(wx_settings, engine, Inbound(bot.conversation), session)
        yield WeChatSide(bot, channel, servers)
        await server.close()


@pytest.fixture
async def botapi():
    """Telegram's Bot API (``tests.kit.telegram_api.BotApi``) on a loopback port."""
    from tests.kit.telegram_api import BotApi

    stub = BotApi()
    await stub.start(free_port())
    yield stub
    await stub.stop()


@pytest.fixture
async def h(bot: Bot, api: Api, settings, engine, botapi, wx_api, smtp):
    """The notifications' harness (``tests.kit.notices.Notices``) on a fixed, quiet-free morning."""
    from pydantic import SecretStr

    from adapters.wechat.config import WeChatSettings
    from bot.app import make_channel
    from notifications.sending import OutboxSender
    from tests.kit.notices import DAY, Notices
    from tests.kit.telegram_api import TOKEN
    from tests.kit.wechat_api import APP_ID, APP_SECRET
    from tests.kit.wechat_api import TOKEN as WX_TOKEN

    bot.clock.now = DAY
    t = settings.telegram
    t.enabled, t.token, t.base_url, t.rate_limit_per_second = True, SecretStr(TOKEN), botapi.base_url, 1000
    settings.wechat = WeChatSettings(enabled=True, app_id=APP_ID, app_secret=APP_SECRET, token=WX_TOKEN,
                                     api_base_url=wx_api.url)
    telegram, wechat = make_channel("telegram", settings), make_channel("wechat", settings)
    await telegram.startup()
    await wechat.startup()
    channels = {"telegram": telegram, "wechat": wechat, "email": make_channel("email", settings)}
    sender = OutboxSender(settings.notifications, engine, channels, owner="test-sender", lease_seconds=60,
                          first_retry_seconds=10, poll_seconds=0.05)
    yield Notices(settings, api, bot, bot.clock, botapi, wx_api, smtp[0], sender, channels)
    await telegram.shutdown()
    await wechat.shutdown()
