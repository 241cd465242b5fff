"""The customer's progress page (/t/<token>), the landing page, the API's docs, the company's brand.

A progress link opens one order as its customer sees it (no sign-in), is signed, expires
and can be revoked; every other token gets one plain page that says nothing of any order.
Cards in chat and customers' notices carry the link. Browser flows run in Debian's
Chromium at 1280×800 and 390×844 and write screenshots.
"""
from __future__ import annotations

import re

import pytest

from models import progress
from models.audit import AuditLog
from models.carriers import carrier_of, tracking_url
from models.inputs import CustomerIn, EventData, EventIn, ExceptionIn, OrderIn
from models.orders import Order
from models.people import Identity
from models.progress import ProgressLink
from tests.kit.base import SECRET, Bot
from tests.kit.console import CHROMIUM, Desk, new_context, open_browser, serve_desk, shoot

needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
NO, OTHER = "SO202612070001", "SO202612070002"
XSS = "<script>alert('x')</script>"


@pytest.fixture
async def desk(bot: Bot, settings, engine):
    settings.brand.name, settings.brand.phone, settings.brand.email = "宁波恒达五金", "0574-8888 6666", "sales@hengda.example"
    settings.brand.url = "https://hengda.example"
    async with serve_desk(bot, settings, engine) as d:
        yield d


async def shipped(engine, no: str = NO, *, name: str = "张三", carrier: str = "顺丰", tracking: str = "SF1234567890123",
                  note: str | None = "车间三号线") -> Order:
    """An order gone out with a courier, its staff notes on every move."""
    await engine.create_order(OrderIn(
        order_no=no, customer=CustomerIn(name=name, email="zhang@buyer.example", phone="13812345678"),
        amount="12000.00", cost="9000.50", supplier="宁波五金厂", sales_owner="S002", ship_to="上海市浦东新区世纪大道 100 号",
        promised_date="2030-01-31"), actor="erp")
    for i, node in enumerate(["approved", "paid", "stocking", "production", "qc", "outbound", "in_transit"]):
        data = EventData(carrier=carrier, tracking_no=tracking) if node == "in_transit" else EventData()
        await engine.apply_event(no, EventIn(event_id=f"{no}-{i}", node=node, actor="M001", note=note, data=data))
    return await Order.get(order_no=no)


async def link(engine, order: Order, days: int = 30) -> str:
    """A link as `orderbot order link` makes it (the test's secret key, the served app's too)."""
    return await progress.link_for(SECRET, order.id, engine.clock(), days=days)


async def get(desk: Desk, path: str, **headers) -> tuple[int, str]:
    session = await desk.client()
    async with session.get(desk.base + path, headers=headers, allow_redirects=False) as r:
        return r.status, await r.text()


# ---------------------------------------------------------------- the page
async def test_a_link_shows_the_customers_view_of_its_order_and_is_audited(desk: Desk, engine):
    order = await shipped(engine)
    await engine.open_exception(NO, ExceptionIn(kind="logistics", note="司机说路上爆胎了"), default_actor="M001")
    status, html = await get(desk, f"/t/{await link(engine, order)}")
    assert status == 200
    assert NO in html and "运输" in html and "2030年1月31日" in html
    assert re.search(r'class="done".*?下单.*?class="done".*?付款.*?class="current".*?运输.*?class="ahead".*?签收',
                     html, re.S), "the customer's nodes, done → current → ahead"
    assert "物流异常" in html or "logistics" in html  # what holds it up, by kind
    for staff_only in ("司机说路上爆胎了", "车间三号线", "12000", "9000", "宁波五金厂", "世纪大道", "13812345678", "S002"):
        assert staff_only not in html, f"{staff_only} is for staff only"
    assert "SF1234567890123" in html and "顺丰速运" in html
    assert 'href="https://www.sf-express.com/chn/sc/waybill/waybill-detail/SF1234567890123"' in html
    assert "宁波恒达五金" in html and 'href="tel:0574-88886666"' in html and "sales@hengda.example" in html
    row = await AuditLog.get(order_no=NO, channel="progress")
    assert (row.actor_kind, row.verified_by) == ("link", "progress_link")
    assert (await ProgressLink.get(order_id=order.id)).opened == 1


async def test_the_staff_order_page_lists_the_link_among_who_looked(desk: Desk, engine):
    order = await shipped(engine)
    await get(desk, f"/t/{await link(engine, order)}")
    manager = await desk.member("李经理", "manager", "M001")
    session = await desk.client(manager)
    async with session.get(f"{desk.base}/console/orders/{NO}") as r:
        assert "进度链接" in await r.text()


