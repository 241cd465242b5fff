"""The People page: the staff list, adding, editing, binding, disabling (in a real browser: the
member's chat command is refused and their open session ends), and API keys for admins."""
from __future__ import annotations

import re

import pytest

from models.apikeys import ApiKey
from models.audit import ActionLog
from models.people import Identity, StaffMember
from tests.kit.base import Bot
from tests.kit.console import CHROMIUM, Desk, new_context, open_browser, serve_desk, shoot, sign_in


@pytest.fixture
async def desk(bot: Bot, settings, engine):
    async with serve_desk(bot, settings, engine) as d:
        yield d


async def post(desk: Desk, session, path: str, data: dict, *, follow: bool = False):
    token = await desk.csrf(session)
    async with session.post(desk.base + path, data={"csrf": token, **data}, allow_redirects=follow) as r:
        return r.status, await r.text(), r.headers.get("Location")


async def test_a_sales_member_may_not_open_or_change_people(desk: Desk):
    sales = await desk.member("王芳", "sales", "S002")
    session = await desk.client(sales)
    async with session.get(desk.base + "/console/people") as r:
        assert r.status == 403
    status, _, _ = await post(desk, session, "/console/people/S002/edit", {"role": "admin"})
    assert status == 403
    assert (await StaffMember.get(code="S002")).role.value == "sales"


async def test_a_manager_adds_and_edits_but_only_an_admin_makes_an_admin(desk: Desk):
    manager = await desk.member("李经理", "manager", "M001")
    session = await desk.client(manager)
    status, _, where = await post(desk, session, "/console/people",
                                  {"name": "<script>alert(1)</script>张三", "role": "sales", "code": "s010",
                                   "telegram": "3010"})
    assert status == 303 and where == "/console/people/S010?done=added"
    async with session.get(desk.base + "/console/people") as r:
        page = await r.text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;张三" in page and "<script>alert(1)" not in page
    assert await Identity.filter(channel="telegram", external_id="3010", staff__code="S010").exists()
    status, page, _ = await post(desk, session, "/console/people/S010/edit", {"role": "admin", "name": "张三"})
    assert status == 403 and "只有管理员" in page
    status, page, _ = await post(desk, session, "/console/people/S010/edit", {"code": "M001", "name": "张三"})
    assert status == 409 and "工号已经有人用了" in page
    status, _, where = await post(desk, session, "/console/people/S010/edit",
                                  {"name": "张三", "department": "华东", "role": "sales", "code": "S011"})
    assert status == 303 and where.startswith("/console/people/S011")
    row = await ActionLog.filter(action="staff.edit").order_by("-id").first()
    assert row.actor == "M001" and row.before["code"] == "S010" and row.after == {"name": "张三", "department": "华东", "code": "S011"}
    status, page, _ = await post(desk, session, "/console/people/M001/disable", {})
    assert status == 400 and "不能停用自己" in page


async def test_api_keys_are_shown_once_and_revoked_for_admins_only(desk: Desk, api):
    admin = await desk.member("管理员", "admin", "A001")
    manager = await desk.member("李经理", "manager", "M001")
    other = await desk.client(manager)
    async with other.get(desk.base + "/console/keys") as r:
        assert r.status == 403
    session = await desk.client(admin)
    status, page, _ = await post(desk, session, "/console/keys", {"name": "erp", "scope": "orders:read"})
    assert status == 200
    key = re.search(r"(ob_[\w-]{20,})", page).group(1)
    async with session.get(desk.base + "/console/keys") as r:
        assert key not in await r.text(), "a key is shown only once"
    st, _ = await api.call("GET", "/api/v1/orders", key=key)
    assert st == 200
    row = await ApiKey.get(name="erp")
    status, page, _ = await post(desk, session, f"/console/keys/{row.id}/revoke", {})
    assert status == 200 and "已吊销" in page
    assert (await ApiKey.get(id=row.id)).revoked_at is not None
    status, _, _ = await post(desk, session, "/console/keys", {"name": "", "scope": "orders:read"})
    assert status == 400


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_disabling_a_sales_member_in_the_browser_stops_their_chat_and_their_session(desk: Desk, bot: Bot, api, size):
    admin = await desk.member("周建国", "admin", "A001")
    sales = await desk.member("王芳", "sales", "S002", identities={"telegram": "2002"})
    await desk.member("李雷", "sales", "S003")
    await api.create("SO202612010001", sales_owner="S002")
    assert "没有延误订单" in await bot.flow("2002").say("/late")
    async with open_browser() as browser:
        hers = await new_context(browser, "phone")
        her_page = await sign_in(hers, desk, sales)
        mine = await new_context(browser, size)
        page = await sign_in(mine, desk, admin)
        await page.click("nav >> text=人员")
        await page.wait_for_url(desk.base + "/console/people")
        await shoot(page, "console-people")
        await page.click("text=王芳")
        await page.wait_for_url(desk.base + "/console/people/S002")
        assert "SO202612010001" in await page.inner_text("main")  # her order, listed for reassignment
        await shoot(page, "console-person")
        await page.click("button:has-text('停用此人')")
        await page.wait_for_url(re.compile(r".*done=disabled"))
        assert "已停用" in await page.inner_text(".flash")
        await shoot(page, "console-person-disabled")
        await her_page.reload()
        assert "/console/signin" in her_page.url, "her open session ended"
        assert "没有延误订单" not in await bot.flow("2002").say("/late"), "her chat command is refused"
        await page.select_option("#r-to", "S003")
        await page.click("button:has-text('转交')")
        await page.wait_for_url(re.compile(r".*done=reassigned"))
        _, body = await api.call("GET", "/api/v1/orders/SO202612010001")
        assert body["sales_owner"] == "S003"
        await page.goto(desk.base + "/console/keys")
        await page.fill("#k-name", "erp")
        await page.click("button:has-text('创建密钥')")
        assert (await page.inner_text("code.secret")).startswith("ob_")
        await shoot(page, "console-keys")
