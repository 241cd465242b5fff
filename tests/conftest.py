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
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.app import build_app, build_engine
from bot.config import Settings, load_settings
from bot.db import apply_migrations, database
from models.apikeys import ApiKey, hash_key, new_key
from models.engine import ProgressEngine

PG_URL = os.environ.get("ORDERBOT_TEST_DATABASE_URL")
SECRET = "test-secret-key-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent


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
def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_with_db(url, "postgres").replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    async with database(url):
        await apply_migrations()


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
        url = _with_db(PG_URL, name)
        asyncio.run(_pg_admin(PG_URL, f'CREATE DATABASE "{name}"'))
        try:
            asyncio.run(_migrate(url))
            yield TestDatabase("postgres", url)
        finally:
            asyncio.run(_pg_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        asyncio.run(_migrate(f"sqlite://{path}"))
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
class Api:
    """A client of the running API with a valid key; answers (status, json)."""

    def __init__(self, base: str, key: str, session: aiohttp.ClientSession) -> None:
        self.base, self.key, self.session = base, key, session

    async def call(self, method: str, path: str, body=None, *, key: str | None = "default",
                   raw: bytes | None = None, headers: dict | None = None):
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = f"Bearer {self.key if key == 'default' else key}"
        kw = {"data": raw} if raw is not None else ({"json": body} if body is not None else {})
        async with self.session.request(method, self.base + path, headers=h, **kw) as r:
            data = await r.json(content_type=None) if (await r.read()) else None
            self.last_headers = r.headers
            return r.status, data

    async def create(self, order_no: str = "SO202611240001", **extra):
        return await self.call("POST", "/api/v1/orders", order_body(order_no, **extra))

    async def event(self, order_no: str, event_id: str, node: str, **extra):
        return await self.call("POST", f"/api/v1/orders/{order_no}/events",
                               {"event_id": event_id, "node": node, **extra})


def order_body(order_no: str = "SO202611240001", **extra) -> dict:
    body = {
        "order_no": order_no, "workflow": "standard",
        "customer": {"name": "张三", "email": "zhang@buyer.example", "phone": "13812345678", "locale": "zh"},
        "promised_date": "2030-01-31", "amount": 12345.67,
    }
    body.update(extra)
    return body


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
@dataclass
class CliResult:
    code: int
    out: str
    err: str


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the conversation
@dataclass
class Bot:
    """The conversation wired as the service wires it, with a real SMTP server catching mail."""

    dispatcher: object
    background: object
    mail: object
    engine: ProgressEngine
    clock: object

    def flow(self, sender: str = "1001", **kw):
        from tests.fakes import Flow

        return Flow(self.dispatcher, self.background, sender=sender, **kw)


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    from tests.fakes import MailSink

    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, controller.port
    controller.stop()


@pytest.fixture
async def bot(settings: Settings, engine: ProgressEngine, smtp) -> Bot:
    from datetime import datetime, timezone

    from bot.app import build_dispatcher
    from bot.background import Background
    from tests.fakes import Clock

    sink, port = smtp
    settings.email.smtp_host, settings.email.smtp_port = "127.0.0.1", port
    settings.email.smtp_starttls, settings.email.from_address = False, "orders@factory.example"
    clock = Clock(datetime.now(timezone.utc))
    engine.clock = clock
    background = Background()
    return Bot(build_dispatcher(settings, engine, background), background, sink, engine, clock)


@pytest.fixture
async def wx_api():
    """WeChat's API (tests/wechat_fakes.WeChatApiStub) on a loopback port of this process."""
    from aiohttp.test_utils import TestServer

    from tests.wechat_fakes import WeChatApiStub

    stub = WeChatApiStub()
    server = TestServer(stub.app(), host="127.0.0.1")
    await server.start_server()
    stub.url = str(server.make_url("/"))
    yield stub
    await server.close()
