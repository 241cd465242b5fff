"""`orderbot import`: real-shaped ledgers made with openpyxl (titles, merged group headers, mixed
dates, a GBK CSV, totals, duplicates, a status typo, per-node date columns), each with its
dry-run report; re-imports that change nothing or exactly what was edited; a kill -9 mid-apply."""
from __future__ import annotations

import asyncio
import csv
import io
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime

from openpyxl import Workbook, load_workbook

from models.orders import NodeEvent, Order
from models.people import Customer
from tests.kit.base import ROOT


def ledger(path, rows, *, title=True, groups=True):
    """A ledger as a company keeps it: a merged title, a blank row, 日期 merged over its columns."""
    book = Workbook()
    sheet = book.active
    if title:
        sheet.append(["宁波恒达五金 订单台账（2026年12月）"])
        sheet.merge_cells("A1:J1")
        sheet.append([])
    if groups:
        sheet.append(["订单信息", None, None, None, "日期", None, None, None, "物流", None])
        sheet.merge_cells(start_row=sheet.max_row, start_column=1, end_row=sheet.max_row, end_column=4)
        sheet.merge_cells(start_row=sheet.max_row, start_column=5, end_row=sheet.max_row, end_column=8)
    sheet.append(["单号", "客户名称", "手机", "当前状态", "下单", "交期", "付款", "出库", "快递公司", "运单号"])
    for r in rows:
        sheet.append(r)
    book.save(path)
    return path


ROWS = [
    ["SO202612010001", "张三五金", 13812345678, "生产中", datetime(2026, 11, 20), "2026/12/20", "2026.11.22", None,
     None, None],
    ["ＳＯ２０２６１２０１０００２", "李四机械", "+86 139 1234 5678", "质捡", 46346, "12月28日", "11月25日", None, None, None],
    [None, None, None, None, None, None, None, None, None, None],
    ["SO202612010003", "王五贸易", "0574-8888 6666", "运输中", "2026-11-18", "2026-12-05", "2026-11-19",
     "2026-11-30", "顺丰", "SF1234567890123"],
    ["SO202612010004", "赵六", "abc", "生产", "2026-11-18", "2026-13-01", None, None, None, None],
    ["SO202612010001", "重复的行", None, "付款", None, None, None, None, None, None],
    ["SO202612010005", "钱七", None, "火星", None, None, None, None, None, None],
    ["合计", None, None, None, None, None, None, None, None, None],
]


def test_a_real_ledger_gives_its_dry_run_report_and_writes_the_bad_rows_back(cli, tmp_path):
    path = ledger(tmp_path / "台账.xlsx", ROWS)
    done = cli("import", str(path))
    assert done.code == 0, done.err
    out = done.out
    assert "new orders:      3" in out and "node moves:      " in out and "rows with errors (skipped): 3" in out
    assert "skipped: 1 empty row(s), totals row(s) 12" in out
    assert "row 5 SO202612010001: new order; 下单 → 生产" in out
    assert "row 6 SO202612010002: new order; 下单 → 质检" in out, "full-width digits and letters read"
    assert "row 6 SO202612010002: 质捡 read as 质检 (qc)" in out
    assert "row 8 SO202612010003: new order; 下单 → 运输中" in out
    assert "row 9, column 手机: abc → not a phone number" in out
    assert "row 9, column 交期: 2026-13-01 → not a date that exists" in out
    assert "row 10, column 单号: SO202612010001 → the same order as row 5" in out
    assert "row 11, column 当前状态: 火星 → no node of the workflow has this name" in out
    assert "nothing was written" in done.err
    marked = load_workbook(tmp_path / "台账.errors.xlsx").active
    problems = {r[0]: r[-1] for r in marked.iter_rows(values_only=True) if r and r[0]}
    assert "not a phone number" in problems["SO202612010004"] and problems["SO202612010003"] is None
    assert marked.cell(4, 11).value == "导入问题 / Problem"


