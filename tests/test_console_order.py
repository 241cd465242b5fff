"""The order page of the console: the timeline, the moves from here, exceptions one at a time,
edits kept as history, notices and viewers; the view policy's fields and scope, as in chat.

The browser flows run in Debian's Chromium and write screenshots at 1280×800 and 390×844.
"""
from __future__ import annotations

import re

import pytest

from models.audit import ActionLog, AuditLog, OrderChange
from models.inputs import CustomerIn, EventIn, ExceptionIn, OrderIn
from models.orders import Order, OrderException
from models.outbox import Outbox
from models.people import Customer, Identity
from tests.kit.base import Bot
from tests.kit.console import CHROMIUM, Desk, new_context, open_browser, serve_desk, shoot, sign_in

needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
NO, OTHER = "SO202612050001", "SO202612050002"
XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>"


@pytest.fixture
async def desk(bot: Bot, settings, engine):
    async with serve_desk(bot, settings, engine) as d:
        yield d


async def order(engine, no: str = NO, *, to: str = "approved", owner: str | None = "S002", name: str = "张三",
                ship_to: str = "上海市浦东新区世纪大道 100 号", note: str | None = None) -> Order:
    """An order of customer ``name`` (bound on Telegram 5001, so told of progress), moved on to ``to``."""
    await engine.create_order(OrderIn(
        order_no=no, customer=CustomerIn(name=name, email="zhang@buyer.example", phone="13812345678"),
        amount="12000.00", cost="9000.50", supplier="宁波五金厂", sales_owner=owner, ship_to=ship_to,
        promised_date="2030-01-31"), actor="erp")
    found = await Order.get(order_no=no)
    if not await Identity.filter(channel="telegram", external_id="5001").exists():
        await Identity.create(channel="telegram", external_id="5001", customer_id=found.customer_id)
    for i, node in enumerate(["approved", "paid", "stocking", "production", "qc", "outbound"]):
        await engine.apply_event(no, EventIn(event_id=f"{no}-{i}", node=node, actor="M001", note=note))
        if node == to:
            break
    return await Order.get(order_no=no)


def page_of(no: str = NO) -> str:
    return f"/console/orders/{no}"


async def text_of(session, url: str) -> tuple[int, str]:
    async with session.get(url) as r:
        return r.status, await r.text()


# ---------------------------------------------------------------- HTTP
async def test_the_page_shows_where_the_order_stands_and_records_who_looked(desk: Desk, engine):
    await order(engine, to="paid")
    manager = await desk.member("李经理", "manager", "M001")
    await desk.member("王芳", "sales", "S002")
    session = await desk.client(manager)
    status, html = await text_of(session, desk.base + page_of())
    assert status == 200
    assert re.search(r'class="step done".*?下单.*?class="step done".*?审核.*?class="step current".*?付款', html, re.S)
    assert 'aria-current="step"' in html and "备货" in html  # ahead
    assert "2030年1月31日" in html and "预计送达" in html
    assert "李经理（M001）" in html  # who moved it, by name
    assert "王芳（S002）" in html  # the owner, by name
    row = await AuditLog.filter(order_no=NO, channel="console").first()
    assert (row.actor_kind, row.actor_id, row.verified_by) == ("staff", "M001", "staff")
    _, again = await text_of(session, desk.base + page_of())
    assert "谁看过" in again and again.count("李经理") >= 2


async def test_managers_see_cost_and_profit_sales_see_the_amount_only_and_not_others_orders(desk: Desk, engine):
    await order(engine, NO, owner="S002")
    await order(engine, OTHER, owner="S003")
    manager = await desk.member("李经理", "manager", "M001")
    sales = await desk.member("王芳", "sales", "S002")
    operator = await desk.member("赵仓管", "operator", "O001", department="warehouse")
    _, html = await text_of(await desk.client(manager), desk.base + page_of())
    assert "9,000.50" in html and "2,999.50" in html and "12,000.00" in html and "宁波五金厂" in html
    seller = await desk.client(sales)
    _, html = await text_of(seller, desk.base + page_of())
    assert "12,000.00" in html and "9,000.50" not in html and "2,999.50" not in html and "宁波五金厂" not in html
    assert "利润" not in html
    shown = await AuditLog.filter(order_no=NO, actor_id="S002").first()
    assert "cost" not in shown.fields_shown and "amount" in shown.fields_shown
    missing, mine_not = await text_of(seller, desk.base + page_of("SO209912319999")), \
        await text_of(seller, desk.base + page_of(OTHER))
    assert missing[0] == mine_not[0] == 404 and missing[1] == mine_not[1]  # the same answer: no hint it exists
    _, html = await text_of(await desk.client(operator), desk.base + page_of(OTHER))
    assert "12,000.00" not in html and "13812345678" in html  # contact and ship-to, not money


