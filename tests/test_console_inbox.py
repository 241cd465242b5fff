"""The console's inbox: a customer's 催单 answered from the browser reaches their Telegram chat; what
the customer writes next shows up in the thread by itself, as text; sales see their own orders'
requests only; posts need the CSRF token; a second claimer is told who has it.

The browser runs in Debian's Chromium; screenshots at 1280×800 and 390×844.
"""
from __future__ import annotations

import pytest

from models.people import add_staff
from models.requests import CustomerRequest
from tests.kit.console import CHROMIUM, Desk, new_context, open_browser, serve_desk, shoot, sign_in
from tests.kit.fakes import Flow
from tests.kit.notices import CHAT, NO, Notices, texts

needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
async def desk(h: Notices):
    async with serve_desk(h.bot, h.settings, h.bot.engine) as d:
        yield d


async def rushed(h: Notices, words: str = f"{NO} 麻烦催一下，很急") -> tuple[Flow, CustomerRequest]:
    """王芳 (S002) owns the order; its customer 张三, bound on Telegram, asks for it to be rushed."""
    customer = await h.order(NO, at="stocking", sales_owner="S002")
    await h.bind(customer)
    flow = Flow(h.bot.conversation, h.sender, sender=str(CHAT))
    assert "王芳" in await flow.say(words)
    return flow, await CustomerRequest.get(order__order_no=NO)


async def wang(desk: Desk):
    return await desk.member("王芳", "sales", "S002", department="sales", identities={"telegram": "2002"})


@needs_browser
@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_a_reply_from_the_inbox_reaches_the_customer_and_their_answer_shows_as_text(h: Notices, desk: Desk, size):
    member = await wang(desk)
    flow, req = await rushed(h)
    async with open_browser() as browser:
        context = await new_context(browser, size)
        page = await sign_in(context, desk, member)
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        await page.click("nav a[href='/console/inbox']")
        row = page.locator(f"a[href='/console/inbox/{req.id}']")
        listed = await row.inner_text()
        assert all(w in listed for w in ("催单", NO, "张三", "Telegram", "待接手")), listed
        await shoot(page, "inbox")

        await row.click()
        await page.click("text=接手对话")
        await page.wait_for_selector("text=您已接手")
        await page.fill("textarea[name=text]", "已加急，预计周五发货。")
        await page.click("button:has-text('发送')")
        await page.wait_for_selector("text=回复已发出")
        await h.deliver()
        assert texts(h)[-2].startswith("客服 王芳 已接手"), texts(h)
        assert texts(h)[-1] == "客服 王芳：已加急，预计周五发货。"

        assert await flow.say(f"{SCRIPT} 好的") != "", "the first message after the claim says who has it"
        last = page.locator("#thread .msg.in .text").last
        await page.locator("#thread .msg.in").nth(1).wait_for(timeout=12_000)  # the page polls; nobody reloads
        assert await last.inner_text() == f"{SCRIPT} 好的", "what the customer wrote is shown as text"
        assert dialogs == [], "and never runs"
        await shoot(page, "inbox-thread")

        await page.click("text=结束对话，交回订单助手")
        await page.wait_for_selector("text=请求已关闭")
        await h.deliver()
        assert "对话已交回订单助手" in texts(h)[-1]
        await page.goto(f"{desk.base}/console/inbox?status=closed")
        assert NO in await page.locator("main").inner_text()
        await context.close()


async def test_sales_see_only_their_own_orders_requests(h: Notices, desk: Desk):
    await wang(desk)
    _, req = await rushed(h)
    other = await desk.member("赵销售", "sales", "S003")
    session = await desk.client(other)
    async with session.get(f"{desk.base}/console/inbox") as r:
        assert r.status == 200 and NO not in await r.text()
    async with session.get(f"{desk.base}/console/inbox/{req.id}") as r:
        assert r.status == 404
    csrf = await desk.csrf(session, "/console/inbox")
    async with session.post(f"{desk.base}/console/inbox/{req.id}/claim", data={"csrf": csrf}) as r:
        assert r.status == 404
    assert (await CustomerRequest.get(id=req.id)).status == "open"


async def test_posts_need_the_csrf_token_and_a_second_claimer_is_told_who_has_it(h: Notices, desk: Desk):
    member = await wang(desk)
    _, req = await rushed(h)
    mine = await desk.client(member)
    async with mine.post(f"{desk.base}/console/inbox/{req.id}/claim", data={}) as r:
        assert r.status == 403
    csrf = await desk.csrf(mine, "/console/inbox")
    async with mine.post(f"{desk.base}/console/inbox/{req.id}/claim", data={"csrf": csrf}, allow_redirects=False) as r:
        assert r.status == 303
    boss = await desk.client(await desk.member("李经理", "manager", "M001"))
    boss_csrf = await desk.csrf(boss, "/console/inbox")
    async with boss.post(f"{desk.base}/console/inbox/{req.id}/claim", data={"csrf": boss_csrf}) as r:
        assert r.status == 409 and "王芳 已经接手了这个对话" in await r.text()
    async with mine.post(f"{desk.base}/console/inbox/{req.id}/reply", data={"csrf": csrf, "text": "  "}) as r:
        assert r.status == 400 and "请先写下回复内容" in await r.text()
    async with mine.post(f"{desk.base}/console/inbox/{req.id}/reply", data={"csrf": csrf, "text": "x" * 4001}) as r:
        body = await r.text()
        assert r.status == 400 and "最多 4000 字" in body and "x" * 4001 in body, "the draft is kept"
    for path in ("/console/inbox/99999", "/console/inbox/123456789012345678901", "/console/inbox/abc"):
        async with mine.get(desk.base + path) as r:
            assert r.status == 404, path
    async with mine.get(f"{desk.base}/console/inbox?status=nonsense&mine=1") as r:
        assert r.status == 200 and NO in await r.text(), "an unknown filter shows the open ones; it is 王芳's"


async def test_the_inbox_reads_in_english_too(h: Notices, desk: Desk):
    await wang(desk)
    _, req = await rushed(h, f"Could you please rush {NO}?")
    boss = await desk.client(await desk.member("Li Jing", "manager", "M001"))
    async with boss.get(f"{desk.base}/console/inbox?lang=en") as r:
        page = await r.text()
        assert all(w in page for w in ("Inbox", "Waiting", "rush", "via Telegram", "张三")), page
    async with boss.get(f"{desk.base}/console/inbox/{req.id}") as r:
        page = await r.text()
        assert "Take this conversation" in page and "Could you please rush" in page
