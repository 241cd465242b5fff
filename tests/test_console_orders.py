"""The console's order list: search that forgives typos, filters, pages, a sales member's own orders only,
downloads of exactly what is shown, bad filters answered with a message, customer names shown as text.

The browser flows run in Debian's Chromium at 1280×800 and 390×844 and write screenshots.
"""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from models.inputs import CustomerIn, EventIn, ExceptionIn, OrderIn
from tests.kit.base import Bot
from tests.kit.console import CHROMIUM, Desk, new_context, open_browser, serve_desk, shoot, sign_in

needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
LATE, WANG, ZHANG, XSS = "SO202612010001", "SO202612010002", "SO202612010003", "SO202612010004"
FILLERS = 55  # orders of 客户 i, so the list has two pages


@pytest.fixture
async def desk(bot: Bot, settings, engine):
    async with serve_desk(bot, settings, engine) as d:
        yield d


async def order(bot: Bot, no: str, name: str, owner: str, *, promised: date, node: str | None = None,
                phone: str | None = None, tracking: str | None = None) -> None:
    email = f"{no.lower()}@buyer.example"
    await bot.engine.create_order(OrderIn(order_no=no, customer=CustomerIn(name=name, email=email, phone=phone),
                                          sales_owner=owner, promised_date=promised))
    path = [n.key for n in bot.engine.workflows.get("standard").nodes]
    for i, key in enumerate(path[1:path.index(node) + 1] if node else []):
        data = {"carrier": "SF", "tracking_no": tracking} if tracking and key == node else {}
        await bot.engine.apply_event(no, EventIn(event_id=f"{no}-{i}", node=key, data=data))


@pytest.fixture
async def orders(bot: Bot, desk: Desk):
    today = bot.engine.today()
    await desk.member("王芳", "sales", "S001")
    await desk.member("刘强", "sales", "S002")
    await order(bot, LATE, "李四", "S001", promised=today - timedelta(days=3), node="production")
    await order(bot, WANG, "王晓明", "S001", promised=today + timedelta(days=10), phone="+86 139-1234-5678")
    await order(bot, ZHANG, "Zhang Wei Trading", "S002", promised=today + timedelta(days=20), node="in_transit",
                tracking="SF1234567890123")
    await order(bot, XSS, "<script>alert(1)</script>", "S001", promised=today + timedelta(days=30))
    for i in range(FILLERS):
        await order(bot, f"SO2026120200{i:02d}", f"客户{i}", "S002", promised=today + timedelta(days=40))
    await bot.engine.open_exception(WANG, ExceptionIn(kind="stockout", note="缺料"))


async def listed(session, desk: Desk, query: str = "") -> tuple[int, str]:
    async with session.get(f"{desk.base}/console/orders{query}") as r:
        return r.status, await r.text()


def numbers(page: str) -> set[str]:
    import re

    return set(re.findall(r'href="/console/orders/(SO\d+)"', page))


async def test_search_forgives_a_misspelt_customer_name_and_finds_phone_and_tracking(desk: Desk, orders):
    session = await desk.client(await desk.member("李经理", "manager", "M001"))
    for typed, found in (("王小明", WANG), ("zhang wie", ZHANG), ("139 1234 5678", WANG), ("sf1234567890123", ZHANG),
                         ("so-2026-1201-0001", LATE), (f"{WANG}@buyer", WANG)):
        status, page = await listed(session, desk, "?q=" + quote(typed))
        assert status == 200 and numbers(page) == {found}, (typed, numbers(page))
    status, page = await listed(session, desk, "?q=SO20261201001")  # a digit left out: the chat's "did you mean"
    assert numbers(page) == {LATE} and "没有找到“SO20261201001”" in page


async def test_filters_sort_and_pages(desk: Desk, orders, bot: Bot):
    session = await desk.client(await desk.member("李经理", "manager", "M001"))
    assert numbers((await listed(session, desk, "?late=1"))[1]) == {LATE}
    assert numbers((await listed(session, desk, "?exceptions=1"))[1]) == {WANG}
    assert numbers((await listed(session, desk, "?node=" + quote("生产")))[1]) == {LATE}  # a node by its name
    assert numbers((await listed(session, desk, "?node=in_transit"))[1]) == {ZHANG}
    assert numbers((await listed(session, desk, "?customer=" + quote("王小明")))[1]) == {WANG}
    today = bot.engine.today()
    window = f"?promised_from={today + timedelta(days=5)}&promised_to={today + timedelta(days=25)}"
    assert numbers((await listed(session, desk, window))[1]) == {WANG, ZHANG}
    assert numbers((await listed(session, desk, f"?created_to={today - timedelta(days=1)}"))[1]) == set()
    first = (await listed(session, desk, "?owner=S001&sort=promised"))[1]
    assert numbers(first) == {LATE, WANG, XSS} and first.index(LATE) < first.index(WANG) < first.index(XSS)
    status, one = await listed(session, desk, "")
    assert "共 59 张订单" in one and "第 1 / 2 页" in one and len(numbers(one)) == 50
    two = (await listed(session, desk, "?page=2"))[1]
    assert len(numbers(two)) == 9 and not numbers(one) & numbers(two)
    assert numbers((await listed(session, desk, "?page=99"))[1]) == numbers(two)  # past the end: the last page


