"""Pushes to staff pass the same view policy as a lookup (issue 12, finding 4).

A sales member subscribed to exceptions used to receive another sales member's order, its
internal note included, while `/order` on the same number said "not found". Now each role
hears what it may look up, and a group chat subscribed by staff gets the group's view.
"""
from __future__ import annotations

from models.people import add_staff
from models.recipients import Subscription
from tests.kit.notices import NO, Notices, texts

NOTE = "内部备注：供应商延误"
GROUP = -100200300


async def staff(h: Notices, name: str, role: str, code: str, department: str | None, chat: int):
    member = await add_staff(name, role, code, department, {"telegram": str(chat)}, None)
    return member


async def subscribe(chat: int | str, member, key: str, **about) -> None:
    await Subscription.create(channel="telegram", address=str(chat), scope=about.pop("scope", "exceptions"),
                              scope_key=key, staff=member, **about)


async def test_each_role_hears_of_an_exception_as_it_may_look_the_order_up(h: Notices):
    """Failed before: the other sales member (3002) got the push, internal note and all."""
    admin = await staff(h, "赵管理", "admin", "A001", None, 3000)
    owner = await staff(h, "王销售", "sales", "S001", None, 3001)
    other = await staff(h, "钱销售", "sales", "S002", None, 3002)
    qc = await staff(h, "孙质检", "operator", "O001", "warehouse", 3003)
    boss = await staff(h, "李主管", "manager", "M001", None, 3004)
    for member, chat in ((admin, 3000), (owner, 3001), (other, 3002), (qc, 3003), (boss, 3004)):
        await subscribe(chat, member, "exceptions:*")
    await subscribe(GROUP, boss, "exceptions:department:warehouse", department="warehouse")
    await h.order(at="stocking", sales_owner="S001")
    await h.open_exception(note=NOTE)
    await h.deliver()
    for chat in (3000, 3001, 3003, 3004):
        [push] = texts(h, chat)
        assert NO in push and NOTE in push, chat
    assert texts(h, 3002) == [], "another sales member hears nothing of an order they may not look up"
    [group] = texts(h, GROUP)
    assert NO in group and NOTE not in group, "a group reads the group's view: no internal note"
    # the same people, asking: the lookup and the push agree
    assert "没有找到" in await h.bot.flow("3002").say(f"/order {NO}")


async def test_a_push_is_checked_again_when_it_is_sent(h: Notices):
    """The order changed hands between the notice being written and sent: the old owner hears nothing."""
    old = await staff(h, "钱销售", "sales", "S002", None, 3002)
    await subscribe(3002, old, "exceptions:*")
    await h.order(at="stocking", sales_owner="S002")
    await h.open_exception(note=NOTE)
    status, _ = await h.api.call("PATCH", f"/api/v1/orders/{NO}", {"sales_owner": "S001"})
    assert status == 200
    await h.deliver()
    assert texts(h, 3002) == []
    [row] = await h.rows(address="3002", kind="exception_opened")
    assert row.status == "withheld" and "may not see" in row.last_error


async def test_a_disabled_member_hears_nothing(h: Notices):
    member = await staff(h, "李主管", "manager", "M001", None, 3004)
    await subscribe(3004, member, "exceptions:*")
    await h.order(at="stocking")
    await h.open_exception(note=NOTE)
    member.active = False
    await member.save()
    await h.deliver()
    assert texts(h, 3004) == []