async def test_apply_writes_the_good_rows_with_the_ledgers_own_dates(cli, tmp_path, engine):
    path = ledger(tmp_path / "台账.xlsx", ROWS)
    done = await asyncio.to_thread(cli, "import", str(path), "--apply")
    assert done.code == 0, done.err
    assert sorted(await Order.all().values_list("order_no", flat=True)) == \
        ["SO202612010001", "SO202612010002", "SO202612010003"]
    one = await Order.get(order_no="SO202612010001").prefetch_related("customer")
    assert (one.current_node, one.promised_date, one.customer.phone) == ("production", date(2026, 12, 20), "13812345678")
    assert one.placed_at.astimezone(engine.tz).date() == date(2026, 11, 20)
    paid = await NodeEvent.get(order_id=one.id, node="paid")
    assert paid.at.astimezone(engine.tz).date() == date(2026, 11, 22), "the ledger's own date for 付款"
    assert (paid.source, paid.data.get("file")) == ("import", "台账.xlsx")
    two = await Order.get(order_no="SO202612010002").prefetch_related("customer")
    assert two.placed_at.astimezone(engine.tz).date() == date(2026, 11, 20), "an Excel serial number"
    assert two.customer.phone == "13912345678" and two.current_node == "qc"
    three = await Order.get(order_no="SO202612010003")
    assert (three.current_node, three.carrier, three.tracking_no) == ("in_transit", "顺丰", "SF1234567890123")
    out_at = (await NodeEvent.get(order_id=three.id, node="outbound")).at.astimezone(engine.tz).date()
    assert out_at == date(2026, 11, 30)
    again = await asyncio.to_thread(cli, "import", str(path), "--apply")
    assert "new orders:      0" in again.out and "node moves:      0" in again.out and "updated orders:  0" in again.out
    events = await NodeEvent.all().count()
    await asyncio.to_thread(cli, "import", str(path), "--apply")
    assert await NodeEvent.all().count() == events, "the same file twice changes nothing"


async def test_an_updated_ledger_applies_exactly_its_three_edits(cli, tmp_path, engine):
    first = ledger(tmp_path / "v1.xlsx", ROWS)
    assert (await asyncio.to_thread(cli, "import", str(first), "--apply")).code == 0
    edited = [list(r) for r in ROWS]
    edited[0][5] = "2026/12/31"  # a new promised date
    edited[1][3] = "出库"  # moved on
    edited[3][2] = "13700001111"  # another phone
    second = ledger(tmp_path / "v2.xlsx", edited)
    dry = await asyncio.to_thread(cli, "import", str(second))
    assert "updated orders:  3" in dry.out and "new orders:      0" in dry.out
    assert "row 5 SO202612010001: promised_date: 2026-12-31" in dry.out
    assert "row 6 SO202612010002: 质检 → 出库" in dry.out
    assert "row 8 SO202612010003: customer: {'phone': '13700001111'}" in dry.out
    done = await asyncio.to_thread(cli, "import", str(second), "--apply")
    assert done.code == 0
    assert (await Order.get(order_no="SO202612010001")).promised_date == date(2026, 12, 31)
    assert (await Order.get(order_no="SO202612010002")).current_node == "outbound"
    assert await Customer.filter(phone="13700001111").count() == 1
    again = await asyncio.to_thread(cli, "import", str(second))
    assert "updated orders:  0" in again.out


def test_a_gbk_csv_with_english_headers_and_a_map_file(cli, tmp_path):
    body = io.StringIO()
    writer = csv.writer(body)
    writer.writerow(["Order No", "Customer", "Promised date", "Status", "跟进人"])
    writer.writerow(["SO202612010021", "深圳华强电子", "2026-12-15", "Paid", "S001"])
    path = tmp_path / "erp.csv"
    path.write_bytes(body.getvalue().encode("gbk"))
    done = cli("import", str(path))
    assert "new orders:      1" in done.out and "深圳华强电子" not in done.err
    assert "columns not read: 跟进人" in done.out
    mapping = tmp_path / "map.yaml"
    mapping.write_text("跟进人: owner\n", encoding="utf-8")
    done = cli("import", str(path), "--map", str(mapping), "--apply")
    assert done.code == 0 and "columns not read" not in done.out
    bad = tmp_path / "bad.yaml"
    bad.write_text("跟进人: boss\n", encoding="utf-8")
    refused = cli("import", str(path), "--map", str(bad))
    assert refused.code != 0 and "'boss' is not a field" in refused.err


def test_files_that_are_no_ledger_are_refused_in_one_line(cli, tmp_path):
    (tmp_path / "notes.csv").write_text("hello,world\n1,2\n", encoding="utf-8")
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    for name, says in (("notes.csv", "no header row"), ("broken.xlsx", "cannot be read"), ("missing.csv", "no such file")):
        done = cli("import", str(tmp_path / name))
        assert done.code != 0 and says in done.err and "Traceback" not in done.err, name