async def test_posts_need_a_session_and_the_csrf_token(desk: Desk, engine):
    await order(engine)
    manager = await desk.member("李经理", "manager", "M001")
    anonymous = await desk.client()
    async with anonymous.get(desk.base + page_of(), allow_redirects=False) as r:
        assert r.status == 303 and "/console/signin" in r.headers["Location"]
    async with anonymous.post(desk.base + page_of() + "/advance", data={"node": "paid"},
                              allow_redirects=False) as r:
        assert r.status == 303 and "/console/signin" in r.headers["Location"]
    session = await desk.client(manager)
    async with session.post(desk.base + page_of() + "/advance", data={"node": "paid"}, allow_redirects=False) as r:
        assert r.status == 403
    assert (await Order.get(order_no=NO)).current_node == "approved"


async def test_an_operator_moves_only_their_departments_nodes(desk: Desk, engine):
    await order(engine, to="paid")
    finance = await desk.member("钱会计", "operator", "O002", department="finance")
    session = await desk.client(finance)
    _, html = await text_of(session, desk.base + page_of())
    assert "推进到" not in html and "只能查看" in html  # stocking belongs to the warehouse
    token = await desk.csrf(session, page_of())
    async with session.post(desk.base + page_of() + "/advance", data={"csrf": token, "node": "stocking"},
                            allow_redirects=False) as r:
        assert r.status == 403
    assert (await Order.get(order_no=NO)).current_node == "paid"


async def test_skipping_where_the_workflow_allows_and_a_refusal_in_words_where_not(desk: Desk, engine):
    await order(engine, to="stocking")
    manager = await desk.member("李经理", "manager", "M001")
    session = await desk.client(manager)
    _, html = await text_of(session, desk.base + page_of())
    assert "推进到「生产」" in html and "跳到「质检」" in html and "跳到「出库」" in html  # production, qc skippable
    assert "跳到「签收」" not in html  # outbound is not
    token = await desk.csrf(session, page_of())
    async with session.post(desk.base + page_of() + "/advance", data={"csrf": token, "node": "delivered"}) as r:
        assert r.status == 422
        assert "不能跳过" in await r.text() or "出库" in await r.text()
    async with session.post(desk.base + page_of() + "/advance", data={"csrf": token, "node": "qc",
                                                                     "event_id": "console-once"}) as r:
        assert r.status == 200 and "已推进到「质检」" in await r.text()
    assert (await Order.get(order_no=NO)).current_node == "qc"
    moved = await ActionLog.filter(action="order.advance", subject=f"order:{NO}").first()
    assert moved.actor == "M001" and moved.before == {"node": "stocking"} and moved.after["node"] == "qc"


async def test_edits_are_kept_as_history_with_who_and_when(desk: Desk, engine):
    await order(engine)
    manager = await desk.member("李经理", "manager", "M001")
    await desk.member("王芳", "sales", "S002")
    await desk.member("周强", "sales", "S005")
    session = await desk.client(manager)
    token = await desk.csrf(session, page_of())
    form = {"csrf": token, "promised_date": "2030-02-15", "sales_owner": "S005", "customer_name": "张三丰",
            "customer_phone": "13900000000", "customer_email": "feng@buyer.example", "ship_to": "杭州市西湖区 1 号"}
    async with session.post(desk.base + page_of() + "/edit", data=form) as r:
        assert r.status == 200 and "已保存" in await r.text()
    o = await Order.get(order_no=NO)
    c = await Customer.get(id=o.customer_id)
    assert (str(o.promised_date), o.sales_owner, o.ship_to) == ("2030-02-15", "S005", "杭州市西湖区 1 号")
    assert (c.name, c.phone, c.email) == ("张三丰", "13900000000", "feng@buyer.example")
    changes = {ch.field: ch for ch in await OrderChange.filter(order_no=NO)}
    assert set(changes) == {"promised_date", "sales_owner", "customer.name", "customer.phone", "customer.email",
                            "ship_to"}
    assert all(ch.actor == "M001" and ch.source == "console" for ch in changes.values())
    _, html = await text_of(session, desk.base + page_of())
    assert "修改记录" in html and "周强（S005）" in html and "2030-02-15" in html
    logged = await ActionLog.filter(action="order.edit").first()
    assert logged.before["sales_owner"] == "S002" and logged.after["sales_owner"] == "S005"
    bad = {**form, "customer_email": "not an address"}
    async with session.post(desk.base + page_of() + "/edit", data=bad) as r:
        assert r.status == 400 and "「邮箱」填写有误" in await r.text()
    async with session.post(desk.base + page_of() + "/edit", data={**form, "customer_name": " "}) as r:
        assert r.status == 400 and "客户名称不能为空" in await r.text()
    async with session.post(desk.base + page_of() + "/edit", data={**form, "sales_owner": "Z999"}) as r:
        assert r.status == 400 and "Z999" in await r.text()


