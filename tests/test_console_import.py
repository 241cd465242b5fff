"""The console's ledger import (managers and admins): upload, the dry run by row and column, the
marked workbook, confirm, the same file again changes nothing; sales are refused, CSRF is
checked, a file too big or of another kind is refused with nothing kept. Browser at both sizes."""
from __future__ import annotations

import io
from datetime import datetime

import aiohttp
import pytest
from openpyxl import Workbook, load_workbook

from models.audit import ActionLog
from models.orders import NodeEvent, Order
from models.uploads import LedgerUpload
from tests.kit.base import Bot
from tests.kit.console import CHROMIUM, Desk, new_context, open_browser, serve_desk, shoot, sign_in

needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture
async def desk(bot: Bot, settings, engine):
    async with serve_desk(bot, settings, engine) as d:
        yield d


def ledger_bytes() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["恒达五金 订单台账"])
    sheet.append(["订单号", "客户名称", "手机", "当前状态", "下单日期", "付款日期"])
    sheet.append(["SO202612010001", "张三五金", 13812345678, "生产中", datetime(2026, 11, 20), "2026/11/22"])
    sheet.append(["SO202612010002", "李四机械", "139 1234 5678", "质捡", "2026-11-21", None])
    sheet.append(["SO202612010003", "王五", "abc", "付款", "2026-11-21", None])
    sheet.append(["合计", None, None, None, None, None])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def form(csrf: str | None, content: bytes, name: str = "台账.xlsx") -> aiohttp.FormData:
    data = aiohttp.FormData()
    if csrf is not None:
        data.add_field("csrf", csrf)
    data.add_field("file", content, filename=name, content_type="application/octet-stream")
    return data


async def test_upload_preview_confirm_and_the_same_file_again_changes_nothing(desk: Desk):
    manager = await desk.member("李经理", "manager", "M001")
    session = await desk.client(manager)
    csrf = await desk.csrf(session, "/console/import")
    async with session.post(desk.base + "/console/import", data=form(csrf, ledger_bytes())) as r:
        assert r.status == 200 and "/console/import/" in str(r.url)
        html = await r.text()
    assert await Order.all().count() == 0, "a preview writes no order"
    assert "预览：尚未写入任何数据" in html and "不是电话号码" in html, "the reason in Chinese"
    assert "row 4 SO202612010002: 质捡 read as 质检 (qc)" in html and "确认导入 2 行" in html
    upload = await LedgerUpload.get()
    async with session.get(f"{desk.base}/console/import/{upload.id}/errors.xlsx") as r:
        marked = load_workbook(io.BytesIO(await r.read())).active
    assert r.status == 200
    problems = {row[0]: row[-1] for row in marked.iter_rows(values_only=True) if row and row[0]}
    assert "not a phone number" in problems["SO202612010003"] and problems["SO202612010001"] is None
    async with session.post(f"{desk.base}/console/import/{upload.id}/apply", data={"csrf": csrf}) as r:
        html = await r.text()
    assert r.status == 200 and "已导入: 2" in html
    one = await Order.get(order_no="SO202612010001")
    assert one.current_node == "production"
    paid = await NodeEvent.get(order_id=one.id, node="paid")
    assert (paid.source, paid.actor, paid.data["file"]) == ("import", "M001", "台账.xlsx")
    assert await ActionLog.filter(action="ledger.import", actor="M001").count() == 1
    async with session.post(f"{desk.base}/console/import/{upload.id}/apply", data={"csrf": csrf}) as r:
        assert r.status == 409, "one upload is imported once"
    events = await NodeEvent.all().count()
    async with session.post(desk.base + "/console/import", data=form(csrf, ledger_bytes())) as r:
        html = await r.text()
    assert "没有需要写入的改动" in html and await NodeEvent.all().count() == events


async def test_sales_are_refused_and_bad_uploads_keep_nothing(desk: Desk, monkeypatch):
    sales = await desk.member("王销售", "sales", "S001")
    s = await desk.client(sales)
    async with s.get(desk.base + "/console/import") as r:
        assert r.status == 403
    manager = await desk.member("李经理", "manager", "M001")
    session = await desk.client(manager)
    csrf = await desk.csrf(session, "/console/import")
    async with session.post(desk.base + "/console/import", data=form(None, ledger_bytes())) as r:
        assert r.status == 403, "no CSRF token"
    async with session.post(desk.base + "/console/import", data=form("forged", ledger_bytes())) as r:
        assert r.status == 403
    async with session.post(desk.base + "/console/import", data=form(csrf, b"MZ\x90\x00", "tool.exe")) as r:
        assert r.status == 400 and "请选择 .xlsx、.xls 或 .csv 文件" in await r.text()
    async with session.post(desk.base + "/console/import", data=form(csrf, b"PK\x03\x04 broken", "坏.xlsx")) as r:
        assert r.status == 400 and "无法读取这个文件" in await r.text()
    async with session.post(desk.base + "/console/import", data=form(csrf, "客户,电话\n张三,138\n".encode(), "空.csv")) as r:
        assert r.status == 400, "a header without an order number column"
    from models import uploads

    monkeypatch.setattr(uploads, "MAX_BYTES", 10_000)
    async with session.post(desk.base + "/console/import", data=form(csrf, ledger_bytes() + b"\0" * 10_000)) as r:
        assert r.status == 413 and "20 MB" in await r.text()
    assert await LedgerUpload.all().count() == 0 and await Order.all().count() == 0


@needs_browser
@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_in_the_browser_a_manager_imports_a_ledger(desk: Desk, tmp_path, size):
    manager = await desk.member("李经理", "manager", "M001")
    path = tmp_path / "恒达台账.xlsx"
    path.write_bytes(ledger_bytes())
    async with open_browser() as browser:
        context = await new_context(browser, size)
        page = await sign_in(context, desk, manager)
        await page.goto(desk.base + "/console/orders")
        await page.click("a[href='/console/import']")
        await shoot(page, "console-import")
        await page.set_input_files("#i-file", str(path))
        await page.click("form[action='/console/import'] button[type=submit]")
        await page.wait_for_selector(".figures")
        main = await page.inner_text("main")
        assert "恒达台账.xlsx" in main and "不是电话号码" in main
        await shoot(page, "console-import-preview")
        await page.click("form[action$='/apply'] button")
        await page.wait_for_selector(".flash.ok")
        await shoot(page, "console-import-done")
        assert await Order.filter(current_node="production").count() == 1
        await context.close()
