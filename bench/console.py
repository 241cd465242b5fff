"""Benchmark: the console's order list and Today page over 100,000 orders on SQLite.

Makes a fresh SQLite database in a temp dir (migrated), puts ``-n`` orders (default
100,000) there for as many customers, with Chinese and English names, phones, e-mails,
tracking numbers and some open exceptions (bulk inserts through the models, a few
thousand rows a statement), then times, in this process:

- the server's own time (``models.order_list.find``) of the list's first page, a search by
  order number, by a misspelt customer name, by phone, by tracking number, and with a filter;
- the whole HTTP answer of ``GET /console/orders`` (first page, and a misspelt name) and of
  ``GET /console/`` (Today) through a signed-in session, the app served as ``orderbot serve`` builds it.

Each figure is the median of ``-r`` runs (default 7) after one warm-up; the target is 300 ms
for the list and a search, 500 ms for Today.

    python bench/console.py
    python bench/console.py -n 20000 -r 3
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402

from bot.app import build_app, build_engine  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.db import apply_migrations, database  # noqa: E402
from models import console as sessions  # noqa: E402
from models import order_list  # noqa: E402
from models.orders import Order, OrderException  # noqa: E402
from models.people import Customer, add_staff  # noqa: E402
from models.sql import transaction  # noqa: E402

BATCH = 5000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞晓建国文辉宇浩思雨欣怡佳琪"
ENGLISH = ["Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Lewis", "Walker", "Hall",
           "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson"]
FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Frank", "Grace", "Henry", "Iris", "Jack", "Laura", "Oliver"]
TARGET_LIST, TARGET_TODAY = 300.0, 500.0


def name_of(rng: random.Random, i: int) -> str:
    if i % 4 == 0:
        return f"{rng.choice(FIRST)} {rng.choice(ENGLISH)} {rng.choice(['Trading', 'Ltd', 'Imports', 'GmbH'])}"
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given + ("贸易有限公司" if i % 7 == 0 else "")


async def seed(n: int, engine) -> dict:
    """``n`` customers and orders at every node of the standard workflow; what the searches look for."""
    rng = random.Random(14)
    wf = engine.workflows.get("standard")
    nodes = [node.key for node in wf.nodes]
    now = datetime.now(timezone.utc)
    today = date.today()
    for start in range(0, n, BATCH):
        async with transaction():
            await Customer.bulk_create([
                Customer(name=name_of(rng, i), email=f"buyer{i}@example.com", phone=f"+86 139{i:08d}",
                         locale="zh" if i % 4 else "en") for i in range(start, min(start + BATCH, n))])
    first_customer = await Customer.all().order_by("id").first()
    for start in range(0, n, BATCH):
        rows = []
        for i in range(start, min(start + BATCH, n)):
            placed = now - timedelta(minutes=7 * i % 500_000)
            node = nodes[i % len(nodes)]
            no = f"SO{20260000000 + i:012d}"
            rows.append(Order(order_no=no, workflow="standard", customer_id=first_customer.id + i,
                              sales_owner=f"S{i % 25:03d}", promised_date=today + timedelta(days=i % 90 - 30),
                              current_node=node, node_entered_at=placed + timedelta(hours=1),
                              carrier="SF" if i % 3 == 0 else None,
                              tracking_no=f"SF{1500000000000 + i}" if i % 3 == 0 else None,
                              items=[], fingerprint=hashlib.sha256(no.encode()).hexdigest()[:16], placed_at=placed))
        async with transaction():
            await Order.bulk_create(rows)
    first_order = await Order.all().order_by("id").first()
    async with transaction():
        await OrderException.bulk_create([
            OrderException(order_id=first_order.id + i, kind="delay", node="production", source="api",
                           opened_at=now - timedelta(hours=i % 100)) for i in range(0, n, 97)])
    probe = n // 2 + 3
    names = dict(await Customer.filter(id__gte=first_customer.id + probe).order_by("id").limit(200)
                 .values_list("id", "name"))
    chinese = next(k for k, v in names.items() if len(v) == 3 and "\u4e00" <= v[0] <= "\u9fff")
    english = next(k for k, v in names.items() if v.isascii())

    def no(customer_id: int) -> str:
        return f"SO{20260000000 + customer_id - first_customer.id:012d}"
    return {"order_no": no(first_customer.id + probe), "phone": f"139 {probe:08d}",
            "tracking": f"SF{1500000000000 + (probe // 3) * 3}", "name": names[chinese], "english": names[english],
            "name_order": no(chinese), "english_order": no(english)}


def misspelt(name: str) -> str:
    """A Chinese name with its second character changed; an English one with two letters of its second word swapped."""
    if not name.isascii():
        return name[0] + ("晓" if name[1] != "晓" else "小") + name[2:]
    words = name.split(" ")
    w = words[1]
    words[1] = w[0] + w[2] + w[1] + w[3:]
    return " ".join(words)


async def median_ms(runs: int, call) -> tuple[float, object]:
    result = await call()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = await call()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


async def main(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="orderbot-console-bench-"))
    try:
        return await measure(args, f"sqlite://{tmp}/bench.db")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def measure(args: argparse.Namespace, url: str) -> int:
    settings = load_settings(None, database={"url": url}, security={"secret_key": "bench-secret-123456"},
                             server={"timezone": "Asia/Shanghai"})
    async with database(url):
        await apply_migrations()
        engine = build_engine(settings)
        t = time.perf_counter()
        probe = await seed(args.orders, engine)
        print(f"seeded {args.orders:,} orders and customers in {time.perf_counter() - t:.1f} s")
        manager = await add_staff("李经理", "manager", "M001", None, {}, None)
        now = engine.clock()
        today = now.astimezone(engine.tz).date()
        print(f"probes: {probe}; misspelt {misspelt(probe['name'])!r}, {misspelt(probe['english'])!r}")

        def listing(**f):
            return lambda: order_list.find(engine.workflows, manager, order_list.OrderFilter(**f), today=today,
                                           now=now, tz=engine.tz)

        cases = [("first page", {}, None), ("order number", {"q": probe["order_no"]}, probe["order_no"]),
                 ("misspelt Chinese customer name", {"q": misspelt(probe["name"])}, probe["name_order"]),
                 ("misspelt English customer name", {"q": misspelt(probe["english"])}, probe["english_order"]),
                 ("phone", {"q": probe["phone"]}, probe["order_no"]),
                 ("tracking number", {"q": probe["tracking"]}, None),
                 ("late + exceptions, by promised date", {"late": True, "exceptions": True, "sort": "promised"}, None),
                 ("customer filter, misspelt, sorted by node entered",
                  {"customer": misspelt(probe["name"]), "sort": "-node_entered"}, probe["name_order"])]
        worst = 0.0
        print(f"\nserver time (models.order_list.find, median of {args.runs}):")
        for label, f, wanted in cases:
            ms, listed = await median_ms(args.runs, listing(**f))
            worst = max(worst, ms)
            hit = ""
            if wanted:
                every = await order_list.find(engine.workflows, manager, order_list.OrderFilter(**f), today=today,
                                              now=now, tz=engine.tz, size=1000)
                hit = f"  {wanted} {'among them' if wanted in {o.order_no for o in every.orders} else 'MISSING'}"
            print(f"  {label:<52} {ms:7.1f} ms   {listed.total:>7,} found{hit}")

        server = TestServer(build_app(settings, engine), host="127.0.0.1")
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        token = await sessions.issue_link(manager, "bench", now)
        http_worst, today_ms = 0.0, 0.0
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            async with client.post(f"{base}/console/signin/{token}", allow_redirects=False) as r:
                assert r.status == 303, await r.text()

            def get(path):
                async def call():
                    async with client.get(base + path) as r:
                        body = await r.read()
                        assert r.status == 200, (path, r.status, body[:300])
                        return body
                return call
            print(f"\nwhole HTTP answer, signed in (median of {args.runs}):")
            for label, path in (("GET /console/orders", "/console/orders"),
                                ("GET /console/orders?q=<misspelt name>",
                                 "/console/orders?q=" + misspelt(probe["name"])),
                                ("GET /console/", "/console/")):
                ms, _ = await median_ms(args.runs, get(path))
                if path == "/console/":
                    today_ms = ms
                else:
                    http_worst = max(http_worst, ms)
                print(f"  {label:<52} {ms:7.1f} ms")
        await server.close()
    ok = worst < TARGET_LIST and http_worst < TARGET_LIST and today_ms < TARGET_TODAY
    print(f"\ntargets: list and searches < {TARGET_LIST:.0f} ms (worst server {worst:.1f}, HTTP {http_worst:.1f}); "
          f"Today < {TARGET_TODAY:.0f} ms ({today_ms:.1f}) → {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--orders", type=int, default=100_000)
    parser.add_argument("-r", "--runs", type=int, default=7)
    sys.exit(asyncio.run(main(parser.parse_args())))