async def test_sales_may_edit_their_order_but_not_give_it_away(desk: Desk, engine):
    await order(engine)
    sales = await desk.member("王芳", "sales", "S002")
    await desk.member("周强", "sales", "S005")
    session = await desk.client(sales)
    token = await desk.csrf(session, page_of())
    async with session.post(desk.base + page_of() + "/edit", data={
            "csrf": token, "promised_date": "2030-03-01", "sales_owner": "S005", "customer_name": "张三",
            "customer_phone": "13812345678", "customer_email": "zhang@buyer.example", "ship_to": "同上"}) as r:
        assert r.status == 200
    o = await Order.get(order_no=NO)
    assert str(o.promised_date) == "2030-03-01" and o.sales_owner == "S002"


# ---------------------------------------------------------------- in a browser
@needs_browser
@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_advancing_in_the_browser_tells_the_customer(desk: Desk, engine, size):
    await order(engine, to="approved")
    manager = await desk.member("李经理", "manager", "M001")
    await desk.member("王芳", "sales", "S002")
    async with open_browser() as browser:
        context = await new_context(browser, size)
        page = await sign_in(context, desk, manager)
        await page.goto(desk.base + page_of())
        await shoot(page, "console-order")
        await page.fill("#note", "客户已付全款")
        await page.click("button[data-move=paid]")
        await page.wait_for_selector(".flash.ok")
        assert "已推进到「付款」" in await page.inner_text(".flash.ok")
        assert "付款" in await page.inner_text(".step.current")
        assert "客户已付全款" in await page.inner_text(".step.current")
        told = await Outbox.filter(order_no=NO, kind="node_entered", audience="customer")
        customer = (await Order.get(order_no=NO)).customer_id
        assert [r.recipient for r in told] == [f"customer:{customer}"]
        row = page.locator(".notices li[data-kind=node_entered][data-audience=customer]")
        assert await row.count() == 1 and "张三" in await row.inner_text() and "Telegram" in await row.inner_text()
        await shoot(page, "console-order-advanced")
        english = await context.new_page()
        await english.goto(desk.base + page_of() + "?lang=en")
        assert "Progress" in await english.inner_text("main")
        await shoot(english, "console-order-en")
        await context.close()


@needs_browser
@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_acknowledging_one_of_two_exceptions_changes_only_that_one(desk: Desk, engine, size):
    await order(engine, to="stocking")
    one = (await engine.open_exception(NO, ExceptionIn(kind="stockout", note="铝材缺货"))).exception
    two = (await engine.open_exception(NO, ExceptionIn(kind="delay", note="供应商推迟", severity="high"))).exception
    manager = await desk.member("李经理", "manager", "M001")
    async with open_browser() as browser:
        context = await new_context(browser, size)
        page = await sign_in(context, desk, manager)
        await page.goto(desk.base + page_of())
        await page.evaluate("window.stayed = true")  # a full reload would forget it
        await shoot(page, "console-order-exceptions")
        await page.click(f"button[data-ack='{one.id}']")
        await page.wait_for_selector(f"#exc-{one.id}.acknowledged")
        assert await page.evaluate("window.stayed === true")
        assert "已认领" in await page.inner_text(f"#exc-{one.id}") and "李经理" in await page.inner_text(f"#exc-{one.id}")
        assert "待处理" in await page.inner_text(f"#exc-{two.id}")
        assert await page.locator(f"button[data-ack='{two.id}']").count() == 1
        statuses = {x.id: x.status for x in await OrderException.filter(order_id=one.order_id)}
        assert statuses == {one.id: "acknowledged", two.id: "open"}
        await page.fill(f"#exc-{two.id} input[name=note]", "已换供应商")
        await page.click(f"button[data-resolve='{two.id}']")
        await page.wait_for_selector(f"#exc-{two.id}.resolved")
        assert "已换供应商" in await page.inner_text(f"#exc-{two.id}")
        assert (await OrderException.get(id=one.id)).status == "acknowledged"
        assert await ActionLog.filter(action="exception.acknowledge").count() == 1
        await shoot(page, "console-order-exception-acked")
        await context.close()