async def test_killed_mid_apply_every_row_is_whole_and_a_rerun_completes(cli, tmp_path, engine):
    path = tmp_path / "big.csv"
    body = io.StringIO()
    writer = csv.writer(body)
    writer.writerow(["订单号", "客户", "状态", "付款日期"])
    for i in range(3000):
        writer.writerow([f"SO2026120{i:05d}", f"客户{i}", "出库", "2026-11-20"])
    path.write_text(body.getvalue(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
    env.update(ORDERBOT_CONFIG=str(cli.config), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "bot", "import", str(path), "--apply"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and await Order.all().count() < 300:
        await asyncio.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    written = await Order.all().count()
    assert 0 < written < 3000, "killed part-way"
    assert await Order.exclude(current_node="outbound").count() == 0, "every order there is whole: at 出库"
    # 审核 付款 备货 生产 质检 出库: six events each, none of a row half-written
    assert await NodeEvent.filter(kind="advance").count() == written * 6
    done = await asyncio.to_thread(cli, "import", str(path), "--apply", timeout=600)
    assert done.code == 0, done.err
    assert await Order.filter(current_node="outbound").count() == 3000
    assert await NodeEvent.filter(kind="advance").count() == 3000 * 6


def test_an_old_xls_ledger_reads_as_the_xlsx_does(cli, tmp_path):
    """Excel 97-2003 files (.xls) still come out of many offices: dates as date cells, phones as numbers."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("台账")
    day = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    sheet.write(0, 0, "订单台账")
    for j, h in enumerate(["单号", "客户名称", "手机", "当前状态", "下单日期", "付款日期"]):
        sheet.write(1, j, h)
    rows = [["SO202612010001", "张三五金", 13812345678, "付款", datetime(2026, 11, 20), datetime(2026, 11, 22)],
            ["SO202612010002", "李四机械", "139 1234 5678", "审核", "2026/11/21", None],
            ["SO202612010003", "王五", "电话号", "审核", "2026/11/21", None]]
    for i, r in enumerate(rows, start=2):
        for j, v in enumerate(r):
            if isinstance(v, datetime):
                sheet.write(i, j, v, day)
            elif v is not None:
                sheet.write(i, j, v)
    path = tmp_path / "老台账.xls"
    book.save(str(path))
    done = cli("import", str(path))
    assert done.code == 0, done.err
    assert "new orders:      2" in done.out and "rows with errors (skipped): 1" in done.out
    assert "row 3 SO202612010001: new order; 下单 → 付款" in done.out
    assert "row 5, column 手机: 电话号 → not a phone number" in done.out
    assert (tmp_path / "老台账.errors.xlsx").exists()


def test_a_ledger_placed_lower_and_further_right_keeps_its_row_numbers(cli, tmp_path):
    """Rows are reported as Excel numbers them, even when the sheet's first cells are empty."""
    book = Workbook()
    sheet = book.active
    sheet["C3"], sheet["D3"], sheet["E3"] = "订单号", "客户", "状态"
    sheet["C4"], sheet["D4"], sheet["E4"] = "SO202612010001", "张三", "审核"
    sheet["C5"], sheet["D5"], sheet["E5"] = "SO202612010002", "李四", "不知道"
    book.save(tmp_path / "右下.xlsx")
    done = cli("import", str(tmp_path / "右下.xlsx"))
    assert "row 4 SO202612010001: new order; 下单 → 审核" in done.out
    assert "row 5, column 状态: 不知道 → no node of the workflow has this name" in done.out


async def test_customers_shared_by_rows_are_one_customer_and_a_reimport_changes_nothing(cli, tmp_path, engine):
    """Rows written together in one statement still find one customer by e-mail, then by phone."""
    book = Workbook()
    sheet = book.active
    sheet.append(["订单号", "客户", "邮箱", "手机", "状态"])
    for i in range(1, 2600):  # more than two chunks, so that later chunks meet the customers of earlier ones
        mail = "buyer@example.com" if i % 2 else None
        sheet.append([f"SO2026{i:08d}", "恒达" if i % 2 else "李四", mail, None if i % 2 else "13812345678",
                      "付款" if i % 3 else "审核"])
    book.save(tmp_path / "客户.xlsx")
    done = await asyncio.to_thread(cli, "import", str(tmp_path / "客户.xlsx"), "--apply")
    assert done.code == 0, done.err
    assert "new orders:      2599" in done.out
    assert await Customer.all().count() == 2
    assert await Order.filter(customer__email="buyer@example.com").count() == 1300
    again = await asyncio.to_thread(cli, "import", str(tmp_path / "客户.xlsx"))
    assert "updated orders:  0" in again.out and "unchanged:       2599" in again.out


async def test_a_row_the_plan_could_not_foresee_is_refused_alone(engine, tmp_path, monkeypatch):
    """An order made by someone else between the plan and the write fails the chunk's one statement;
    the chunk is written again row by row and only that row is refused."""
    from ledger import importer, reading
    from models.inputs import CustomerIn, OrderIn

    book = Workbook()
    sheet = book.active
    sheet.append(["订单号", "客户", "状态"])
    for i in range(1, 6):
        sheet.append([f"SO2026120100{i:02d}", f"客户{i}", "付款"])
    book.save(tmp_path / "并发.xlsx")
    found = importer._existing

    async def before_anyone_else(numbers):
        seen = await found(numbers)
        await engine.create_order(OrderIn(order_no="SO202612010003", customer=CustomerIn(name="别人")))
        return seen
    monkeypatch.setattr(importer, "_existing", before_anyone_else)
    ledger_ = reading.sheet(tmp_path / "并发.xlsx", engine.workflows)
    summary = await importer.Importer(engine, "并发.xlsx").run(ledger_, apply=True)
    assert summary.written == 4
    assert [(p.row, p.value) for p in summary.problems] == [(4, "SO202612010003")]
    assert "exists with different data" in summary.problems[0].why
    taken = await Order.get(order_no="SO202612010003")
    assert taken.current_node == "placed", "the other's order is left as it was"
    assert await Order.filter(current_node="paid").count() == 4


async def test_an_import_tells_nobody_unless_asked_and_pauses_only_itself(cli, tmp_path, engine, api):
    """A ledger is history: no webhook or notice for it, while an ERP's event at the same moment
    still notifies; with --notify the import's own moves are sent too."""
    from models.outbox import Outbox

    added = cli("webhook", "add", "http://127.0.0.1:9/hook", "--events", "node_entered")
    assert added.code == 0, added.err
    book = Workbook()
    sheet = book.active
    sheet.append(["订单号", "客户", "状态"])
    sheet.append(["SO202612010001", "张三", "付款"])
    book.save(tmp_path / "a.xlsx")
    assert (await asyncio.to_thread(cli, "import", str(tmp_path / "a.xlsx"), "--apply")).code == 0
    assert await Outbox.filter(channel="webhook").count() == 0
    from ledger import importer, reading

    sheet.append(["SO202612010002", "李四", "付款"])
    book.save(tmp_path / "b.xlsx")
    run = importer.Importer(engine, "b.xlsx")
    with engine.hooks_paused():
        paused = asyncio.ensure_future(engine.apply_event("SO202612010001", _event("stocking")))
    await run.run(reading.sheet(tmp_path / "b.xlsx", engine.workflows), apply=True)
    # One batch of the event writer: an event from a paused task beside one from an ERP's request.
    with engine.hooks_paused():
        quiet = asyncio.ensure_future(engine.apply_event("SO202612010001", _event("production", "e2")))
    told = asyncio.ensure_future(engine.apply_event("SO202612010002", _event("stocking", "e3")))
    await asyncio.gather(paused, quiet, told)
    hooks = await Outbox.filter(channel="webhook")
    assert [h.order_no for h in hooks] == ["SO202612010002"], "paused are the pausing task's own changes only"
    sheet.append(["SO202612010003", "王五", "备货"])
    book.save(tmp_path / "c.xlsx")
    told = await asyncio.to_thread(cli, "import", str(tmp_path / "c.xlsx"), "--apply", "--notify")
    assert told.code == 0, told.err
    assert await Outbox.filter(channel="webhook").count() == 1 + 3, "审核, 付款, 备货 of the new order"


def _event(node, event_id="e1"):
    from models.inputs import EventIn

    return EventIn(event_id=event_id, node=node)
