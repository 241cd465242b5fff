"""`orderbot demo`: starts from nothing within 30 s, and its seeded histories are ones the engine accepts."""
from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from bot.demo.data import SHOWCASE_EMAIL, SHOWCASE_ORDER
from bot.demo.seed import seed_orders, seed_showcase, seed_staff
from models.engine import ProgressEngine
from models.orders import NodeEvent, Order, OrderException
from models.people import Identity, StaffMember
from tests.kit.demo import Lines, demo_env, get, start_demo


def _all_orders(base: str, key: str, query: str = "") -> list[dict]:
    orders, after = [], 0
    while True:
        status, page = get(f"{base}/api/v1/orders?limit=200&after={after}{query}", key)
        assert status == 200, page
        orders += page["orders"]
        if page["next_after"] is None:
            return orders
        after = page["next_after"]


def test_demo_starts_from_nothing_and_answers_with_the_printed_key(tmp_path: Path):
    env = demo_env(tmp_path)
    demo = start_demo(tmp_path, env)  # within 30 s
    try:
        folder = Path(demo.out.wait_for(r"Database: +(\S+)/demo\.db", 5).group(1))
        assert demo.config.parent == folder

        assert len(_all_orders(demo.base, demo.key)) == 300
        late = _all_orders(demo.base, demo.key, "&late=true")
        assert late and all(o["late"] for o in late)
        assert _all_orders(demo.base, demo.key, "&open_exceptions=true")
        assert get(f"{demo.base}/api/v1/orders", "ob_not-a-key")[0] == 401
        talk_to_the_demo(demo.out, env, tmp_path)

        assert demo.stop() == 0
        assert not folder.exists()
    finally:
        demo.stop()


def _orderbot(env: dict, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=60)


def _new_key(env: dict, cwd: Path, name: str) -> str:
    made = _orderbot(env, cwd, "apikey", "create", "--name", name)
    assert made.returncode == 0, made.stderr
    return made.stdout.splitlines()[-1]


def test_a_second_demo_neither_takes_over_nor_removes_the_first(tmp_path: Path):
    env, elsewhere = demo_env(tmp_path), tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = start_demo(tmp_path, env, "--orders", "20")
    try:
        second = start_demo(tmp_path, env, "--orders", "20")
        try:
            assert first.config.parent != second.config.parent
            asked = _orderbot(env, elsewhere, "staff", "list")
            assert asked.returncode == 2 and asked.stdout == "", "with two demos running, none is guessed"
            assert f"ORDERBOT_CONFIG={first.config}" in asked.stderr
            assert f"ORDERBOT_CONFIG={second.config}" in asked.stderr
            # Pointed at the first, the CLI works on the first's database, not the second's.
            key = _new_key({**env, "ORDERBOT_CONFIG": str(first.config)}, elsewhere, "mine")
            assert get(f"{first.base}/api/v1/orders?limit=1", key)[0] == 200
            assert get(f"{second.base}/api/v1/orders?limit=1", key)[0] == 401
            assert second.stop() == 0
            assert not second.config.parent.exists()
        finally:
            second.stop()
        assert first.config.exists() and get(f"{first.base}/healthz")[0] == 200

        # A demo killed outright leaves its folder behind; that is no running demo.
        dead = subprocess.Popen(["true"])
        dead.wait()
        stale = tmp_path / "orderbot-demo-killed"
        stale.mkdir()
        (stale / "demo.toml").write_text(first.config.read_text())
        (stale / "demo.pid").write_text(str(dead.pid))
        # With one demo running again, the bare commands reach it, as the README says.
        key = _new_key(env, elsewhere, "after")
        assert get(f"{first.base}/api/v1/orders?limit=1", key)[0] == 200
        assert first.stop() == 0
        assert not first.config.parent.exists() and stale.exists()
    finally:
        first.stop()


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
    await seed_showcase(engine)
    await seed_orders(engine, 40)
    now = datetime.now(timezone.utc)

    orders = await Order.all()
    assert len(orders) == 41
    readmes = await Order.get(order_no=SHOWCASE_ORDER).prefetch_related("customer")
    assert engine.is_late(readmes) and readmes.current_node == "production" and readmes.customer.email == SHOWCASE_EMAIL
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
