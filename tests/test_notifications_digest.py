"""Staff notices a person can read at a glance: durations as people say them, an update on the
same node without an arrow, and many notices of one kind to one person as one digest (and a
daily summary at a set hour). Through the real database, the engine, the scanner and the outbox
sender, to the Telegram stand-in (``tests.kit.notices``)."""
from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from bot.conversation.durations import span
from models.outbox import Outbox
from models.people import Identity, add_staff
from notifications.scanner import Scanner
from notifications.triggers import Triggers
from tests.kit.notices import DIGEST, NO, Notices, texts


@pytest.fixture
def scanner(h: Notices) -> Scanner:
    engine = h.bot.engine
    return Scanner(engine, Triggers(engine, h.settings.notifications))


# ---------------------------------------------------------------- durations
async def test_escalation_reads_days_and_hours(h: Notices, scanner: Scanner):
    """The service was down for days: the manager reads how long as a person would say it."""
    await add_staff("王经理", "manager", "M001", "warehouse", {"telegram": "4001"}, None)
    await h.order(at="stocking")
    await h.open_exception()
    h.clock.advance(minutes=7363)
    assert await scanner.scan() >= 1
    await h.deliver()
    [told] = [m for m in texts(h, 4001) if "升级" in m]
    assert "已5天2小时无人确认" in told and "7363" not in told and "分钟" not in told


async def test_an_english_reader_sees_hours_and_minutes(h: Notices, scanner: Scanner):
    member = await add_staff("Jane", "manager", "M001", "warehouse", {"telegram": "4001"}, None)
    await Identity.filter(staff_id=member.id).update(locale="en")
    await h.order(at="stocking")
    await h.open_exception()
    h.clock.advance(minutes=200)
    assert await scanner.scan() == 1
    await h.deliver()
    [told] = [m for m in texts(h, 4001) if "Escalated" in m]
    assert "for 3 hours 20 minutes" in told, told


async def test_a_node_over_its_sla_reads_in_days(h: Notices, scanner: Scanner):
    await add_staff("销售小陈", "sales", "S001", "sales", {"telegram": "5001"}, None)
    await h.order(at="approved", sales_owner="S001")  # approved: 24 h
    h.clock.advance(hours=26, minutes=30)
    assert await scanner.scan() == 1
    await h.deliver()
    [told] = texts(h, 5001)
    assert "已停留 1天2小时，超过时限 1天" in told, told


@pytest.mark.parametrize("minutes, zh, en", [
    (7363, "5天2小时", "5 days 2 hours"),
    (200, "3小时20分钟", "3 hours 20 minutes"),
    (45, "45分钟", "45 minutes"),
    (60, "1小时", "1 hour"),
    (24 * 60 + 5, "1天", "1 day"),  # the two largest units: the minutes of a day are left out
    (61, "1小时1分钟", "1 hour 1 minute"),
    (0.5, "不到1分钟", "under a minute"),
])
def test_durations_read_as_people_say_them(minutes, zh, en):
    assert span(timedelta(minutes=minutes), "zh") == zh
    assert span(timedelta(minutes=minutes), "en") == en


# ---------------------------------------------------------------- an update on the node the order is at
@pytest.mark.parametrize("locale, said, reads", [
    ("zh", "/advance {no} qc 外观已复检", "订单 {no}：质检：更新 — 外观已复检"),
    ("zh", "/advance {no} 质检", "订单 {no}：质检：已更新"),
    ("en", "/advance {no} qc rechecked", "Order {no}: Quality check: update — rechecked"),
])
async def test_an_update_on_the_same_node_has_no_arrow(h: Notices, locale, said, reads):
    member = await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    await Identity.filter(staff_id=member.id).update(locale=locale)
    await h.order(at="qc")
    boss = h.bot.flow(sender="2001")
    answer = await boss.say(said.format(no=NO))
    assert answer == reads.format(no=NO) and "→" not in answer
    moved = await boss.say(f"/advance {NO} outbound")
    assert "→" in moved and NO in moved, "a move to another node still shows where from and to"


# ---------------------------------------------------------------- digests across orders
LATE = [f"SO20261120{i:04d}" for i in range(1, 51)]


