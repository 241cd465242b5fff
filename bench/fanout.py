"""Benchmark: node events fanned out to bound customers, through the outbox and its sender,
against a Bot API stand-in that keeps Telegram's limits.

Sets up a throwaway orderbot (a temp dir with its own orderbot.toml, a fresh SQLite file or
PostgreSQL database) with ``-n`` customers, each with an order at ``qc`` and a Telegram chat
bound to them. Then:

1. events → outbox rows: ``-n`` ``outbound`` events (a notify_customer node) go through the
   progress engine in this process (``engine.apply_event``, ``-c`` at a time, so the
   group-commit writer batches them); the engine's hook writes each customer's outbox row in
   the event's transaction. Timed until every call has returned (committed), then the rows
   are counted.
2. outbox → Telegram: ``orderbot serve`` starts as a subprocess (its outbox sender, its Telegram
   channel and the one limiter, ``[telegram] rate_limit_per_second``) with the Bot API pointed
   at a stand-in in this process. The stand-in answers 429 (``retry_after``) past 30 messages
   in any 1 s window overall, past 1 message a second to a chat and past 20 a minute to a
   group, like Telegram. It counts what it took and refused, per chat.

Prints events → outbox rows/s, messages/s achieved against the 30/s limit, 429s, lost and
duplicated messages, and what the outbox says of each row. Everything it creates is removed
at the end.

    python bench/fanout.py -n 1000                  # SQLite, 1,000 customers (~35 s of sending)
    python bench/fanout.py                          # 10,000 customers (~5.5 min of sending)
    python bench/fanout.py --database postgres --pg-url postgres://postgres@127.0.0.1:5432/postgres
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import math
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from api_events import (
    Server,
    free_port,
    orderbot,
    positive,
    postgres_database,
    proc_cpu_s,
    proc_status_kb,
    wait_healthy,  # noqa: E402 - sibling script
)
from tortoise.functions import Count

from bot.app import build_engine
from bot.config import load_settings
from bot.db import database
from models import schedule
from models.inputs import EventIn
from models.orders import NodeEvent, Order, OrderCommercial
from models.outbox import Outbox
from models.people import Customer, Identity
from models.workflows import load_workflows

TOKEN, SECRET = "4242:FANOUT", "bench-secret-123"
FIRST_CHAT = 6_000_000
AT_NODE, EVENT_NODE = "qc", "outbound"  # the event moves each order into a notify_customer node
TELEGRAM_PER_SECOND, TELEGRAM_CHAT_GAP, TELEGRAM_GROUP_PER_MINUTE = 30, 1.0, 20
TARGET_ROWS_PER_S = 2000
SEED_BATCH = 2000
FINAL = ("sent", "failed", "undeliverable")


def order_no(i: int) -> str:
    return f"SO8{i:011d}"


# ---------------------------------------------------------------- Telegram, with its limits
@dataclass
class LimitedBotApi:
    """The Bot API as far as the bot uses it, refusing with 429 what Telegram would refuse.

    Overall: at most ``per_second`` messages taken in any 1 s window. A private chat: at most one
    message a second. A group (negative id): at most 20 a minute. A refused call is not taken
    and counts against nothing; its ``retry_after`` is the whole seconds until it would pass.
    """

    per_second: int = TELEGRAM_PER_SECOND
    taken: collections.deque = field(default_factory=collections.deque)  # times of the last second's messages
    times: list[float] = field(default_factory=list)  # every message taken, in order
    per_chat: collections.Counter = field(default_factory=collections.Counter)
    last_in_chat: dict[int, float] = field(default_factory=dict)
    group_minute: dict[int, collections.deque] = field(default_factory=dict)
    refused_overall: int = 0
    refused_chat: int = 0
    refused_group: int = 0
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "getMe":
            return web.json_response({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "B",
                                                             "username": "fanout_bot"}})
        if method != "sendMessage":
            return web.json_response({"ok": True, "result": True})
        params = await request.json()
        chat, now = int(params["chat_id"]), time.monotonic()
        while self.taken and self.taken[0] <= now - 1.0:
            self.taken.popleft()
        if len(self.taken) >= self.per_second:
            self.refused_overall += 1
            return self._too_many(self.taken[0] + 1.0 - now)
        last = self.last_in_chat.get(chat)
        if chat > 0 and last is not None and now - last < TELEGRAM_CHAT_GAP:
            self.refused_chat += 1
            return self._too_many(last + TELEGRAM_CHAT_GAP - now)
        if chat < 0:
            minute = self.group_minute.setdefault(chat, collections.deque())
            while minute and minute[0] <= now - 60:
                minute.popleft()
            if len(minute) >= TELEGRAM_GROUP_PER_MINUTE:
                self.refused_group += 1
                return self._too_many(minute[0] + 60 - now)
            minute.append(now)
        self.taken.append(now)
        self.times.append(now)
        self.per_chat[chat] += 1
        self.last_in_chat[chat] = now
        self.progress.set()
        return web.json_response({"ok": True, "result": {
            "message_id": len(self.times), "date": int(time.time()), "text": params.get("text", ""),
            "chat": {"id": chat, "type": "private" if chat > 0 else "group"}}})

    @staticmethod
    def _too_many(wait: float) -> web.Response:
        return web.json_response({"ok": False, "error_code": 429, "description": "Too Many Requests: retry later",
                                  "parameters": {"retry_after": max(1, math.ceil(wait))}}, status=429)

    @property
    def refused(self) -> int:
        return self.refused_overall + self.refused_chat + self.refused_group

    def busiest_second(self) -> int:
        """The most messages taken in any 1 s window."""
        best, start = 0, 0
        for end, t in enumerate(self.times):
            while self.times[start] <= t - 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best


# ---------------------------------------------------------------- set-up
def write_config(folder: Path, db_url: str, port: int, api_port: int, rate: float) -> Path:
    """Telegram on with its Bot API at the stand-in; notices due at once (no digest wait), at any hour."""
    path = folder / "orderbot.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n'
                    f'[security]\nsecret_key = "{secrets.token_urlsafe(32)}"\n'
                    f'[server]\nhost = "127.0.0.1"\nport = {port}\n'
                    f'[telegram]\nenabled = true\ntoken = "{TOKEN}"\nmode = "webhook"\nwebhook_secret = "{SECRET}"\n'
                    f'base_url = "http://127.0.0.1:{api_port}/bot"\nrate_limit_per_second = {rate}\n'
                    '[notifications]\nquiet_hours = ""\ndigest_seconds = 0\n',
                    encoding="utf-8")
    return path


async def seed(db_url: str, n: int) -> None:
    """``n`` customers, each with an order at ``qc`` (and its history) and a bound Telegram chat."""
    wf = load_workflows(None).workflows["standard"]
    history = [node.key for node in wf.nodes[: wf.index(AT_NODE) + 1]]
    now = schedule.utcnow()
    at = now - timedelta(hours=1)
    async with database(db_url):
        for start in range(0, n, SEED_BATCH):
            span = range(start, min(n, start + SEED_BATCH))
            await Customer.bulk_create([Customer(name=f"客户{i}", email=f"c{i}@fanout.example",
                                                 locale="zh" if i % 3 else "en") for i in span])
            customers = dict(await Customer.filter(email__in=[f"c{i}@fanout.example" for i in span])
                             .values_list("email", "id"))
            ids = [customers[f"c{i}@fanout.example"] for i in span]
            await Order.bulk_create([Order(order_no=order_no(i), workflow="standard", customer_id=c,
                                           current_node=AT_NODE, node_entered_at=at, placed_at=at,
                                           eta=schedule.eta(wf, AT_NODE, at, now), fingerprint="0" * 64)
                                     for i, c in zip(span, ids)])
            orders = dict(await Order.filter(order_no__in=[order_no(i) for i in span]).values_list("order_no", "id"))
            oids = [orders[order_no(i)] for i in span]
            await OrderCommercial.bulk_create([OrderCommercial(order_id=o, amount=100) for o in oids])
            await NodeEvent.bulk_create([NodeEvent(order_id=o, event_id=f"e{k}", kind="advance" if k else "create",
                                                   node=node, at=at, source="import", fingerprint="0" * 64)
                                         for o in oids for k, node in enumerate(history)])
            await Identity.bulk_create([Identity(channel="telegram", external_id=str(FIRST_CHAT + i), customer_id=c,
                                                 locale="zh" if i % 3 else "en") for i, c in zip(span, ids)])


# ---------------------------------------------------------------- phase 1: events → outbox rows
@dataclass
class Phase1:
    events: int
    seconds: float
    rows: int
    refused: list[str]


async def events_to_outbox(config: Path, n: int, concurrency: int) -> Phase1:
    """Apply the events through the engine, ``concurrency`` at a time; count the outbox rows."""
    settings = load_settings(config)
    engine = build_engine(settings)  # with the Triggers hook, as every orderbot process builds it
    todo = collections.deque(range(n))
    refused: list[str] = []

    async def client() -> None:
        while todo:
            i = todo.popleft()
            try:
                await engine.apply_event(order_no(i), EventIn(
                    event_id=f"ship-{i}", node=EVENT_NODE, actor="wms",
                    data={"carrier": "SF", "tracking_no": f"SF{9_000_000_000_000 + i}"}))
            except Exception as e:  # noqa: BLE001 - counted and shown
                refused.append(f"{order_no(i)}: {type(e).__name__}: {e}")

    async with database(settings.database.url):
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        rows = await Outbox.filter(kind="node_entered", status="pending").count()
    return Phase1(n, seconds, rows, refused)


# ---------------------------------------------------------------- phase 2: the outbox sender
async def outbox_statuses() -> dict[str, int]:
    return dict(await Outbox.annotate(count=Count("id")).group_by("status").values_list("status", "count"))


@dataclass
class Phase2:
    api: LimitedBotApi
    ready_at: float
    finished: bool
    statuses: dict[str, int]
    serve_cpu_s: float
    serve_rss_mb: float
    log_problems: list[str]


async def dispatch(config: Path, folder: Path, port: int, api_port: int, n: int, args: argparse.Namespace
                   ) -> Phase2:
    """Start the stand-in and ``orderbot serve``; wait until every chat has its message and every row is settled."""
    api = LimitedBotApi()
    stand_in = web.Application()
    stand_in.router.add_route("*", "/bot{token}/{method}", api.handle)
    runner = web.AppRunner(stand_in, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", api_port).start()

    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        server = Server(subprocess.Popen(["orderbot", "-c", str(config), "--log-level", "WARNING", "serve"],
                                         stdout=log, stderr=subprocess.STDOUT),
                        f"http://127.0.0.1:{port}", log_path)
    settings = load_settings(config)
    finished = False
    try:
        await wait_healthy(server)
        ready_at = time.monotonic()
        cpu = proc_cpu_s(server.proc.pid)
        last_report = ready_at
        while len(api.per_chat) < n:  # every chat has a message, or nothing moves for --stall seconds
            api.progress.clear()
            try:
                await asyncio.wait_for(api.progress.wait(), args.stall)
            except TimeoutError:
                print(f"  no message for {args.stall:.0f} s: giving up", flush=True)
                break
            if time.monotonic() - last_report >= 30:
                last_report = time.monotonic()
                print(f"  {len(api.times):>6,} messages, {api.refused} refused, "
                      f"{last_report - ready_at:5.0f} s", flush=True)
        async with database(settings.database.url):
            deadline = time.monotonic() + args.settle
            while True:  # the last rows are recorded just after their message was taken
                statuses = await outbox_statuses()
                if sum(statuses.get(s, 0) for s in FINAL) >= n or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.2)
            finished = sum(statuses.get(s, 0) for s in FINAL) >= n
            await asyncio.sleep(args.linger)  # a row sent twice would show here
            statuses = await outbox_statuses()
        serve_cpu = proc_cpu_s(server.proc.pid) - cpu
        rss = proc_status_kb(server.proc.pid, "VmHWM") / 1024
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()
        await runner.cleanup()
    text = log_path.read_text(errors="replace")
    problems = [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]
    return Phase2(api, ready_at, finished, statuses, serve_cpu, rss, problems)


# ---------------------------------------------------------------- the report
def report(args: argparse.Namespace, one: Phase1, two: Phase2) -> bool:
    n, api = args.customers, two.api
    rows_per_s = one.events / one.seconds
    print(f"\n== phase 1: {one.events:,} node events → outbox rows (engine.apply_event, concurrency "
          f"{args.concurrency}, {args.database}) ==")
    print(f"time             {one.seconds:.2f} s")
    print(f"events/s         {rows_per_s:,.0f}")
    print(f"outbox rows      {one.rows:,} pending for {n:,} bound customers "
          f"({one.rows / one.seconds:,.0f} rows/s)")
    if one.refused:
        print(f"refused events   {len(one.refused)}: {one.refused[:3]}")

    sent = len(api.times)
    span = api.times[-1] - api.times[0] if sent > 1 else 0.0
    rate = (sent - 1) / span if span else 0.0
    since_ready = sent / (api.times[-1] - two.ready_at) if sent else 0.0
    lost = sum(1 for i in range(n) if api.per_chat[FIRST_CHAT + i] == 0)
    duplicated = sum(c - 1 for c in api.per_chat.values() if c > 1)
    strangers = sum(c for chat, c in api.per_chat.items() if not FIRST_CHAT <= chat < FIRST_CHAT + n)
    print(f"\n== phase 2: outbox → Telegram (orderbot serve, rate_limit_per_second {args.rate:g}; the stand-in "
          f"allows {TELEGRAM_PER_SECOND}/s overall, 1/s per chat) ==")
    print(f"messages taken   {sent:,} in {span:.1f} s (first to last); {since_ready:.1f}/s counting from "
          f"serve ready")
    print(f"messages/s       {rate:.2f}  ({rate / TELEGRAM_PER_SECOND:.0%} of Telegram's {TELEGRAM_PER_SECOND}/s)")
    print(f"busiest second   {api.busiest_second()} messages")
    print(f"429 answers      {api.refused}  (overall {api.refused_overall}, per chat {api.refused_chat}, "
          f"per group {api.refused_group})")
    print(f"lost             {lost}  (customers without a message)")
    print(f"duplicated       {duplicated}  (messages beyond the first to a customer)"
          + (f"; {strangers} to unknown chats" if strangers else ""))
    print(f"outbox rows      {', '.join(f'{k} {v:,}' for k, v in sorted(two.statuses.items()))}"
          + ("" if two.finished else "  (not all settled)"))
    print(f"serve CPU        {two.serve_cpu_s:.1f} s ({two.serve_cpu_s / max(sent, 1) * 1000:.2f} ms/message); "
          f"peak RSS {two.serve_rss_mb:.0f} MB")
    if two.log_problems:
        print(f"serve log        {len(two.log_problems)} ERROR/Traceback lines, first: {two.log_problems[0][:300]}")

    print("\n== summary ==")
    checks = [
        ("events → rows/s", f"{rows_per_s:,.0f}", f"≥ {TARGET_ROWS_PER_S:,} (SQLite)",
         rows_per_s >= TARGET_ROWS_PER_S or args.database != "sqlite"),
        ("messages/s", f"{rate:.1f}", f"the {TELEGRAM_PER_SECOND}/s limit", None),
        ("429 answers", f"{api.refused}", "0", api.refused == 0),
        ("lost", f"{lost}", "0", lost == 0),
        ("duplicated", f"{duplicated}", "0", duplicated == 0),
        ("rows marked sent", f"{two.statuses.get('sent', 0):,}", f"{n:,}", two.statuses.get("sent", 0) == n),
    ]
    ok = True
    for name, value, target, good in checks:
        mark = "" if good is None else ("OK" if good else "MISSED")
        ok = ok and good is not False
        print(f"{name:<17}{value:>8}   (target {target})  {mark}")
    return ok


def run(args: argparse.Namespace, folder: Path, db_url: str) -> bool:
    port, api_port = free_port(), free_port()
    config = write_config(folder, db_url, port, api_port, args.rate)
    orderbot(config, "migrate")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    started = time.perf_counter()
    asyncio.run(seed(db_url, args.customers))
    print(f"seeded {args.customers:,} customers, each with an order at {AT_NODE} and a bound Telegram chat, "
          f"in {time.perf_counter() - started:.1f} s")
    one = asyncio.run(events_to_outbox(config, args.customers, args.concurrency))
    print(f"phase 1: {one.events:,} events in {one.seconds:.2f} s → {one.rows:,} outbox rows; "
          f"sending (≈ {args.customers / min(args.rate, TELEGRAM_PER_SECOND):.0f} s at best)", flush=True)
    two = asyncio.run(dispatch(config, folder, port, api_port, args.customers, args))
    return report(args, one, two)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                   help="admin URL; a throwaway database is created next to it")
    p.add_argument("-n", "--customers", type=positive, default=10_000,
                   help="bound customers, node events and messages")
    p.add_argument("-c", "--concurrency", type=positive, default=64, help="events applied at once in phase 1")
    p.add_argument("--rate", type=float, default=TELEGRAM_PER_SECOND,
                   help="[telegram] rate_limit_per_second of the server")
    p.add_argument("--stall", type=float, default=60, help="give up when no message came for this long (s)")
    p.add_argument("--settle", type=float, default=30, help="wait this long at most for the last rows' records (s)")
    p.add_argument("--linger", type=float, default=5, help="keep the server running this long after the end (s)")
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="orderbot-fanout-"))
    try:
        if args.database == "sqlite":
            ok = run(args, folder, f"sqlite://{folder / 'orderbot.db'}")
        else:
            with postgres_database(args.pg_url) as url:
                ok = run(args, folder, url)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
