"""Benchmark: Telegram updates through the whole pipeline, webhook to sendMessage.

Starts `orderbot serve` (SQLite) with the Telegram channel on, its Bot API replaced by a
stand-in in this process, and customers whose chats are already bound to their orders.
Each update asks "SO… 到哪了" from its own chat (so Telegram's one-message-a-second per chat
does not pace the run); the time counted is from posting the update to the stand-in
receiving the answer's sendMessage. `[telegram] rate_limit_per_second` is raised: this
measures our pipeline, not Telegram's broadcast limit. Then the same number of requests go
to a bare aiohttp handler doing one SQLite lookup (bench/bare_lookup.py), for the ratio.

    python bench/inbound.py                  # 3,000 updates at concurrency 16, then 500/s offered
    python bench/inbound.py -n 5000 -c 32 --rate 800 --seconds 10
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from api_events import (
    RssSampler,
    Server,  # noqa: E402 - sibling script
    free_port,
    mb,
    orderbot,
    proc_cpu_s,
    proc_status_kb,
    wait_healthy,
)

from bot.db import database
from models import schedule
from models.orders import NodeEvent, Order, OrderCommercial
from models.people import Customer, Identity
from models.workflows import load_workflows

TOKEN, SECRET = "4242:BENCH", "bench-secret-123"
FIRST_USER = 5_000_000
TARGET_RATIO, TARGET_P99_MS, TARGET_RSS_MB, OFFERED = 0.5, 50.0, 200.0, 500


class BotApi:
    """Telegram's Bot API as far as the bot uses it; resolves a waiter per chat on sendMessage."""

    def __init__(self) -> None:
        self.waiting: dict[int, asyncio.Future] = {}
        self.sent = 0

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await request.read()
        params = json.loads(body) if request.content_type == "application/json" else dict(await request.post())
        if method == "getMe":
            return web.json_response({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "B",
                                                             "username": "bench_bot"}})
        if method == "sendMessage":
            self.sent += 1
            chat = int(params["chat_id"])
            if (f := self.waiting.pop(chat, None)) is not None and not f.done():
                f.set_result(time.perf_counter())
            return web.json_response({"ok": True, "result": {"message_id": self.sent, "date": 0, "text": "",
                                                             "chat": {"id": chat, "type": "private"}}})
        return web.json_response({"ok": True, "result": True})


def carried(done: asyncio.Future, answer: bytes) -> None:
    """An answer that came back as the webhook call's response (a sendMessage method call)."""
    if answer[:1] == b"{" and not done.done():
        done.set_result(time.perf_counter())


def update(i: int, order_no: str) -> bytes:
    user = FIRST_USER + i
    return json.dumps({"update_id": i + 1, "message": {
        "message_id": i + 1, "date": int(time.time()), "text": f"{order_no} 到哪了",
        "chat": {"id": user, "type": "private", "first_name": "C"},
        "from": {"id": user, "is_bot": False, "first_name": "C", "language_code": "zh-hans"}}}).encode()


def order_no(i: int) -> str:
    return f"SO7{i:011d}"


async def seed(db_url: str, n: int) -> None:
    """``n`` customers, each with an order at stocking and a Telegram chat bound to them."""
    wf = load_workflows(None).workflows["standard"]
    now = schedule.utcnow()
    async with database(db_url):
        await Customer.bulk_create([Customer(name=f"C{i}", email=f"c{i}@bench.example") for i in range(n)])
        customers = await Customer.all().order_by("id").values_list("id", flat=True)
        at = now - timedelta(days=3)
        await Order.bulk_create([Order(order_no=order_no(i), workflow="standard", customer_id=customers[i],
                                       current_node="stocking", node_entered_at=at, placed_at=at,
                                       eta=schedule.eta(wf, "stocking", at, now), fingerprint="0" * 64)
                                 for i in range(n)])
        ids = await Order.all().order_by("id").values_list("id", flat=True)
        await OrderCommercial.bulk_create([OrderCommercial(order_id=o, amount=100) for o in ids])
        await NodeEvent.bulk_create([NodeEvent(order_id=o, event_id=f"e{k}", kind="advance" if k else "create",
                                               node=node, at=at, source="import", fingerprint="0" * 64)
                                     for o in ids for k, node in enumerate(("placed", "approved", "paid", "stocking"))])
        await Identity.bulk_create([Identity(channel="telegram", external_id=str(FIRST_USER + i),
                                             customer_id=customers[i], locale="zh") for i in range(n)])


