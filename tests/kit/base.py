"""Constants and helpers every test may use: the test databases, a live API client, the CLI."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bot.db import apply_migrations, database
from models.engine import ProgressEngine

PG_URL = os.environ.get("ORDERBOT_TEST_DATABASE_URL")
SECRET = "test-secret-key-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- databases
def with_db(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def pg_admin(url: str, sql: str) -> None:
    """Run ``sql`` on the server's ``postgres`` database (CREATE / DROP DATABASE)."""
    import asyncpg

    conn = await asyncpg.connect(with_db(url, "postgres").replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def migrate(url: str) -> None:
    async with database(url):
        await apply_migrations()


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


async def healthy(port: int, proc: subprocess.Popen, within: float) -> bool:
    """Whether `orderbot serve` on ``port`` answers /healthz within ``within`` seconds."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                async with s.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    return False


# ---------------------------------------------------------------- the CLI, as a user runs it
@dataclass
class CliResult:
    code: int
    out: str
    err: str


# ---------------------------------------------------------------- the conversation
@dataclass
class Bot:
    """The conversation wired as the service wires it, with a real SMTP server catching mail and
    an outbox sender that mails what a message caused (codes) before the next one."""

    conversation: object
    sender: object
    mail: object
    engine: ProgressEngine
    clock: object

    def flow(self, sender: str = "1001", **kw):
        from tests.kit.fakes import Flow

        return Flow(self.conversation, self.sender, sender=sender, **kw)
