"""Managing staff from the CLI: edit, disable and enable, bind and unbind, reassign; and what a
disabled member notices: their chat commands are refused and their pushes stop."""
from __future__ import annotations

from models import staffing
from models.audit import ActionLog
from models.outbox import Outbox
from models.people import Identity, StaffMember, add_staff
from models.schedule import utcnow
from tests.kit.base import Bot


def test_staff_edit_disable_enable_bind_unbind_from_the_cli(cli, api):
    assert cli("staff", "add", "--name", "王芳", "--role", "sales", "--code", "S002").code == 0
    assert cli("staff", "add", "--name", "李雷", "--role", "sales", "--code", "S003").code == 0
    done = cli("staff", "edit", "S002", "--department", "华东", "--email", "Wang@Factory.example")
    assert done.code == 0 and "S002 王芳 (sales, 华东) updated" in done.out, done.err
    bad = cli("staff", "edit", "S002", "--role", "boss")
    assert bad.code == 2 and "boss" in bad.err
    taken = cli("staff", "edit", "S002", "--code", "S003")
    assert taken.code == 1 and "S003 is taken" in taken.err
    unknown = cli("staff", "disable", "S999")
    assert unknown.code == 1 and "S999" in unknown.err
    assert cli("staff", "bind", "S002", "telegram:2002").code == 0
    other = cli("staff", "bind", "S003", "telegram:2002")
    assert other.code == 1 and "someone else" in other.err
    wrong = cli("staff", "bind", "S003", "fax:123")
    assert wrong.code == 1 and "CHANNEL:ID" in wrong.err
    listed = cli("staff", "list").out
    assert "telegram:2002" in listed
    assert cli("staff", "unbind", "S002", "telegram:2002").code == 0
    assert "telegram:2002" not in cli("staff", "list").out
    off = cli("staff", "disable", "S002")
    assert off.code == 0 and "S002 王芳 disabled" in off.out and "no order under way" in off.out
    assert "inactive" in cli("staff", "list").out
    assert cli("staff", "enable", "S002").code == 0
    assert "inactive" not in cli("staff", "list").out


async def test_a_new_code_carries_the_orders_along_and_reassign_keeps_each_orders_history(api, engine):
    await add_staff("王芳", "sales", "S002", None, {}, None)
    await add_staff("李雷", "sales", "S003", None, {}, None)
    for no in ("SO202612010001", "SO202612010002"):
        assert (await api.create(no, sales_owner="S002"))[0] == 201
    await staffing.edit("S002", {"code": "S012"}, actor="M001", now=utcnow())
    status, body = await api.call("GET", "/api/v1/orders/SO202612010001")
    assert body["sales_owner"] == "S012"
    held = await staffing.holdings("S012")
    assert [o.order_no for o in held.orders] == ["SO202612010001", "SO202612010002"]
    assert await staffing.reassign(engine, "S012", "S003", actor="M001", source="console") == 2
    from models.audit import OrderChange

    history = await OrderChange.filter(order_no="SO202612010002", field="sales_owner").first()
    assert (history.before, history.after, history.actor) == ('"S012"', '"S003"', "M001")
    row = await ActionLog.filter(action="staff.reassign").first()
    assert row.after["orders"] == 2 and row.actor == "M001"


async def test_a_disabled_member_is_refused_in_chat_and_gets_no_more_pushes(bot: Bot, api):
    await add_staff("王芳", "sales", "S002", None, {"telegram": "2002"}, None)
    await api.create("SO202612010001", sales_owner="S002")
    before = await bot.flow("2002").say("/late")
    assert "没有延误订单" in before  # answered as staff: nothing of hers is late
    await staffing.set_active("S002", False, actor="A001", now=utcnow())
    after = await bot.flow("2002").say("/late")
    assert "延误" not in after, after  # a stranger now: no staff command answers
    assert not await Identity.filter(external_id="2002", staff_id=None).exists(), "the binding stays for enable"
    sent_before = await Outbox.filter(address="2002").count()
    status, _ = await api.call("POST", "/api/v1/orders/SO202612010001/exceptions", {"kind": "delay", "note": "缺料"})
    assert status == 201
    assert await Outbox.filter(address="2002").count() == sent_before, "no push to a disabled member"
    await staffing.set_active("S002", True, actor="A001", now=utcnow())
    assert (await StaffMember.get(code="S002")).active
    actions = await ActionLog.filter(subject="staff:S002").order_by("id").values_list("action", flat=True)
    assert actions == ["staff.disable", "staff.enable"]
