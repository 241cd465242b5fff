"""Signing in to the console without a password: a one-time link from the chat, the mail or the
CLI; a session cookie; nothing answers without one; CSRF-less posts refused.

The browser flows run in Debian's Chromium at 1280×800 and 390×844 and write screenshots.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.kit.base import Bot
from tests.kit.console import CHROMIUM, Desk, new_context, open_browser, serve_desk, shoot, sign_in

LINK = re.compile(r"https?://\S+")
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture
async def desk(bot: Bot, settings, engine):
    async with serve_desk(bot, settings, engine) as d:
        yield d


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


async def test_console_said_to_the_bot_answers_with_one_link_that_signs_in_once(desk: Desk, bot: Bot):
    await desk.member("王芳", "sales", "S002", identities={"telegram": "2002"})
    answer = await bot.flow("2002").say("/console")
    urls = LINK.findall(answer)
    assert len(urls) == 1 and "/console/signin/" in urls[0], answer
    assert "5 分钟" in answer
    session = await desk.client()
    async with session.get(desk.base + path_of(urls[0])) as r:
        page = await r.text()
        assert r.status == 200 and "王芳" in page  # whose link it is, and a button: opening it uses nothing up
    async with session.post(desk.base + path_of(urls[0]), allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/console/"
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=43200" in cookie
    async with session.get(desk.base + "/console/") as r:
        assert r.status == 200 and "今日概览" in await r.text()
    again = await desk.client()
    async with again.post(desk.base + path_of(urls[0]), allow_redirects=False) as r:
        assert r.status == 404 and "已失效" in await r.text()  # single use


async def test_the_word_后台_works_too_and_a_group_never_gets_a_link(desk: Desk, bot: Bot):
    await desk.member("王芳", "sales", "S002", identities={"telegram": "2002"})
    assert "/console/signin/" in await bot.flow("2002").say("后台")
    in_group = await bot.flow("2002", chat="-100777", group=True).say("/console")
    assert "/console/signin/" not in in_group and "私聊" in in_group


async def test_a_customer_or_stranger_saying_console_gets_no_link(desk: Desk, bot: Bot):
    answer = await bot.flow("9999").say("/console")
    assert "/console/signin/" not in answer


async def test_a_link_expires_after_five_minutes(desk: Desk, bot: Bot):
    member = await desk.member("王芳", "sales", "S002")
    url = await desk.link(member)
    bot.clock.now += timedelta(minutes=5, seconds=1)
    session = await desk.client()
    async with session.post(url, allow_redirects=False) as r:
        assert r.status == 404


async def test_nothing_answers_without_a_session(desk: Desk):
    session = await desk.client()
    async with session.get(desk.base + "/console/", allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"].startswith("/console/signin?next=")
    async with session.get(desk.base + "/console/today", headers={"HX-Request": "true"}) as r:
        assert r.status == 401 and r.headers["HX-Redirect"].startswith("/console/signin")
    async with session.get(desk.base + "/console/today", allow_redirects=False) as r:
        assert r.status == 303
    async with session.get(desk.base + "/console/no-such-page") as r:
        assert r.status == 404 and "text/html" in r.headers["Content-Type"]  # a page, not the API's JSON


async def test_a_post_without_the_csrf_token_is_refused(desk: Desk):
    member = await desk.member("李经理", "manager", "M001")
    session = await desk.client(member)
    async with session.post(desk.base + "/console/signout", data={}, allow_redirects=False) as r:
        assert r.status == 403
    async with session.get(desk.base + "/console/", allow_redirects=False) as r:
        assert r.status == 200, "the refused post changed nothing"
    token = await desk.csrf(session)
    async with session.post(desk.base + "/console/signout", data={"csrf": "0" * 40}, allow_redirects=False) as r:
        assert r.status == 403
    async with session.post(desk.base + "/console/signout", data={"csrf": token}, allow_redirects=False) as r:
        assert r.status == 303
    async with session.get(desk.base + "/console/", allow_redirects=False) as r:
        assert r.status == 303, "signed out"


async def test_a_disabled_members_session_ends_at_once(desk: Desk):
    from models.people import StaffMember

    member = await desk.member("王芳", "sales", "S002")
    session = await desk.client(member)
    async with session.get(desk.base + "/console/", allow_redirects=False) as r:
        assert r.status == 200
    await StaffMember.filter(id=member.id).update(active=False)
    async with session.get(desk.base + "/console/", allow_redirects=False) as r:
        assert r.status == 303


async def test_a_link_by_mail_gets_the_same_answer_for_known_and_unknown_addresses(desk: Desk, bot: Bot):
    await desk.member("王芳", "sales", "S002", email="wang@factory.example")
    session = await desk.client()
    pages = []
    for address in ("Wang@Factory.example", "nobody@factory.example"):
        async with session.post(desk.base + "/console/signin", data={"email": address}) as r:
            assert r.status == 200
            pages.append(re.sub(r"\s+", " ", await r.text()))
    assert pages[0] == pages[1] and "5 分钟内有效" in pages[0]
    await bot.sender.run_once()
    mails = bot.mail.to("wang@factory.example")
    assert len(mails) == 1 and not bot.mail.to("nobody@factory.example")
    body = mails[0].get_body(preferencelist=("plain",)).get_content()
    url = LINK.search(body).group(0)
    async with session.post(desk.base + path_of(url), allow_redirects=False) as r:
        assert r.status == 303
    async with session.post(desk.base + "/console/signin", data={"email": "not an address"}) as r:
        assert r.status == 400 and "邮箱" in await r.text()


async def test_signing_in_is_audited(desk: Desk):
    from models.audit import ActionLog

    member = await desk.member("王芳", "sales", "S002")
    await desk.client(member)
    row = await ActionLog.filter(action="console.signin").first()
    assert row is not None and row.actor == "S002" and row.subject == "staff:S002"


def test_console_link_prints_a_link_for_the_first_admin(cli):
    assert cli("staff", "add", "--name", "管理员", "--role", "admin", "--code", "A001").code == 0
    done = cli("console-link", "A001")
    assert done.code == 0, done.err
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/console/signin/[\w-]+", done.out.strip().splitlines()[-1])
    missing = cli("console-link", "Z999")
    assert missing.code == 1 and "Z999" in missing.err


@needs_browser
async def test_signing_in_in_a_browser_from_the_chats_link(desk: Desk, bot: Bot, api):
    await api.create("SO202612010001", sales_owner="S002")
    assert (await api.event("SO202612010001", "e1", "approved"))[0] == 201
    for no in ("SO202612010002", "SO202612010003"):
        await api.create(no, sales_owner="S003")
        await api.event(no, f"{no}-1", "paid")
    status, _ = await api.call("POST", "/api/v1/orders/SO202612010001/exceptions", {"kind": "qc_fail", "note": "划痕"})
    assert status == 201
    await desk.member("王芳", "sales", "S002", identities={"telegram": "2002"})
    manager = await desk.member("李经理", "manager", "M001")
    async with open_browser() as browser:
        for size in ("desktop", "phone"):
            context = await new_context(browser, size)
            page = await context.new_page()
            await page.goto(desk.base + "/console/")
            assert "/console/signin" in page.url
            await shoot(page, "console-signin")
            answer = await bot.flow("2002").say("/console")
            await page.goto(desk.base + path_of(LINK.search(answer).group(0)))
            assert "王芳" in await page.inner_text("h1")
            await shoot(page, "console-signin-confirm")
            await page.click("button[type=submit]")
            await page.wait_for_url(desk.base + "/console/")
            assert "今日概览" in await page.inner_text("h1")
            await shoot(page, "console-today-sales")
            assert await page.inner_text("a.tile[href$='exceptions=1'] .n") == "1"  # the exception on her order
            assert "SO202612010002" not in await page.content()  # another's order is not hers to see
            await context.close()
        context = await new_context(browser, "desktop")
        page = await sign_in(context, desk, manager)
        await page.wait_for_selector(".chart canvas")
        await shoot(page, "console-today")
        english = await context.new_page()
        await english.goto(desk.base + "/console/?lang=en")
        assert "Today" in await english.inner_text("h1")
        await shoot(english, "console-today-en")