async def test_wrong_expired_and_revoked_links_get_one_page_that_names_no_order(desk: Desk, engine, bot: Bot):
    a, b = await shipped(engine, NO), await shipped(engine, OTHER, name="李四")
    good = await link(engine, a)
    link_id, signature = good.split(".")
    b_id = str(int(link_id, 36) + 0)
    other = await link(engine, b)
    forged = f"{other.split('.')[0]}.{signature}"  # B's number under A's signature
    tries = {"garbage": "nope", "forged": forged, "truncated": good[:-1], "long": "x" * 500,
             "html": "%3Cscript%3E", "unknown": f"zz{b_id}.{signature}"}
    pages = {name: await get(desk, f"/t/{token}") for name, token in tries.items()}
    bot.clock.advance(days=31)
    pages["expired"] = await get(desk, f"/t/{good}")
    bot.clock.advance(days=-31)
    assert await progress.revoke(b.id, engine.clock()) == 1
    pages["revoked"] = await get(desk, f"/t/{other}")
    bodies = set()
    for name, (status, html) in pages.items():
        assert status == 404, name
        assert NO not in html and OTHER not in html and "李四" not in html, name
        assert "链接无效或已过期" in html, name
        bodies.add(html)
    assert len(bodies) == 1, "one page for every link that opens nothing"
    status, html = await get(desk, f"/t/{good}")
    assert status == 200 and NO in html and OTHER not in html, "A's link still shows A, and only A"


async def test_a_link_lasts_the_configured_days(desk: Desk, engine, bot: Bot, settings):
    from bot.app import card_link

    settings.web.progress_link_days = 3
    order = await shipped(engine)
    url = await card_link(settings, engine)(order.id)
    token = url.rsplit("/", 1)[1]
    bot.clock.advance(days=2, hours=23)
    assert (await get(desk, f"/t/{token}"))[0] == 200
    bot.clock.advance(hours=2)
    assert (await get(desk, f"/t/{token}"))[0] == 404


async def test_html_in_the_orders_free_text_is_shown_as_text(desk: Desk, engine, settings):
    settings.brand.name = XSS
    order = await shipped(engine, name=XSS, carrier=XSS, tracking=f"SF{XSS}", note=XSS)
    status, html = await get(desk, f"/t/{await link(engine, order)}")
    assert status == 200 and "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # the carrier and brand, as text


async def test_the_chat_button_takes_the_customer_into_the_chat_about_this_order(desk: Desk, engine, bot: Bot):
    order = await shipped(engine)
    session = await desk.client()
    async with session.post(f"{desk.base}/t/{await link(engine, order)}/chat", allow_redirects=False) as r:
        assert r.status == 303
        start = re.fullmatch(r"/chat\?start=([\w-]+)&lang=zh", r.headers["Location"]).group(1)
    assert f"已绑定订单 {NO}" in await bot.flow("visitor-1", channel="web").say(f"/start {start}")
    async with session.post(f"{desk.base}/t/nope/chat", allow_redirects=False) as r:
        assert r.status == 404


async def test_the_cli_hands_out_a_link_and_takes_them_all_back(engine, cli):
    order = await shipped(engine)
    made = cli("order", "link", NO)
    assert made.code == 0, made.err
    token = re.fullmatch(r"http://127\.0\.0\.1:8080/t/([\w.-]+)", made.out.strip()).group(1)
    assert (await progress.opened(SECRET, token, engine.clock())).order.id == order.id
    revoked = cli("order", "link", NO, "--revoke")
    assert revoked.code == 0 and "revoked 1 progress link" in revoked.out
    assert await progress.opened(SECRET, token, engine.clock()) is None
    missing = cli("order", "link", "SO000000000099")
    assert missing.code != 0 and "SO000000000099" in missing.err


# ---------------------------------------------------------------- where the link goes out
async def test_cards_in_chat_carry_the_link_to_their_order(desk: Desk, engine, bot: Bot):
    order = await shipped(engine)
    await Identity.create(channel="telegram", external_id="5001", customer_id=order.customer_id)
    await desk.member("王芳", "sales", "S002", identities={"telegram": "2002"})
    for who in ("5001", "2002"):
        answer = await bot.flow(who).say(NO)
        url = re.search(r"查看详情：(\S+)", answer).group(1)
        status, html = await get(desk, url.split(":8080", 1)[1] if ":8080" in url else url)
        assert status == 200 and NO in html, who
    assert await ProgressLink.filter(order_id=order.id).count() == 1, "one link serves a day's cards"


