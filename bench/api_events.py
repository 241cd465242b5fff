"""Benchmark: node events through the integration API, and the server's resident memory.

Sets up a throwaway orderbot (a temp dir with its own orderbot.toml, a fresh SQLite file or
PostgreSQL database), seeds it with ``--orders-db`` orders, starts ``orderbot serve`` as a
subprocess and posts ``-n`` node events over loopback with ``-c`` concurrent clients. Prints
events/s, latency percentiles, the server's resident memory, and how the figures compare
with the targets. Everything it creates is removed at the end.

    python bench/api_events.py                       # SQLite, 5,000 events, concurrency 16
    python bench/api_events.py --database postgres --pg-url postgres://postgres@127.0.0.1:5432/postgres
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from tortoise import connections

from bot.db import database
from models import schedule
from models.orders import NodeEvent, Order, OrderCommercial
from models.people import Customer
from models.workflows import load_workflows

WORKFLOW = "standard"
TARGET_EVENTS_PER_S = 1000
TARGET_P99_MS = 50
TARGET_RSS_MB = 150
TARGET_CONCURRENCY = 16
SEED_CUSTOMERS = 5_000
SEED_BATCH = 5_000
STARTUP_TIMEOUT_S = 60
RSS_SAMPLE_S = 0.05


# ---------------------------------------------------------------- set-up


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_database_name(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead of its own."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def pg_admin(admin_url: str, sql: str) -> None:
    """Run one statement (CREATE / DROP DATABASE) on the admin connection."""
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this run; dropped on the way out."""
    name = f"orderbot_bench_{secrets.token_hex(4)}"
    asyncio.run(pg_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database_name(admin_url, name)
    finally:
        asyncio.run(pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def write_config(folder: Path, db_url: str, port: int) -> Path:
    """An orderbot.toml for the benchmark's server."""
    path = folder / "orderbot.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n\n'
        f'[security]\nsecret_key = "{secrets.token_urlsafe(32)}"\n\n'
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n',
        encoding="utf-8",
    )
    return path


def orderbot(config: Path, *args: str) -> str:
    """Run an ``orderbot`` command against ``config``; its stdout (exits on failure)."""
    done = subprocess.run(["orderbot", "-c", str(config), *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"orderbot {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def create_api_key(config: Path) -> str:
    """A new API key; ``apikey create`` prints it alone on its last line."""
    return orderbot(config, "apikey", "create", "--name", "bench").strip().splitlines()[-1].strip()


# ---------------------------------------------------------------- seeding


def seed_order_no(i: int) -> str:
    """Seeded order numbers: SO9 + 11 digits, so they never meet the benchmark's own (SO1...)."""
    return f"SO9{i:011d}"


async def seed(db_url: str, n_orders: int) -> None:
    """Insert ``n_orders`` orders at ``placed`` (with customers, commercials, create events)."""
    wf = load_workflows(None).workflows[WORKFLOW]
    first = wf.first.key
    now = schedule.utcnow()
    async with database(db_url):
        await Customer.bulk_create(
            [Customer(name=f"Customer {i}", email=f"customer{i}@example.com", phone=f"+86 138{i:08d}",
                      locale="zh" if i % 3 else "en") for i in range(SEED_CUSTOMERS)],
            batch_size=SEED_BATCH,
        )
        customer_ids = await Customer.all().order_by("id").values_list("id", flat=True)
        for start in range(0, n_orders, SEED_BATCH):
            numbers = range(start, min(start + SEED_BATCH, n_orders))
            orders = []
            for i in numbers:
                placed = now - timedelta(minutes=i % 10_000)
                orders.append(Order(
                    order_no=seed_order_no(i), workflow=WORKFLOW,
                    customer_id=customer_ids[i % len(customer_ids)], sales_owner=f"S{i % 20:03d}",
                    promised_date=date.today() + timedelta(days=i % 60), current_node=first,
                    node_entered_at=placed, eta=schedule.eta(wf, first, placed, now),
                    ship_to=f"{i} Bench Road, Suzhou", items=[{"sku": f"SKU-{i % 500}", "name": "Widget",
                                                              "qty": 1 + i % 50}],
                    fingerprint=hashlib.sha256(seed_order_no(i).encode()).hexdigest(), placed_at=placed,
                ))
            await Order.bulk_create(orders)
            ids = dict(await Order.filter(order_no__in=[o.order_no for o in orders])
                       .values_list("order_no", "id"))
            await OrderCommercial.bulk_create([
                OrderCommercial(order_id=ids[o.order_no], amount=100 + i % 9000, currency="CNY")
                for i, o in zip(numbers, orders)
            ])
            await NodeEvent.bulk_create([
                NodeEvent(order_id=ids[o.order_no], event_id="created", kind="create", node=first,
                          at=o.placed_at, source="import", fingerprint=o.fingerprint)
                for o in orders
            ])
        if not db_url.startswith("sqlite://"):
            # As a database that has been in service would be: no autovacuum of the bulk load
            # competing with the timed phase, and planner statistics that know the tables' sizes.
            await connections.get("default").execute_script("VACUUM ANALYZE")


# ---------------------------------------------------------------- the server and its memory


class RssSampler(threading.Thread):
    """Reads a process's VmRSS every ``RSS_SAMPLE_S`` seconds and keeps the highest."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                self.peak_kb = max(self.peak_kb, proc_status_kb(self.pid, "VmRSS"))
            except (OSError, KeyError):
                return
            self._done.wait(RSS_SAMPLE_S)

    def stop(self) -> None:
        self._done.set()
        self.join()


def proc_status_kb(pid: int, key: str) -> int:
    """One ``kB`` figure of /proc/PID/status (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            name, _, value = line.partition(":")
            if name == key:
                return int(value.split()[0])
    raise KeyError(key)


def mb(kb: int) -> float:
    return kb / 1024


def machine_cpu_s() -> float:
    """Busy CPU seconds of the whole machine so far, all cores together (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as fh:
        ticks = [int(t) for t in fh.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """A running ``orderbot serve`` subprocess."""

    proc: subprocess.Popen
    base: str
    log_path: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def start_server(config: Path, port: int, folder: Path) -> Server:
    """Start ``orderbot serve``; returns once ``GET /healthz`` answers 200."""
    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(["orderbot", "-c", str(config), "--log-level", "WARNING", "serve"],
                                stdout=log, stderr=subprocess.STDOUT)
    server = Server(proc, f"http://127.0.0.1:{port}", log_path)
    asyncio.run(wait_healthy(server))
    return server


async def wait_healthy(server: Server) -> None:
    """Poll ``GET /healthz`` until it answers 200; exit with the server's log if it never does."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                sys.exit(f"orderbot serve exited with {server.proc.returncode}:\n{server.log_tail()}")
            try:
                async with session.get(server.base + "/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    server.stop()
    sys.exit(f"orderbot serve did not become healthy in {STARTUP_TIMEOUT_S} s:\n{server.log_tail()}")


# ---------------------------------------------------------------- the load


@dataclass
class Results:
    """What the timed phase measured."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    machine_busy_s: float = 0.0

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile (nearest rank) of the latencies."""
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def bench_order_no(i: int) -> str:
    """The benchmark's own order numbers: SO1 + 11 digits."""
    return f"SO1{i:011d}"


def order_body(order_no: str, i: int) -> dict:
    """A new order as an ERP would send it (POST /api/v1/orders)."""
    return {
        "order_no": order_no, "workflow": WORKFLOW,
        "customer": {"name": f"Bench customer {i}", "email": f"bench{i % 200}@example.com",
                     "phone": "+86 13800000000", "locale": "zh"},
        "promised_date": (date.today() + timedelta(days=30)).isoformat(),
        "amount": 1234.5, "sales_owner": "S001",
        "items": [{"sku": "SKU-1", "name": "Widget", "qty": 10, "unit_price": 123.45}],
    }


async def run_workers(concurrency: int, jobs: list, work) -> None:
    """``concurrency`` workers take jobs off one queue until it is empty."""
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker() -> None:
        while not queue.empty():
            await work(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def create_orders(base: str, key: str, n_orders: int, concurrency: int) -> float:
    """Create the orders the timed phase moves, through the API; returns the seconds it took."""
    headers = {"Authorization": f"Bearer {key}"}
    failures: list[str] = []

    async def create(i: int) -> None:
        async with session.post(base + "/api/v1/orders", json=order_body(bench_order_no(i), i)) as r:
            if r.status != 201:
                failures.append(f"{r.status} {await r.text()}")

    started = time.perf_counter()
    async with aiohttp.ClientSession(headers=headers,
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await run_workers(concurrency, list(range(n_orders)), create)
    if failures:
        sys.exit(f"{len(failures)} order(s) could not be created; first: {failures[0]}")
    return time.perf_counter() - started


def plan_events(n_events: int, steps: list[str]) -> list[list[tuple[str, bytes]]]:
    """``n_events`` requests, one list per order: (path, JSON body) for each node it moves to.

    The bodies are encoded here, before the timed phase, so the client spends its CPU on HTTP only.
    """
    plan = []
    for i in range(math.ceil(n_events / len(steps))):
        order_no = bench_order_no(i)
        path = f"/api/v1/orders/{order_no}/events"
        requests = []
        for node in steps[: n_events - i * len(steps)]:
            data = {"carrier": "SF", "tracking_no": f"SF{order_no[2:]}"} if node == "in_transit" else {}
            body = {"event_id": f"bench-{order_no}-{node}", "node": node, "actor": "bench", "data": data}
            requests.append((path, json.dumps(body).encode()))
        plan.append(requests)
    return plan


async def post_events(base: str, key: str, plan: list[list[tuple[str, bytes]]], concurrency: int) -> Results:
    """The timed phase: each worker takes an order and posts its events one after another."""
    results = Results()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def move(requests: list[tuple[str, bytes]]) -> None:
        for path, body in requests:
            sent = time.perf_counter()
            async with session.post(base + path, data=body) as r:
                answer = await r.read()
            results.latencies_ms.append((time.perf_counter() - sent) * 1000)
            if r.status != 201:
                results.errors.append((r.status, answer.decode(errors="replace")))

    async with aiohttp.ClientSession(headers=headers,
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        started = time.perf_counter()
        await run_workers(concurrency, plan, move)
        results.wall_s = time.perf_counter() - started
    return results


# ---------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def report(args: argparse.Namespace, results: Results, startup_kb: int, peak_kb: int, hwm_kb: int) -> None:
    n = len(results.latencies_ms)
    rate = n / results.wall_s
    p99 = results.percentile(99)
    print(f"\nevents           {n}")
    print(f"concurrency      {args.concurrency}")
    print(f"wall time        {results.wall_s:.2f} s")
    print(f"events/s         {rate:.0f}")
    print("latency ms       " + "  ".join(f"p{p} {results.percentile(p):.1f}" for p in (50, 90, 99))
          + f"  max {max(results.latencies_ms):.1f}")
    print(f"errors           {len(results.errors)} (non-201)")
    other = results.machine_busy_s - results.server_cpu_s - results.client_cpu_s
    print(f"server CPU       {results.server_cpu_s / n * 1000:.2f} ms/event, "
          f"{results.server_cpu_s / results.wall_s:.2f} cores")
    print(f"client CPU       {results.client_cpu_s / n * 1000:.2f} ms/event, "
          f"{results.client_cpu_s / results.wall_s:.2f} cores")
    print(f"other CPU        {max(0.0, other) / results.wall_s:.2f} cores of {os.cpu_count()} "
          f"(the database server, and anything else running: keep the machine quiet)")
    print(f"RSS after start  {mb(startup_kb):.1f} MB  (serve over {args.orders_db:,} orders)")
    print(f"peak RSS         {mb(peak_kb):.1f} MB sampled, {mb(hwm_kb):.1f} MB VmHWM")

    rss = mb(max(peak_kb, hwm_kb))
    print(f"\n== summary ({args.database}, concurrency {args.concurrency}) ==")
    print(f"events/s  {rate:7.0f}  (target ≥ {TARGET_EVENTS_PER_S})  {verdict(rate >= TARGET_EVENTS_PER_S)}")
    print(f"p99 ms    {p99:7.1f}  (target < {TARGET_P99_MS})    {verdict(p99 < TARGET_P99_MS)}")
    print(f"RSS MB    {rss:7.1f}  (target < {TARGET_RSS_MB})   {verdict(rss < TARGET_RSS_MB)}")
    print(f"errors    {len(results.errors):7d}  (target 0)      {verdict(not results.errors)}")
    if args.database != "sqlite" or args.concurrency != TARGET_CONCURRENCY:
        print(f"(the throughput and latency targets are set for SQLite at concurrency {TARGET_CONCURRENCY})")


# ---------------------------------------------------------------- main


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                   help="admin URL; a throwaway database is created next to it")
    p.add_argument("-n", "--events", type=positive, default=5000, help="node events to post")
    p.add_argument("-c", "--concurrency", type=positive, default=16, help="concurrent clients")
    p.add_argument("--orders-db", type=positive, default=100_000, help="orders seeded before serving")
    p.add_argument("--port", type=int, default=0, help="server port (0: any free one)")
    return p.parse_args()


def run(args: argparse.Namespace, folder: Path, db_url: str) -> None:
    """Set up, seed, serve, load, measure, stop; then print the report."""
    port = args.port or free_port()
    config = write_config(folder, db_url, port)
    orderbot(config, "migrate")
    key = create_api_key(config)

    started = time.perf_counter()
    asyncio.run(seed(db_url, args.orders_db))
    print(f"seeded {args.orders_db:,} orders in {time.perf_counter() - started:.1f} s")

    steps = [n.key for n in load_workflows(None).workflows[WORKFLOW].nodes[1:]]
    plan = plan_events(args.events, steps)
    server = start_server(config, port, folder)
    try:
        startup_kb = proc_status_kb(server.proc.pid, "VmRSS")
        sampler = RssSampler(server.proc.pid)
        sampler.start()
        took = asyncio.run(create_orders(server.base, key, len(plan), args.concurrency))
        print(f"created {len(plan)} orders through the API in {took:.1f} s; posting {args.events} events "
              f"({len(steps)} per order: {', '.join(steps)}) at concurrency {args.concurrency}")
        server_cpu, client_cpu, machine = proc_cpu_s(server.proc.pid), time.process_time(), machine_cpu_s()
        results = asyncio.run(post_events(server.base, key, plan, args.concurrency))
        results.server_cpu_s = proc_cpu_s(server.proc.pid) - server_cpu
        results.client_cpu_s = time.process_time() - client_cpu
        results.machine_busy_s = machine_cpu_s() - machine
        hwm_kb = proc_status_kb(server.proc.pid, "VmHWM")
        sampler.stop()
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()
    report(args, results, startup_kb, sampler.peak_kb, hwm_kb)


def main() -> None:
    args = parse_args()
    folder = Path(tempfile.mkdtemp(prefix="orderbot-bench-"))
    try:
        if args.database == "sqlite":
            run(args, folder, f"sqlite://{folder / 'orderbot.db'}")
        else:
            with postgres_database(args.pg_url) as url:
                run(args, folder, url)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
