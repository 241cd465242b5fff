"""`orderbot demo`: starts from nothing within 30 s, and its seeded histories are ones the engine accepts."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from bot.demo.seed import seed_orders, seed_staff
from models.engine import ProgressEngine
from models.orders import NodeEvent, Order, OrderException
from models.people import Identity, StaffMember
from tests.kit.base import free_port

START_WITHIN = 30.0


def _get(url: str, key: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def _all_orders(base: str, key: str, query: str = "") -> list[dict]:
    orders, after = [], 0
    while True:
        status, page = _get(f"{base}/api/v1/orders?limit=200&after={after}{query}", key)
        assert status == 200, page
        orders += page["orders"]
        if page["next_after"] is None:
            return orders
        after = page["next_after"]


class Lines:
    """Collects a process's stdout lines on a thread, so waiting for one never blocks for good."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(iter(stream.readline, "")), daemon=True).start()

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "".join(self.lines))


def test_demo_starts_from_nothing_and_answers_with_the_printed_key(tmp_path: Path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
    env["TMPDIR"] = str(tmp_path)  # where the demo leaves its config for `orderbot chat`, this test's own
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "demo", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=(tmp_path / "stderr.txt").open("w"), text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        out = Lines(proc.stdout)
        while True:
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            assert time.monotonic() - started < START_WITHIN, "no /healthz answer within 30 s"
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        key = out.wait_for(r"API key: (ob_\S+)", START_WITHIN).group(1)  # printed once seeding is done
        folder = Path(out.wait_for(r"Database: +(\S+)/demo\.db", 5).group(1))

        assert len(_all_orders(base, key)) == 300
        late = _all_orders(base, key, "&late=true")
        assert late and all(o["late"] for o in late)
        assert _all_orders(base, key, "&open_exceptions=true")
        assert _get(f"{base}/api/v1/orders", "ob_not-a-key")[0] == 401
        talk_to_the_demo(out, env, tmp_path)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert not folder.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def talk_to_the_demo(out: Lines, env: dict, tmp_path: Path) -> None:
    """The README's lines: chat as a customer from another folder, read the code, give it."""
    command = out.wait_for(r"printf '(查一下订单SO\d+)\\n' \| orderbot chat --as (telegram:\d+)", 5)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def orderbot(*args: str, stdin: str = "") -> str:
        done = subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                              env=env, cwd=elsewhere, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    asked = orderbot("chat", "--as", command.group(2), stdin=command.group(1) + "\n")
    assert "验证码" in asked
    to = out.wait_for(r"orderbot mailbox --to (\S+) --last 1", 5).group(1)
    code = re.search(r"^\s+(\d{6})$", orderbot("mailbox", "--to", to, "--last", "1"), re.M).group(1)
    shown = orderbot("chat", "--as", command.group(2), stdin=code + "\n")
    assert "进度" in shown and "验证成功" in shown


async def test_seeded_histories_are_valid_chains_in_the_past(engine: ProgressEngine):
    await seed_staff()
    await seed_orders(engine, 40)
    now = datetime.now(timezone.utc)

    orders = await Order.all()
    assert len(orders) == 40
    for order in orders:
        events = await NodeEvent.filter(order_id=order.id).order_by("id")
        assert events[0].kind == "create" and events[0].node == engine.workflow_of(order).first.key
        for before, after in zip(events, events[1:]):
            assert after.from_node == before.node, order.order_no
            assert after.at >= before.at
        assert events[-1].node == order.current_node
        assert all(e.at <= now for e in events)
    exceptions = await OrderException.all()
    assert {x.status for x in exceptions} >= {"open", "resolved"}
    assert all(x.opened_at <= now for x in exceptions)
    assert all(x.resolved_at is None or x.resolved_at >= x.opened_at for x in exceptions)
    assert await NodeEvent.filter(kind="rework", from_node="qc", node="production").exists()

    delivered = [o for o in orders if engine.workflow_of(o).index(o.current_node)
                 >= engine.workflow_of(o).done_index]
    assert 0 < len(delivered) < len(orders)
    assert any(engine.is_late(o) for o in orders)
    assert all(re.fullmatch(r"SO\d{12}", o.order_no) for o in orders)
    assert await StaffMember.filter(code__in=["S001", "S002", "S003"]).count() == 3
    assert await Identity.filter(channel="telegram").exists()


async def test_the_same_day_seeds_the_same_orders(engine: ProgressEngine):
    at = datetime(2026, 11, 24, 9, 30, tzinfo=timezone.utc)
    fixed = ProgressEngine(engine.workflows, engine.numbers, engine.tz, clock=lambda: at)

    async def story() -> list[tuple]:
        await seed_orders(fixed, 15)
        orders = await Order.all().order_by("id")
        rows = [(o.order_no, o.workflow, o.current_node, o.promised_date) for o in orders]
        await Order.all().delete()
        return rows

    assert await story() == await story()


async def test_the_demo_keeps_a_bound_customers_orders_moving(engine: ProgressEngine):
    import asyncio

    from bot.demo.motion import keep_moving, next_move
    from models.outbox import Outbox

    await seed_staff()
    with engine.hooks_paused():
        await seed_orders(engine, 40)
    movable = [o for o in await Order.all().order_by("-id") if await next_move(engine, o)]
    mine = movable[0]
    await Identity.create(channel="web", external_id="visitor-1", customer_id=mine.customer_id)
    before = {o.id: o.current_node for o in await Order.filter(customer_id=mine.customer_id)}
    assert await Outbox.all().count() == 0, "the seeded past notifies nobody"

    mover = asyncio.create_task(keep_moving(engine, every=0.05, seed=1))
    try:
        await asyncio.sleep(0.5)
    finally:
        mover.cancel()
        await asyncio.gather(mover, return_exceptions=True)
    after = {o.id: o.current_node for o in await Order.filter(customer_id=mine.customer_id)}
    assert after != before, "one of the bound customer's orders moved on"
    assert await NodeEvent.filter(source="demo").exists()
    # Moves are real node events: those into a node customers are told of wrote their notice.
    told = await Outbox.filter(recipient=f"customer:{mine.customer_id}", kind="node_entered").count()
    notified = [e for e in await NodeEvent.filter(source="demo", order__customer_id=mine.customer_id)
                .prefetch_related("order") if engine.workflow_of(e.order).node(e.node).notify_customer]
    assert told == len(notified)
