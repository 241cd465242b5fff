"""What time alone brings about (``notifications.scanner``): late orders told once per promised
date, nodes over their SLA told to staff, exceptions nobody acknowledged escalated to the
department's manager and then to the admins. Scans run against the real database; what they
write is sent by the outbox sender to the Telegram stand-in (``tests.kit.notices``)."""
from __future__ import annotations

import asyncio

import pytest

from models import sql
from models.inputs import AckIn
from models.orders import OrderException
from models.outbox import Outbox
from models.people import StaffMember, add_staff
from models.schedule import utcnow
from notifications.scanner import Scanner
from notifications.triggers import Triggers
from tests.kit.base import PG_URL
from tests.kit.notices import DIGEST, NO, Notices, texts


@pytest.fixture
def scanner(h: Notices) -> Scanner:
    engine = h.bot.engine
    return Scanner(engine, Triggers(engine, h.settings.notifications))


async def scan(scanner: Scanner, times: int = 1) -> int:
    return sum([await scanner.scan() for _ in range(times)])


# ---------------------------------------------------------------- late, once per promised date
async def test_a_late_order_is_told_once_per_promised_date(h: Notices, scanner: Scanner):
    sales = await add_staff("销售小陈", "sales", "S001", "sales", {"telegram": "5001"}, None)
    customer = await h.order(promised_date="2026-11-20", sales_owner="S001")  # four days ago
    await h.bind(customer)

    assert await scan(scanner, 5) == 2
    rows = await Outbox.filter(kind="late").order_by("id")
    assert sorted(r.recipient for r in rows) == sorted([f"customer:{customer}", f"staff:{sales.id}"])
    assert {r.event_key for r in rows} == {f"late:{NO}:2026-11-20"}
    await h.deliver(after=DIGEST)
    [told] = texts(h)
    assert NO in told and "已晚于承诺日期" in told
    [staff_told] = texts(h, 5001)
    assert NO in staff_told and "延误" in staff_told

    h.clock.advance(hours=3)
    assert await scan(scanner, 5) == 0
    await h.deliver(after=DIGEST)
    assert len(texts(h)) == 1 and len(texts(h, 5001)) == 1

    status, data = await h.api.call("PATCH", f"/api/v1/orders/{NO}", {"promised_date": "2026-11-22"})
    assert status == 200, data
    assert await scan(scanner, 5) == 2, "a new promised date, missed again: told again, once"
    assert await Outbox.filter(kind="late", event_key=f"late:{NO}:2026-11-22").count() == 2
    await h.deliver(after=DIGEST)
    assert len(texts(h)) == 2 and len(texts(h, 5001)) == 2

    status, _ = await h.api.call("PATCH", f"/api/v1/orders/{NO}", {"promised_date": "2026-12-31"})
    assert status == 200
    assert await scan(scanner, 3) == 0, "no longer late"


async def test_a_node_over_its_sla_is_told_to_staff_once(h: Notices, scanner: Scanner):
    sales = await add_staff("销售小陈", "sales", "S001", "sales", {"telegram": "5001"}, None)
    customer = await h.order(at="approved", sales_owner="S001")  # approved: 24 h
    await h.bind(customer)
    h.clock.advance(hours=23)
    assert await scan(scanner) == 0
    h.clock.advance(hours=2)
    assert await scan(scanner, 5) == 1
    [row] = await Outbox.filter(kind="overdue")
    assert row.recipient == f"staff:{sales.id}" and row.event_key.startswith(f"overdue:{NO}:approved:")
    await h.deliver()
    [told] = texts(h, 5001)
    assert NO in told and "超时" in told
    assert texts(h) == [], "customers see the ETA move, not the SLA"


# ---------------------------------------------------------------- escalation
@pytest.mark.parametrize("has_manager, levels", [
    (True, [("4001", 1), ("4002", 2)]),  # the warehouse's manager first, then the admins
    (False, [("4002", 2)]),  # no manager for the department: straight to the admins
])
async def test_an_exception_nobody_acknowledges_climbs_to_the_manager_then_the_admins(
        h: Notices, scanner: Scanner, has_manager, levels):
    if has_manager:
        await add_staff("王经理", "manager", "M001", "warehouse", {"telegram": "4001"}, None)
    await add_staff("系统管理员", "admin", "A001", None, {"telegram": "4002"}, None)
    window = h.settings.notifications.escalate_after_minutes
    await h.order(at="stocking")  # the warehouse's node
    exc_id = await h.open_exception()

    h.clock.advance(minutes=window - 1)
    assert await scan(scanner) == 0
    for chat, level in levels:
        h.clock.advance(minutes=window + 1)
        assert await scan(scanner, 3) == 1
        [row] = await Outbox.filter(kind="escalated", event_key=f"escalate:{exc_id}:{level}")
        member = await StaffMember.get(id=int(row.recipient.split(":")[1]))
        assert member.role.value == ("manager" if chat == "4001" else "admin")
        await h.deliver()
        [sent] = [m for m in h.botapi.sent(chat) if "升级" in m["text"]]
        assert NO in sent["text"] and "缺料" in sent["text"]
        buttons = [b["callback_data"] for r in sent["reply_markup"]["inline_keyboard"] for b in r]
        assert buttons == [f"/ack {NO} #{exc_id}"], "the button names the exception escalated"
        exc = await OrderException.get(id=exc_id)
        assert (exc.status, exc.escalation_level) == ("open", level)

    h.clock.advance(minutes=3 * window)
    assert await scan(scanner, 3) == 0, "the admins are the top"
    assert await Outbox.filter(kind="escalated").count() == len(levels)