# ---------------------------------------------------------------- carriers
@pytest.mark.parametrize("typed, number, key", [
    ("顺丰", "SF1234567890123", "sf"), ("顺丰速运", "123", "sf"), ("SF Express", "1", "sf"), ("", "SF1234567890123", "sf"),
    ("京东物流", "JDVA00000000001", "jd"), ("EMS", "1", "ems"), ("中国邮政", "1", "ems"), ("中通快递", "1", "zto"),
    ("ZTO", "1", "zto"), ("圆通", "1", "yto"), ("申通快递", "1", "sto"), ("韵达", "1", "yunda"), ("德邦快递", "1", "deppon"),
    ("ｓｆ", "1", "sf"),
])
def test_couriers_are_known_by_the_names_people_type(typed, number, key):
    assert carrier_of(typed, number).key == key
    assert tracking_url(typed, number).startswith("https://")


def test_an_unknown_courier_gets_no_link():
    assert carrier_of("安能物流", "123456") is None and tracking_url("安能物流", "123456") is None
    assert tracking_url("顺丰", None) is None
    assert tracking_url("顺丰", "SF1/../x?y") == "https://www.sf-express.com/chn/sc/waybill/waybill-detail/SF1%2F..%2Fx%3Fy"


# ---------------------------------------------------------------- the front door
async def test_the_root_is_a_landing_page_for_staff_and_customers(desk: Desk):
    status, html = await get(desk, "/")
    assert status == 200 and "<!doctype html>" in html.lower()
    assert 'href="/console/signin"' in html and 'href="/chat?lang=zh"' in html and "宁波恒达五金" in html
    status, html = await get(desk, "/", **{"Accept-Language": "en-US,en;q=0.9"})
    assert "Sign in" in html and "Ask about an order" in html


async def test_api_docs_render_the_openapi_document_with_the_shipped_redoc(desk: Desk):
    status, html = await get(desk, "/api/docs")
    assert status == 200 and '<redoc spec-url="/api/v1/openapi.json">' in html
    src = re.search(r'<script src="([^"]+redoc\.standalone\.js[^"]*)"', html).group(1)
    assert src.startswith("/console/static/") and "//" not in src
    session = await desk.client()
    async with session.get(desk.base + src) as r:
        assert r.status == 200 and len(await r.read()) > 500_000
    async with session.get(desk.base + "/api/v1/openapi.json") as r:
        assert r.status == 200 and "/api/v1/orders" in (await r.json())["paths"]


async def test_the_brand_names_the_chat_page_and_signs_the_mail(bot: Bot, settings, engine, smtp):
    from bot.app import make_channel
    from bot.conversation.inbound import Inbound
    from models.messages import Reply, Target

    settings.brand.name, settings.brand.phone = "宁波恒达五金", "0574-8888 6666"
    web = make_channel("web", settings, Inbound(bot.conversation))
    async with serve_desk(bot, settings, engine, channels=[web]) as served:
        status, html = await get(served, "/chat")
        assert status == 200 and "<title>宁波恒达五金 · 订单助手</title>" in html
    sink, _ = smtp
    mail = make_channel("email", settings)
    assert (await mail.send(Target("email", "zhang@buyer.example"), Reply("订单已发货"))).ok
    [sent] = sink.to("zhang@buyer.example")
    body = sent.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert body.rstrip().endswith("-- \n宁波恒达五金\n0574-8888 6666")
    assert "宁波恒达五金<br>0574-8888 6666" in sent.get_body(("html",)).get_content()


# ---------------------------------------------------------------- browser
@needs_browser
@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_a_customer_opens_their_link_and_an_expired_one(desk: Desk, engine, bot: Bot, size):
    order = await shipped(engine)
    good = await link(engine, order)
    old = await link(engine, await shipped(engine, OTHER), days=1)
    bot.clock.advance(days=2)
    async with open_browser() as browser:
        context = await new_context(browser, size)
        page = await context.new_page()
        await page.goto(f"{desk.base}/t/{good}")
        assert "运输" in await page.inner_text("h1")
        assert await page.locator(".path li.current").inner_text() >= "运输"
        track = page.locator("a[href^='https://www.sf-express.com/']")
        assert await track.count() == 1 and await track.get_attribute("rel") == "noopener noreferrer"
        await shoot(page, "progress")
        await page.goto(f"{desk.base}/t/{good}?lang=en")
        assert "In transit" in await page.inner_text("h1") or "transit" in (await page.inner_text("h1")).lower()
        await shoot(page, "progress-en")
        response = await page.goto(f"{desk.base}/t/{old}")
        assert response.status == 404 and OTHER not in await page.content()
        await shoot(page, "progress-expired")
        await page.goto(f"{desk.base}/")
        await shoot(page, "landing")
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(f"{desk.base}/api/docs")
        await page.wait_for_function("!!document.body && document.body.innerText.includes('/api/v1/orders')",
                                     timeout=60_000)  # Redoc renders the whole document first
        await shoot(page, "api-docs")
        # Redoc's own "powered by" logo points at its CDN: the page's policy keeps it from loading, as it should.
        assert [e for e in errors if "cdn.redoc.ly" not in e] == [], errors
        await context.close()