@needs_browser
async def test_a_rework_without_a_reason_is_refused_with_a_message(desk: Desk, engine):
    await order(engine, to="qc")
    manager = await desk.member("李经理", "manager", "M001")
    async with open_browser() as browser:
        context = await new_context(browser, "desktop")
        page = await sign_in(context, desk, manager)
        await page.goto(desk.base + page_of())
        await page.click("details.rework summary")
        await page.select_option("#rework-node", "production")
        await page.fill("#reason", "   ")  # the browser lets spaces through; the engine does not
        await page.click("details.rework button")
        await page.wait_for_selector("#refusal")
        assert "返工需要写明原因" in await page.inner_text("#refusal")
        assert (await Order.get(order_no=NO)).current_node == "qc"
        await shoot(page, "console-order-rework-refused")
        await page.fill("#reason", "表面划痕，重新喷涂")
        await page.click("details.rework button")
        await page.wait_for_selector(".flash.ok")
        assert (await Order.get(order_no=NO)).current_node == "production"
        assert "表面划痕，重新喷涂" in await page.inner_text(".step.current")
        assert "质检" in await page.inner_text(".step.ahead >> nth=0")
        await context.close()


@needs_browser
async def test_sales_sees_no_cost_in_the_browser_and_404_for_anothers_order(desk: Desk, engine):
    await order(engine, NO, owner="S002")
    await order(engine, OTHER, owner="S003")
    manager = await desk.member("李经理", "manager", "M001")
    sales = await desk.member("王芳", "sales", "S002")
    async with open_browser() as browser:
        context = await new_context(browser, "desktop")
        page = await sign_in(context, desk, manager)
        await page.goto(desk.base + page_of())
        assert await page.locator("[data-field=cost]").count() == 1
        assert await page.locator("[data-field=profit]").count() == 1
        await context.close()
        context = await new_context(browser, "phone")
        page = await sign_in(context, desk, sales)
        await page.goto(desk.base + page_of())
        assert await page.locator("[data-field=amount]").count() == 1
        assert await page.locator("[data-field=cost], [data-field=profit]").count() == 0
        await shoot(page, "console-order-sales")
        answer = await page.goto(desk.base + page_of(OTHER))
        assert answer.status == 404 and "找不到这个页面" in await page.inner_text("main")
        await context.close()


@needs_browser
async def test_html_in_every_free_text_field_is_shown_as_text(desk: Desk, engine):
    await order(engine, to="paid", name=f"张三{XSS}", ship_to=f"地址{XSS}", note=f"备注{XSS}")
    await engine.apply_event(NO, EventIn(event_id="same-node", node="paid", note=f"同环节{XSS}"))
    x = (await engine.open_exception(NO, ExceptionIn(kind="custom", note=f"异常{XSS}"))).exception
    manager = await desk.member("李经理", "manager", "M001")
    async with open_browser() as browser:
        context = await new_context(browser, "desktop")
        page = await sign_in(context, desk, manager)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        await page.goto(desk.base + page_of())
        await page.fill(f"#exc-{x.id} input[name=note]", f"解决{XSS}")
        await page.click(f"button[data-resolve='{x.id}']")
        await page.wait_for_selector(f"#exc-{x.id}.resolved")
        await page.goto(desk.base + page_of())
        await page.click("details.closed-excs summary")
        text = await page.inner_text("main")
        for shown in ("张三", "地址", "备注", "同环节", "异常", "解决"):
            assert f"{shown}{XSS}" in text, shown  # the very characters, as text
        assert await page.locator("main script").count() == 0 and await page.locator("main img").count() == 0
        assert dialogs == []
        await shoot(page, "console-order-html-as-text")
        await context.close()


async def test_a_contact_change_reaches_the_customers_other_orders_only_when_asked(desk: Desk, engine):
    await order(engine, NO)
    await order(engine, OTHER)
    manager = await desk.member("李经理", "manager", "M001")
    session = await desk.client(manager)
    token = await desk.csrf(session, page_of())
    form = {"csrf": token, "promised_date": "2030-01-31", "sales_owner": "", "customer_name": "张三",
            "customer_phone": "13700000000", "customer_email": "zhang@buyer.example", "ship_to": "同上"}
    async with session.post(desk.base + page_of() + "/edit", data=form) as r:
        assert r.status == 200
    this, other = await Order.get(order_no=NO), await Order.get(order_no=OTHER)
    assert this.customer_id != other.customer_id  # this order got a record of its own
    assert (await Customer.get(id=other.customer_id)).phone == "13812345678"
    async with session.post(desk.base + page_of(OTHER) + "/edit", data={**form, "apply_to_customer": "1"}) as r:
        assert r.status == 200
    assert (await Customer.get(id=(await Order.get(order_no=OTHER)).customer_id)).phone == "13700000000"
    changed = await OrderChange.filter(order_no=OTHER, field="customer.phone").first()
    assert changed.scope == "customer"
