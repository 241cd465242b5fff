"""The console's webhooks page (admins): add one (its secret shown once), see deliveries and
send a failed one again, remove one; managers are refused. Browser at 1280×800 and 390×844."""
from __future__ import annotations

import re

import pytest

from models import webhooks
from models.audit import ActionLog
from models.outbox import Outbox
from models.webhooks import Webhook
from tests.kit.base import Bot
from tests.kit.console import CHROMIUM, Desk, new_context, open_browser, serve_desk, shoot, sign_in

needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture
async def desk(bot: Bot, settings, engine):
    async with serve_desk(bot, settings, engine) as d:
        yield d


async def failed_delivery(engine) -> int:
    """A webhook whose one delivery gave up (as after 24 hours of 500s)."""
    from models.inputs import CustomerIn, EventIn, OrderIn

    await webhooks.add("https://erp.example/hook", ["node_entered"], "A001", engine.clock())
    await engine.create_order(OrderIn(order_no="SO202612070201", customer=CustomerIn(name="张三")), actor="erp")
    await engine.apply_event("SO202612070201", EventIn(event_id="e1", node="approved"))
    row = await Outbox.get(audience="webhook")
    await Outbox.filter(id=row.id).update(status="failed", last_error="https://erp.example/hook answered 500")
    return row.id


async def test_admins_add_a_webhook_and_see_its_secret_once(desk: Desk):
    admin = await desk.member("管理员", "admin", "A001")
    session = await desk.client(admin)
    csrf = await desk.csrf(session, "/console/webhooks")
    async with session.post(desk.base + "/console/webhooks", data={
            "csrf": csrf, "url": "https://erp.example/hook", "event": ["node_entered", "order_late"]}) as r:
        html = await r.text()
    hook = await Webhook.get()
    assert r.status == 200 and hook.secret in html and hook.events == ["node_entered", "order_late"]
    async with session.get(desk.base + "/console/webhooks") as r:
        assert hook.secret not in await r.text(), "shown once"
    assert await ActionLog.filter(action="webhook.add", actor="A001").count() == 1
    for data in ({"url": "erp.example", "event": "node_entered"}, {"url": "https://erp.example/x"}):
        async with session.post(desk.base + "/console/webhooks", data={"csrf": csrf, **data}) as r:
            assert r.status == 400
    assert await Webhook.all().count() == 1
    async with session.post(f"{desk.base}/console/webhooks/{hook.id}/remove", data={"csrf": csrf}) as r:
        assert r.status == 200
    assert not (await Webhook.get(id=hook.id)).active


async def test_managers_may_not_touch_webhooks(desk: Desk):
    manager = await desk.member("李经理", "manager", "M001")
    session = await desk.client(manager)
    async with session.get(desk.base + "/console/webhooks") as r:
        assert r.status == 403


@needs_browser
@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_in_the_browser_a_failed_delivery_is_sent_again(desk: Desk, engine, size):
    delivery = await failed_delivery(engine)
    admin = await desk.member("管理员", "admin", "A001")
    async with open_browser() as browser:
        context = await new_context(browser, size)
        page = await sign_in(context, desk, admin)
        await page.goto(desk.base + "/console/webhooks")
        assert "https://erp.example/hook" in await page.inner_text("main")
        assert "answered 500" in await page.inner_text("main")
        await shoot(page, "console-webhooks")
        await page.click(f"form[action$='/deliveries/{delivery}/redeliver'] button")
        await page.wait_for_selector(".flash.ok")
        assert (await Outbox.get(id=delivery)).status == "pending"
        await page.fill("#h-url", "https://bi.example/orders")
        await page.click("form[action='/console/webhooks'] button[type=submit]")
        secret = await page.inner_text("code.secret")
        assert re.fullmatch(r"whsec_[\w-]+", secret)
        await shoot(page, "console-webhooks-added")
        await context.close()
