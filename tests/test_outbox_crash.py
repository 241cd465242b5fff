"""The outbox across processes on PostgreSQL: a worker killed between claim and send, and two
workers racing for the same rows.

PostgreSQL only (``ORDERBOT_TEST_DATABASE_URL``): rows are claimed with ``FOR UPDATE SKIP
LOCKED`` there, and several processes on one database is what PostgreSQL is for. Each test
has a database of its own, migrated; its outbox rows are written by real engine changes
(the ``Triggers`` hook of ``bot.app.build_engine``), and the workers are real processes
running this checkout's code (PYTHONPATH), each with the Telegram channel pointed at a Bot
API stand-in in the test process. A worker's bot token tells the stand-in which worker a
sendMessage came from.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import build_engine
from bot.config import Settings, load_settings
from bot.db import database
from models.inputs import CustomerIn, EventIn, OrderIn
from models.outbox import Outbox
from models.people import Identity
from tests.kit.base import PG_URL, ROOT, free_port, migrate, pg_admin, with_db
from tests.kit.telegram_api import BotApi

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set ORDERBOT_TEST_DATABASE_URL")

LEASE = 3.0  # seconds a claim holds a row
FIRST_CHAT = 7_100_000
RACE_ROWS = 200
WORKER_START = 60  # seconds a worker may take to import, connect and say it is ready


WORKER = ("import asyncio, sys\nfrom tests.kit.outbox_worker import work\n"
          "asyncio.run(work(*sys.argv[1:]))\n")


@dataclass
class Worker:
    proc: asyncio.subprocess.Process
    log: Path
    token: str

    async def line(self, within: float = WORKER_START) -> str:
        try:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), within)
        except TimeoutError:
            raw = b""
        if not raw:
            raise AssertionError(f"worker said nothing within {within:.0f} s; its log:\n{self.output()}")
        return raw.decode().strip()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def _start_worker(tmp_path: Path, config: Path, mode: str, owner: str, token: str) -> Worker:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
    env["ORDERBOT_CONFIG"] = str(config)
    env["ORDERBOT_TELEGRAM__TOKEN"] = token
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    log = tmp_path / f"worker-{owner}.log"
    with log.open("wb") as err:  # the child keeps its own descriptor
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WORKER, str(config), mode, owner, str(LEASE), env=env, cwd=tmp_path,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    return Worker(proc, log, token)


# ---------------------------------------------------------------- the Bot API and the database
@dataclass
class StandIn(BotApi):
    """tests.kit.telegram_api.BotApi, also noting which bot (token) each sendMessage came from, and when."""

    senders: list[tuple[str, str, float]] = field(default_factory=list)  # (token, chat_id, wall time)

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "sendMessage":
            params = await request.json()  # the body is kept: BotApi.handle reads it again
            self.senders.append((request.match_info["token"], str(params["chat_id"]), time.time()))
        return await super().handle(request)


@pytest.fixture
async def botapi() -> AsyncIterator[StandIn]:
    api = StandIn()
    await api.start(free_port())
    yield api
    await api.stop()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A new PostgreSQL database of this test's own, migrated (dropped afterwards, connections and all)."""
    name = f"orderbot_outbox_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    await pg_admin(PG_URL, f'CREATE DATABASE "{name}"')
    try:
        url = with_db(PG_URL, name)
        await migrate(url)
        yield url
    finally:
        await pg_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def config(tmp_path: Path, pg_url: str, botapi: StandIn, monkeypatch) -> Path:
    """The workers' config: Telegram on (its Bot API is the stand-in); notices due at once, at any hour."""
    for key in list(os.environ):  # the test process reads the config file alone, as the workers do
        if key.startswith("ORDERBOT_"):
            monkeypatch.delenv(key)
    path = tmp_path / "orderbot.toml"
    path.write_text(f"""\
[database]
url = "{pg_url}"
[server]
timezone = "Asia/Shanghai"
[security]
secret_key = "test-secret-key-0123456789abcdef"
[telegram]
enabled = true
token = "100:TEST-process"
mode = "webhook"
webhook_secret = "hook-secret-0123"
base_url = "{botapi.base_url}"
[notifications]
quiet_hours = ""
digest_seconds = 0
""", encoding="utf-8")
    return path


async def _seed(settings: Settings, chats: list[int], node: str = "paid") -> None:
    """One bound customer per chat, each with an order; the orders move to ``node`` through the
    engine, whose hook writes the outbox row for the customer in the same transaction."""
    engine = build_engine(settings)
    numbers = [f"SO2026{chat:08d}" for chat in chats]
    for no, chat in zip(numbers, chats, strict=True):
        order, created = await engine.create_order(OrderIn(
            order_no=no, customer=CustomerIn(name=f"客户{chat}", email=f"c{chat}@buyer.example", locale="zh")))
        assert created
        await Identity.create(channel="telegram", external_id=str(chat), customer_id=order.customer_id, locale="zh")
    for step in ("approved", node):
        done = await asyncio.gather(*(engine.apply_event(no, EventIn(event_id=f"{no}-{step}", node=step))
                                      for no in numbers))
        assert all(not r.replayed for r in done)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------- the tests