async def test_a_sales_member_sees_only_their_own_orders(desk: Desk, orders):
    member = await desk.member("王芳2", "sales", "S009")
    session = await desk.client(member)
    assert numbers((await listed(session, desk))[1]) == set()
    own = await desk.client(await desk.member("王芳的同事", "manager", "M002"))
    assert len(numbers((await listed(own, desk, "?owner=S001"))[1])) == 3
    from models.people import StaffMember

    s1 = await desk.client(await StaffMember.get(code="S001"))
    status, page = await listed(s1, desk)
    assert numbers(page) == {LATE, WANG, XSS} and 'name="owner"' not in page
    for query in ("?q=zhang", "?q=Zhang%20Wie", "?owner=S002", "?node=in_transit", "?customer=" + quote("客户1")):
        assert numbers((await listed(s1, desk, query))[1]) == set(), query
    # Another's order by its number: a typo is looked for among their own, as the chat does, never the other's.
    assert "SO202612020001" not in numbers((await listed(s1, desk, "?q=SO202612020001"))[1])


async def test_downloads_hold_exactly_the_filtered_rows(desk: Desk, orders):
    session = await desk.client(await desk.member("李经理", "manager", "M001"))
    async with session.get(f"{desk.base}/console/orders.csv?owner=S001&sort=order_no") as r:
        assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
        raw = await r.read()
    assert raw.startswith("\ufeff".encode())  # Excel reads UTF-8 Chinese with the BOM
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][:3] == ["订单号", "客户", "当前环节"]
    assert [row[0] for row in table[1:]] == [LATE, WANG, XSS]
    assert table[1][2] == "生产" and table[1][4] == "是"  # node by name; late
    assert table[3][1] == "<script>alert(1)</script>"
    async with session.get(f"{desk.base}/console/orders.xlsx?q={quote('王小明')}&lang=en") as r:
        assert r.status == 200 and r.content_type.endswith("spreadsheetml.sheet")
        book = load_workbook(io.BytesIO(await r.read()))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:3] == ("Order no.", "Customer", "Node")
    assert [row[0] for row in rows[1:]] == [WANG] and rows[1][2] == "Order placed" and rows[1][9] == 1
    async with session.get(f"{desk.base}/console/orders.csv?late=1") as r:
        late = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert [row[0] for row in late[1:]] == [LATE]
    from models.audit import ActionLog

    taken = await ActionLog.filter(action="orders.download").order_by("id").values_list("actor", "after")
    assert [(actor, after["format"], after["rows"]) for actor, after in taken] == [
        ("M001", "csv", 3), ("M001", "xlsx", 1), ("M001", "csv", 1)], "every download is audited"


async def test_a_download_past_the_cap_says_so_in_the_file(desk: Desk, orders, monkeypatch):
    from models import order_list

    monkeypatch.setattr(order_list, "EXPORT_CAP", 5)  # 10,000 in service; five rows make the same point
    session = await desk.client(await desk.member("李经理", "manager", "M001"))
    async with session.get(f"{desk.base}/console/orders.csv?sort=order_no") as r:
        table = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert [row[0] for row in table[1:6]] == [LATE, WANG, ZHANG, XSS, "SO202612020000"]
    assert table[-1] == ["共 59 张订单，只导出了前 5 张；请缩小筛选范围。"]
    async with session.get(f"{desk.base}/console/orders.xlsx?lang=en") as r:
        rows = list(load_workbook(io.BytesIO(await r.read())).active.iter_rows(values_only=True))
    assert len([row for row in rows[1:] if row[0] and row[0].startswith("SO")]) == 5
    assert rows[-1][0] == "59 orders matched; only the first 5 are in this file. Narrow the filters."


async def test_todays_over_sla_link_lists_the_orders_over_their_nodes_time(desk: Desk, orders, bot: Bot):
    session = await desk.client(await desk.member("李经理", "manager", "M001"))
    assert numbers((await listed(session, desk, "?over_sla=1"))[1]) == set()
    bot.clock.now += timedelta(hours=5)  # 下单 (placed) should take 4 hours
    page = (await listed(session, desk, "?over_sla=1&owner=S001"))[1]
    assert numbers(page) == {WANG, XSS}