async def closed_loop(url: str, bodies: list[bytes], concurrency: int, api: BotApi | None) -> tuple[float, list]:
    """``concurrency`` clients, each waits for its answer before the next: (seconds, latencies ms)."""
    queue = list(enumerate(bodies))
    latencies: list[float] = []
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}

    async def worker(session: aiohttp.ClientSession) -> None:
        while queue:
            i, body = queue.pop()
            done = asyncio.get_running_loop().create_future()
            if api is not None:
                api.waiting[FIRST_USER + i] = done
            sent = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as r:
                carried(done, await r.read())
            arrived = await asyncio.wait_for(done, 30) if api is not None else time.perf_counter()
            latencies.append((arrived - sent) * 1000)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


async def open_loop(url: str, bodies: list[bytes], rate: float, api: BotApi) -> list[float]:
    """Post at a steady ``rate`` whatever the answers do; latency to each sendMessage."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    latencies: list[float] = []

    async def one(session: aiohttp.ClientSession, chat: int, body: bytes) -> None:
        done = asyncio.get_running_loop().create_future()
        api.waiting[chat] = done
        sent = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as r:
            carried(done, await r.read())
        try:
            latencies.append((await asyncio.wait_for(done, 30) - sent) * 1000)
        except TimeoutError:
            latencies.append(float("inf"))  # no answer within 30 s

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        start, tasks = time.perf_counter(), []
        for k, (chat, body) in enumerate(bodies):
            await asyncio.sleep(max(0.0, start + k / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(session, chat, body)))
        await asyncio.gather(*tasks)
    return latencies


def quiet_collector() -> None:
    """No garbage collection in this process while it times: a full collection over what
    seeding left (about 60 ms) held up the client's event loop and was counted as the
    server's latency (found with a loop watchdog in both processes). The client makes little
    garbage in a run; the collector is not needed before it exits."""
    gc.collect()
    gc.freeze()
    gc.disable()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def write_config(folder: Path, db_url: str, port: int, api_port: int) -> Path:
    path = folder / "orderbot.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n[security]\nsecret_key = "{secrets.token_urlsafe(32)}"\n'
                    f'[server]\nhost = "127.0.0.1"\nport = {port}\n'
                    f'[telegram]\nenabled = true\ntoken = "{TOKEN}"\nmode = "webhook"\nwebhook_secret = "{SECRET}"\n'
                    f'base_url = "http://127.0.0.1:{api_port}/bot"\nrate_limit_per_second = 100000\n',
                    encoding="utf-8")
    return path


async def yardstick(script: str, path: str, bodies: list[bytes], db_file: Path,
                    concurrency: int) -> tuple[float, list[float], float]:
    """A sibling server script on ``db_file``, posted ``bodies`` at ``path`` in a closed loop:
    (seconds, latencies ms, its CPU ms per request)."""
    port = free_port()
    server = Server(subprocess.Popen([sys.executable, str(Path(__file__).with_name(script)), str(db_file), str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT),
                    f"http://127.0.0.1:{port}", db_file.with_name(script + ".log"))
    try:
        await wait_healthy(server)
        cpu = proc_cpu_s(server.proc.pid)
        wall, latencies = await closed_loop(server.base + path, bodies, concurrency, None)
        return wall, latencies, (proc_cpu_s(server.proc.pid) - cpu) / len(bodies) * 1000
    finally:
        server.stop()


async def measure(args: argparse.Namespace, folder: Path) -> None:
    db_file = folder / "orderbot.db"
    offered = int(args.rate * args.seconds)
    api, api_port, port = BotApi(), free_port(), free_port()
    config = write_config(folder, f"sqlite://{db_file}", port, api_port)
    orderbot(config, "migrate")
    started = time.perf_counter()
    await seed(f"sqlite://{db_file}", args.updates + offered)
    print(f"seeded {args.updates + offered:,} customers with an order and a bound chat in "
          f"{time.perf_counter() - started:.1f} s")

    stand_in = web.Application()
    stand_in.router.add_route("*", "/bot{token}/{method}", api.handle)
    runner = web.AppRunner(stand_in, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", api_port).start()

    log = (folder / "serve.log").open("wb")
    server = Server(subprocess.Popen(["orderbot", "-c", str(config), "--log-level", "WARNING", "serve"],
                                     stdout=log, stderr=subprocess.STDOUT), f"http://127.0.0.1:{port}",
                    folder / "serve.log")
    try:
        await wait_healthy(server)
        sampler = RssSampler(server.proc.pid)
        sampler.start()
        url = server.base + "/webhooks/telegram"
        bodies = [update(i, order_no(i)) for i in range(args.updates)]
        extra = [(FIRST_USER + i, update(i, order_no(i))) for i in range(args.updates, args.updates + offered)]
        quiet_collector()
        cpu = proc_cpu_s(server.proc.pid)
        wall, closed = await closed_loop(url, bodies, args.concurrency, api)
        server_ms = (proc_cpu_s(server.proc.pid) - cpu) / len(bodies) * 1000
        opened = await open_loop(url, extra, args.rate, api)
        hwm = proc_status_kb(server.proc.pid, "VmHWM")
        sampler.stop()
    finally:
        server.stop()
        await runner.cleanup()

    lookups = [json.dumps({"order_no": order_no(i)}).encode() for i in range(args.updates)]
    bare_wall, bare_lat, bare_ms = await yardstick("bare_lookup.py", "/lookup", lookups, db_file, args.concurrency)
    floor_wall, floor_lat, floor_ms = await yardstick("floor_lookup.py", "/update", bodies, db_file, args.concurrency)
    total = len(bodies) + len(extra)

    ours, bare_rate, floor_rate = len(bodies) / wall, len(lookups) / bare_wall, len(bodies) / floor_wall
    rss = mb(max(hwm, sampler.peak_kb))
    print(f"\nupdates          {len(bodies)} at concurrency {args.concurrency}, each from its own chat")
    print(f"updates/s        {ours:.0f}   (post → sendMessage received)")
    print(f"latency ms       p50 {pct(closed, 50):.1f}  p99 {pct(closed, 99):.1f}  max {max(closed):.1f}")
    print(f"server CPU       {server_ms:.2f} ms/update")
    print(f"bare handler     {bare_rate:.0f} requests/s (aiohttp + one SQLite lookup), "
          f"p50 {pct(bare_lat, 50):.1f} ms, {bare_ms:.2f} ms CPU/request")
    print(f"floor handler    {floor_rate:.0f} updates/s (aiohttp + only the database work an update must do), "
          f"p50 {pct(floor_lat, 50):.1f} ms, {floor_ms:.2f} ms CPU/update: ratio {floor_rate / bare_rate:.2f}")
    print(f"offered          {args.rate:.0f}/s for {args.seconds:.0f} s: p50 {pct(opened, 50):.1f} ms  "
          f"p99 {pct(opened, 99):.1f} ms  max {max(opened):.1f} ms")
    print(f"answers          {total - api.sent:,} of {total:,} carried back in the webhook response, "
          f"{api.sent:,} as sendMessage calls")
    print(f"peak RSS         {rss:.1f} MB")
    ratio = ours / bare_rate
    print("\n== summary ==")
    print(f"ratio      {ratio:6.2f}  (target ≥ {TARGET_RATIO})  {'OK' if ratio >= TARGET_RATIO else 'MISSED'}")
    p99 = pct(opened, 99)
    print(f"p99 ms     {p99:6.1f}  at {args.rate:.0f}/s offered (target < {TARGET_P99_MS:.0f} at {OFFERED}/s)  "
          f"{'OK' if p99 < TARGET_P99_MS and args.rate >= OFFERED else 'MISSED'}")
    print(f"RSS MB     {rss:6.1f}  (target < {TARGET_RSS_MB:.0f})  {'OK' if rss < TARGET_RSS_MB else 'MISSED'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--updates", type=int, default=3000, help="updates in the closed-loop run")
    p.add_argument("-c", "--concurrency", type=int, default=16)
    p.add_argument("--rate", type=float, default=OFFERED, help="updates/s offered in the open-loop run")
    p.add_argument("--seconds", type=float, default=6, help="length of the open-loop run")
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="orderbot-inbound-"))
    try:
        asyncio.run(measure(args, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