async def test_a_worker_killed_between_claim_and_send_leaves_the_row_to_be_sent_once_after_its_lease(
        tmp_path: Path, config: Path, botapi: StandIn):
    settings = load_settings(config)
    chat = FIRST_CHAT
    async with database(settings.database.url):
        await _seed(settings, [chat])
        rows = await Outbox.all()
        assert [(r.kind, r.channel, r.address, r.status) for r in rows] == \
            [("node_entered", "telegram", str(chat), "pending")], "one notice, for the customer's chat"
        row_id = rows[0].id

        dead_owner = f"crashing-{uuid.uuid4().hex[:6]}"
        worker = await _start_worker(tmp_path, config, "crash", dead_owner, "201:WORKER-A")
        try:
            assert await worker.line() == f"claimed {row_id}", worker.output()
            worker.proc.send_signal(signal.SIGKILL)
            assert await asyncio.wait_for(worker.proc.wait(), 10) == -signal.SIGKILL
        finally:
            await worker.close()
        killed_at = datetime.now(timezone.utc)

        row = await Outbox.get(id=row_id)
        assert (row.status, row.lease_owner, row.attempts, row.sent_at, row.sent_via) == \
            ("sending", dead_owner, 0, None, None)
        lease_until = _aware(row.lease_until)
        assert killed_at < lease_until <= killed_at + timedelta(seconds=LEASE), (killed_at, lease_until)
        assert botapi.sent() == [], "the killed worker sent nothing"

        # A second worker (this process) runs the sender the whole time.
        from bot.app import make_channel
        from notifications.sending import OutboxSender

        channel = make_channel("telegram", settings)  # the config's own token: "100:TEST-process"
        await channel.startup()
        sender = OutboxSender(settings.notifications, build_engine(settings), {"telegram": channel},
                                  owner="survivor", lease_seconds=LEASE, poll_seconds=0.1)
        running = asyncio.create_task(sender.run())
        try:
            before_end = (lease_until - datetime.now(timezone.utc)).total_seconds() - 0.3
            assert before_end > 0.5, "too little of the lease was left to watch"
            await asyncio.sleep(before_end)
            row = await Outbox.get(id=row_id)
            assert botapi.sent() == [] and (row.status, row.lease_owner) == ("sending", dead_owner), \
                "nothing is sent while the dead worker's lease lasts"

            deadline = time.monotonic() + LEASE + 15
            while not botapi.sent() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.5)  # time for a second send, if there were going to be one
        finally:
            await sender.stop()
            await running
            await channel.shutdown()

        assert len(botapi.sent()) == 1, botapi.calls
        token, to, at = botapi.senders[0]
        assert (token, to) == ("100:TEST-process", str(chat))
        assert datetime.fromtimestamp(at, timezone.utc) >= lease_until, "sent only after the lease ended"
        assert "SO2026" in botapi.sent()[0]["text"]
        row = await Outbox.get(id=row_id)
        assert (row.status, row.sent_via, row.lease_owner, row.lease_until, row.attempts, row.last_error) == \
            ("sent", f"telegram:{chat}", None, None, 0, None)
        assert row.sent_at is not None


async def test_two_workers_racing_for_the_same_rows_send_each_exactly_once(
        tmp_path: Path, config: Path, botapi: StandIn):
    settings = load_settings(config)
    chats = [FIRST_CHAT + i for i in range(RACE_ROWS)]
    async with database(settings.database.url):
        await _seed(settings, chats)
        assert await Outbox.filter(status="pending", kind="node_entered").count() == RACE_ROWS

        tokens = {"a": "301:WORKER-A", "b": "302:WORKER-B"}
        workers = [await _start_worker(tmp_path, config, "race", f"racer-{name}", token)
                   for name, token in tokens.items()]
        try:
            for w in workers:
                assert await w.line() == "ready", w.output()
            for w in workers:  # both start claiming at once
                w.proc.stdin.write(b"go\n")
                await w.proc.stdin.drain()
            for w in workers:
                assert await w.line(90) == "done", w.output()
                assert await asyncio.wait_for(w.proc.wait(), 30) == 0, w.output()
        finally:
            for w in workers:
                await w.close()
        logs = "\n".join(f"--- {w.token}:\n{w.output()}" for w in workers)

        sent = Counter(to for _, to, _ in botapi.senders)
        assert len(botapi.sent()) == RACE_ROWS, logs
        assert sent == Counter({str(c): 1 for c in chats}), \
            f"every chat exactly once; twice: {[c for c, n in sent.items() if n > 1]}"
        by_worker = Counter(token for token, _, _ in botapi.senders)
        assert set(by_worker) == set(tokens.values()) and min(by_worker.values()) > 0, \
            f"both workers took part: {by_worker}"
        assert not [c for c in botapi.calls if c[0] in ("429", "403")], "the stand-in refused nothing"

        rows = await Outbox.all().order_by("id")
        assert len(rows) == RACE_ROWS
        assert [(r.status, r.sent_via, r.attempts, r.lease_owner, r.digest_of) for r in rows] == \
            [("sent", f"telegram:{r.address}", 0, None, None) for r in rows]
        assert "Traceback" not in logs, logs