async def test_a_sales_members_download_holds_only_their_orders(desk: Desk, orders):
    from models.people import StaffMember

    s1 = await desk.client(await StaffMember.get(code="S001"))
    async with s1.get(f"{desk.base}/console/orders.csv") as r:
        table = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert sorted(row[0] for row in table[1:]) == [LATE, WANG, XSS]


@pytest.mark.parametrize("query, says", [
    ("?promised_from=2026-13-01", "承诺交期"), ("?created_from=2026-12-09&created_to=2026-12-01", "下单日期"),
    ("?page=abc", "页码"), ("?page=0", "页码"), ("?sort=price", "排序"), ("?node=nowhere", "nowhere"),
    ("?late=maybe", "只看逾期"), ("?q=" + "x" * 101, "搜索"),
])
async def test_a_bad_filter_gives_the_page_with_a_message(desk: Desk, orders, query: str, says: str):
    session = await desk.client(await desk.member("李经理", "manager", "M001"))
    status, page = await listed(session, desk, query)
    assert status == 400 and "筛选条件有误" in page and says in page and 'name="q"' in page, page[-800:]
    async with session.get(f"{desk.base}/console/orders.csv{query}") as r:
        assert r.status == 400  # no file for a list that cannot be shown


async def test_a_customer_name_with_html_is_text(desk: Desk, orders):
    session = await desk.client(await desk.member("李经理", "manager", "M001"))
    page = (await listed(session, desk, "?owner=S001"))[1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


async def test_without_a_session_nothing_is_listed_or_downloaded(desk: Desk, orders):
    session = await desk.client()
    for path in ("/console/orders", "/console/orders.csv", "/console/orders.xlsx"):
        async with session.get(desk.base + path, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/console/signin")


# ---------------------------------------------------------------- in the browser
@needs_browser
@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_in_the_browser_find_by_a_misspelt_name_filter_page_and_download(desk: Desk, orders, size: str):
    from playwright.async_api import expect

    manager = await desk.member("李经理", "manager", "M001")
    async with open_browser() as browser:
        context = await new_context(browser, size)
        page = await sign_in(context, desk, manager)
        dialogs = []
        page.on("dialog", lambda d: dialogs.append(d.message))
        rows = page.locator("table.orders tbody tr")
        await page.goto(f"{desk.base}/console/orders")
        await expect(rows).to_have_count(50)
        if size == "desktop":
            await shoot(page, "console-orders")
        await page.fill("input[name=q]", "王小明")
        await page.wait_for_url("**q=*")
        await expect(rows).to_have_count(1)
        assert await page.locator("table.orders tbody tr").first.locator("a").inner_text() == WANG
        assert "q=%E7%8E%8B%E5%B0%8F%E6%98%8E" in page.url  # shareable: the search is in the address
        if size == "desktop":
            await shoot(page, "console-orders-search")
        async with page.expect_download() as info:
            await page.click("a[href^='/console/orders.csv']")
        download = await info.value
        table = list(csv.reader(io.StringIO(open(await download.path(), encoding="utf-8-sig").read())))
        assert [row[0] for row in table[1:]] == [WANG]
        await page.fill("input[name=q]", "")
        await page.check("input[name=late]")
        await page.wait_for_url("**late=1*")
        await expect(rows).to_have_count(1)
        assert LATE in await page.locator("table.orders").inner_text()
        await page.uncheck("input[name=late]")
        if size == "phone":  # the filters beyond search stand folded on a phone, as a person sees them
            assert not await page.locator("select[name=owner]").is_visible()
            await page.click("details.more > summary")
        await page.select_option("select[name=owner]", "S001")
        await expect(rows).to_have_count(3)
        cell = page.locator("td.who", has_text="<script>")
        assert await cell.inner_text() == "<script>alert(1)</script>" and not dialogs
        if size == "desktop":
            await shoot(page, "console-orders-owner")
        await page.goto(f"{desk.base}/console/orders")
        await page.click("a[rel=next]")
        await page.wait_for_url("**page=2*")
        await expect(rows).to_have_count(9)
        await page.goto(f"{desk.base}/console/orders?promised_from=2026-13-40")
        assert "筛选条件有误" in await page.locator(".flash.bad").inner_text()
        if size == "desktop":
            await shoot(page, "console-orders-bad-filter")
        await page.goto(f"{desk.base}/console/orders?owner=S001&lang=en")
        await expect(page.locator("table.orders th").first).to_have_text("Order no.")
        await expect(page.locator("td", has_text="Production")).to_have_count(1)  # nodes by name, in English
        if size == "desktop":
            await shoot(page, "console-orders-en")
        await context.close()