async def fifty_late_orders(h: Notices) -> int:
    sales = await add_staff("销售小陈", "sales", "S001", "sales", {"telegram": "5001"}, None)
    for no in LATE:
        status, data = await h.api.create(no, promised_date="2026-11-20", sales_owner="S001")
        assert status == 201, data
    return sales.id


async def test_fifty_late_orders_reach_a_staff_member_as_one_digest(h: Notices, scanner: Scanner):
    staff_id = await fifty_late_orders(h)
    assert await scanner.scan() == 50
    await h.deliver(after=DIGEST)
    [told] = texts(h, 5001)
    assert "50 张订单已过承诺日期" in told and LATE[0] in told and LATE[9] in told
    assert LATE[10] not in told and "另有 40 张" in told
    rows = await Outbox.filter(recipient=f"staff:{staff_id}", kind="late").order_by("id")
    assert [r.status for r in rows] == ["sent"] * 50
    assert [r.digest_of for r in rows] == [None] + [rows[0].id] * 49

    await h.api.create("SO202611200099", promised_date="2026-11-21", sales_owner="S001")
    assert await scanner.scan() == 1
    await h.deliver(after=DIGEST)
    assert len(texts(h, 5001)) == 1, "within the window the next one waits"
    await h.deliver(after=10 * 60)
    assert len(texts(h, 5001)) == 2 and "SO202611200099" in texts(h, 5001)[-1]


async def test_digest_rows_are_sent_once_across_two_senders(h: Notices, scanner: Scanner):
    staff_id = await fifty_late_orders(h)
    assert await scanner.scan() == 50
    h.clock.advance(seconds=DIGEST)
    one, two = h.sender_as("one", concurrency=20), h.sender_as("two", concurrency=20)
    for _ in range(3):
        await asyncio.gather(one.run_once(), two.run_once())
        h.clock.advance(minutes=11)
    rows = await Outbox.filter(recipient=f"staff:{staff_id}", kind="late")
    assert sorted(r.status for r in rows) == ["sent"] * 50
    leads = {r.digest_of or r.id for r in rows}
    told = texts(h, 5001)
    assert len(told) == len(leads) <= 3
    counted = sum(int(re.search(r"(\d+) 张订单", m).group(1)) if "张订单" in m else 1 for m in told)
    assert counted == 50, told


async def test_an_exception_opened_is_told_at_once_however_many(h: Notices):
    member = await add_staff("仓库小王", "operator", None, "warehouse", {"telegram": "3001"}, None)
    for no in LATE[:3]:
        await h.order(no, at="stocking")
        await h.open_exception(no)
    await h.deliver()
    assert len(texts(h, 3001)) == 3
    assert await Outbox.filter(recipient=f"staff:{member.id}", status="sent").count() == 3


# ---------------------------------------------------------------- the daily summary
async def test_daily_summary_goes_out_at_the_set_hour(h: Notices, scanner: Scanner):
    h.settings.notifications.daily_summary_at = "10:30"  # the test's morning is 10:00 in Shanghai
    staff_id = await fifty_late_orders(h)
    await h.order(at="stocking", sales_owner="S001")
    await h.open_exception()
    assert await scanner.summary() == 0
    h.clock.advance(minutes=29)
    assert await scanner.summary() == 0, "not before 10:30"
    h.clock.advance(minutes=1)
    assert await scanner.summary() == 1
    assert await scanner.summary() == 0, "once a day"
    await h.deliver()
    [summary] = [m for m in texts(h, 5001) if "每日汇总" in m]
    assert "延误订单 50 张" in summary and "另有 40 张" in summary
    assert "未解决的异常 1 个" in summary and NO in summary and "缺料" in summary and "已开启30分钟" in summary
    [row] = await Outbox.filter(kind="daily_summary")
    assert (row.recipient, row.status) == (f"staff:{staff_id}", "sent")
    h.clock.advance(hours=23, minutes=59)
    assert await scanner.summary() == 0
    h.clock.advance(minutes=1)
    assert await scanner.summary() == 1, "the next day at the same hour"