@pytest.mark.parametrize("how", ["the engine", "/ack in chat", "resolved through the API"])
async def test_an_exception_taken_in_time_is_not_escalated(h: Notices, scanner: Scanner, how):
    await add_staff("王经理", "manager", "M001", "warehouse", {"telegram": "4001"}, None)
    await add_staff("系统管理员", "admin", "A001", None, {"telegram": "4002"}, None)
    window = h.settings.notifications.escalate_after_minutes
    await h.order(at="stocking")
    exc_id = await h.open_exception()
    h.clock.advance(minutes=window - 5)
    if how == "the engine":
        await h.bot.engine.acknowledge_exception(NO, exc_id, AckIn(actor="M001"))
    elif how == "/ack in chat":
        answer = await h.bot.flow(sender="4001").say(f"/ack {NO}")
        assert NO in answer
    else:
        status, _ = await h.api.call("POST", f"/api/v1/orders/{NO}/exceptions/{exc_id}/resolve", {})
        assert status == 200
    for _ in range(4):
        h.clock.advance(minutes=window + 1)
        assert await scan(scanner) == 0
    assert await Outbox.filter(kind="escalated").count() == 0
    assert (await OrderException.get(id=exc_id)).escalation_level == 0
    await h.deliver()
    assert not [m for m in h.botapi.sent() if "升级" in m["text"]]


async def test_a_scan_deals_with_each_late_order_once_whether_or_not_anyone_was_told(h: Notices,
                                                                                     scanner: Scanner):
    """More late orders than a page and nobody to tell: each is marked dealt with, so a later
    scan reads none of them; a new promised date is a new condition."""
    from datetime import timedelta

    from models.inputs import CustomerIn, OrderIn
    from models.orders import Order

    past = h.bot.engine.today() - timedelta(days=3)
    for i in range(1, 1_101):  # more than two pages of 500
        await h.bot.engine.create_order(OrderIn(order_no=f"SO2026112{i:05d}", customer=CustomerIn(name=f"客户{i}"),
                                                promised_date=past))
    assert await scanner.late() == 0, "no bound customer and no staff: nobody to tell"
    assert await Order.filter(late_noticed_for=past).count() == 1_100
    await add_staff("周经理", "manager", "M009", None, {}, "zhou@factory.example")
    assert await scanner.late() == 0, "already dealt with: the manager added since is not told of old news"
    await Order.filter(order_no="SO202611200007").update(promised_date=past - timedelta(days=1))
    assert await scanner.late() == 1, "a new promised date is a new condition: the manager hears of it"
    [row] = await Outbox.filter(kind="late")
    assert row.order_no == "SO202611200007" and row.recipient.startswith("staff:")


# ---------------------------------------------------------------- a scan beside conversations
async def test_a_pages_marks_and_notices_hold_together(h: Notices, scanner: Scanner):
    """Notices that cannot be written leave their orders unmarked: the next scan tells them."""
    await add_staff("销售小陈", "sales", "S001", "sales", {"telegram": "5001"}, None)
    await h.order(promised_date="2026-11-20", sales_owner="S001")
    await sql.execute("ALTER TABLE outbox RENAME TO outbox_away", [])
    with pytest.raises(Exception, match="outbox"):
        await scanner.late()
    await sql.execute("ALTER TABLE outbox_away RENAME TO outbox", [])
    assert await Outbox.filter(kind="late").count() == 0
    assert await scanner.late() == 1, "the order was not marked as told: the scan tells it now"
    [row] = await Outbox.filter(kind="late")
    assert row.order_no == NO and row.recipient.startswith("staff:")


@pytest.mark.skipif(bool(PG_URL), reason="SQLite only: PostgreSQL runs each statement directly")
async def test_a_scan_does_not_make_conversations_wait_for_the_write_lock(h: Notices, scanner: Scanner):
    """On SQLite the scan's writes join the conversations' commits: none of those has to wait
    on the ORM's thread for a scan's transaction to end."""
    await add_staff("销售小陈", "sales", "S001", "sales", {"telegram": "5001"}, None)
    for i in range(3):
        await h.order(f"SO20261120000{i}", promised_date="2026-11-20", sales_owner="S001")
    before, stop, written = sql.waited(), asyncio.Event(), 0

    async def conversations() -> None:  # a stream of conversation writes while the scan runs
        nonlocal written
        while not stop.is_set():
            await sql.execute("INSERT INTO inbound_dedupe (channel, message_key, received_at) VALUES (?, ?, ?)",
                                ["test", f"m{written}", utcnow()])
            written += 1

    talking = asyncio.create_task(conversations())
    await asyncio.sleep(0.01)
    try:
        assert await scanner.late() == 3
    finally:
        stop.set()
        await talking
    assert written > 0
    assert sql.waited() == before, "a conversation's commit waited for the scan"
