"""`orderbot order list` and `orderbot export`: the console list's filters from the terminal, as a
table, CSV, JSON or a workbook with the timeline's dates as columns."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

from openpyxl import load_workbook

from models.inputs import CustomerIn, EventIn, ExceptionIn, OrderIn

PAID_AT = datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc)  # 09:30 in Asia/Shanghai


async def orders(engine) -> None:
    """Three orders: SO1 paid (S001, 张三), SO2 in production with an open exception (S002, 李四), SO3 placed, late."""
    for no, name, owner, promised in (("SO202612010001", "张三五金", "S001", "2030-01-31"),
                                      ("SO202612010002", "李四机械", "S002", "2030-02-28"),
                                      ("SO202612010003", "王五贸易", "S001", "2026-01-05")):
        await engine.create_order(OrderIn(order_no=no, customer=CustomerIn(name=name), sales_owner=owner,
                                          promised_date=promised), actor="erp")
    await engine.apply_event("SO202612010001", EventIn(event_id="a1", node="approved", at=PAID_AT - timedelta(hours=1)))
    await engine.apply_event("SO202612010001", EventIn(event_id="a2", node="paid", at=PAID_AT))
    for i, node in enumerate(("approved", "paid", "stocking", "production")):
        await engine.apply_event("SO202612010002", EventIn(event_id=f"b{i}", node=node))
    await engine.open_exception("SO202612010002", ExceptionIn(kind="stockout", note="缺料"))


async def test_json_lists_every_order_with_the_fields_tools_read(engine, cli):
    await orders(engine)
    done = cli("order", "list", "--format", "json")
    assert done.code == 0, done.err
    listed = {o["order_no"]: o for o in json.loads(done.out)}
    assert set(listed) == {"SO202612010001", "SO202612010002", "SO202612010003"}
    first = listed["SO202612010001"]
    assert (first["current_node"], first["promised_date"], first["customer"], first["sales_owner"], first["late"]) == \
        ("paid", "2030-01-31", "张三五金", "S001", False)
    assert first["nodes"]["paid"].startswith("2026-12-01T01:30")
    assert listed["SO202612010003"]["late"] is True
    assert listed["SO202612010002"]["open_exceptions"] == 1


async def test_filters_narrow_the_list_like_the_console(engine, cli):
    await orders(engine)

    def numbers(*args: str) -> list[str]:
        done = cli("order", "list", "--format", "json", *args)
        assert done.code == 0, done.err
        return sorted(o["order_no"] for o in json.loads(done.out))

    assert numbers("--late") == ["SO202612010003"]
    assert numbers("--exceptions") == ["SO202612010002"]
    assert numbers("--owner", "S001") == ["SO202612010001", "SO202612010003"]
    assert numbers("--node", "生产") == ["SO202612010002"]
    assert numbers("--node", "paid") == ["SO202612010001"]
    assert numbers("--customer", "李四机戒") == ["SO202612010002"], "a typo in the name is forgiven"
    assert numbers("--promised-from", "2030-01-01", "--promised-to", "2030-01-31") == ["SO202612010001"]


async def test_a_table_for_people_and_csv_for_excel(engine, cli):
    await orders(engine)
    shown = cli("order", "list", "--late")
    assert shown.code == 0 and "SO202612010003" in shown.out and "王五贸易" in shown.out and "逾期" in shown.out
    assert "SO202612010001" not in shown.out and "1 of 1" in shown.out
    english = cli("order", "list", "--lang", "en", "--node", "paid")
    assert "Order no." in english.out and "Paid" in english.out
    done = cli("export", "--format", "csv", "--sort", "order_no")
    assert done.code == 0, done.err
    raw = done.out
    assert raw.startswith("\ufeff"), "a BOM, so Excel reads the Chinese right"
    rows = list(csv.reader(io.StringIO(raw.lstrip("\ufeff"))))
    assert rows[0][:3] == ["订单号", "客户", "当前环节"] and "付款" in rows[0]
    assert [r[0] for r in rows[1:]] == ["SO202612010001", "SO202612010002", "SO202612010003"]
    assert rows[1][rows[0].index("付款")] == "2026-12-01 09:30", "the timeline's times, in the service's zone"


async def test_the_workbook_has_chinese_headers_node_dates_frozen_row_and_widths(engine, cli, tmp_path):
    await orders(engine)
    target = tmp_path / "台账.xlsx"
    done = cli("export", "--output", str(target), "--sort", "order_no")
    assert done.code == 0, done.err
    sheet = load_workbook(target).active
    headers = [c.value for c in sheet[1]]
    assert headers[:4] == ["订单号", "客户", "当前环节", "承诺交期"]
    assert ["下单", "审核", "付款", "备货", "生产"] == [h for h in headers if h in ("下单", "审核", "付款", "备货", "生产")]
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width >= 15 and sheet.column_dimensions["B"].width >= 20
    assert sheet.cell(2, 1).value == "SO202612010001"
    assert sheet.cell(2, headers.index("付款") + 1).value == datetime(2026, 12, 1, 9, 30)
    assert sheet.cell(3, headers.index("付款") + 1).value is not None and sheet.cell(2, headers.index("生产") + 1).value is None


async def test_bad_filters_name_the_option_and_change_nothing(engine, cli):
    await orders(engine)
    for args, says in ((["--node", "火星"], "火星"), (["--promised-from", "2030-13-01"], "--promised-from"),
                       (["--placed-from", "2026-12-05", "--placed-to", "2026-12-01"], "--placed-from"),
                       (["--format", "pdf"], "--format"), (["--limit", "0"], "--limit")):
        done = cli("order", "list", *args)
        assert done.code != 0 and says in done.err and "Traceback" not in done.err, args
