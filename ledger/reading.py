"""A ledger file as rows, and which column holds what.

Real ledgers start with a title or two, sometimes blank rows, and group their headers under
merged cells ("日期" over 下单 / 交期 / 付款 …). The header row is the first of the top rows
that names at least two known columns, one of them the order number; the row above it, when
it holds more than a title, gives each column its group name (a merged cell's text stands in
its first column only, so it is carried right over the empty ones).
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ledger.values import text
from models.workflows import WorkflowSet

SCAN = 30  # rows looked at for the header
FIELDS: dict[str, tuple[str, ...]] = {
    "order_no": ("订单号", "单号", "订单编号", "销售单号", "合同号", "orderno", "order", "ordernumber", "po", "po号"),
    "customer": ("客户", "客户名称", "客户名", "购买方", "customer", "customername", "buyer"),
    "contact": ("联系人", "收货人", "contact", "contactname"),
    "phone": ("手机", "电话", "手机号", "联系电话", "手机号码", "phone", "mobile", "tel"),
    "email": ("邮箱", "电子邮箱", "email", "e-mail", "mail"),
    "placed": ("下单日期", "下单时间", "订单日期", "日期下单", "placed", "orderdate", "date"),
    "promised": ("交期", "承诺交期", "交货日期", "交货期", "约定交期", "promiseddate", "promised", "duedate", "deliverydate"),
    "status": ("当前环节", "状态", "进度", "订单状态", "当前状态", "status", "stage", "currentnode", "progress"),
    "owner": ("业务员", "销售", "负责人", "跟单员", "销售员", "salesowner", "sales", "owner"),
    "amount": ("金额", "订单金额", "合同金额", "总金额", "amount", "total", "value"),
    "cost": ("成本", "cost"),
    "supplier": ("供应商", "supplier", "vendor"),
    "carrier": ("快递公司", "承运商", "物流公司", "快递", "carrier", "courier"),
    "tracking": ("快递单号", "运单号", "物流单号", "trackingno", "tracking", "trackingnumber", "waybill"),
    "note": ("备注", "说明", "note", "notes", "remark", "remarks"),
    "ship_to": ("收货地址", "地址", "送货地址", "shipto", "address"),
}
DATE_WORDS = ("日期", "时间", "日", "date", "time", "at")


def fold(header: object) -> str:
    """A header as compared: full-width folded, no spaces, stars, colons or brackets, lower case."""
    raw = unicodedata.normalize("NFKC", text(header)).lower()
    return re.sub(r"[\s*:：_()（）\[\]【】#.\-]+", "", raw)


@dataclass
class Columns:
    """Which column holds which field, and which holds each node's date; the columns left unread."""

    fields: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, int] = field(default_factory=dict)  # node key → column
    headers: list[str] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)


@dataclass
class Sheet:
    """A ledger: where its header row is (1-based, as the file numbers rows), its columns, and its
    rows, read again from the file each time they are wanted rather than held."""

    path: Path
    header_row: int
    columns: Columns
    total: int  # rows after the header
    width: int  # cells in the widest row

    def raw(self) -> Iterator[list[Any]]:
        """Every row of the file."""
        return read_rows(self.path)

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        """The rows after the header, each with its number in the file."""
        for n, row in enumerate(self.raw(), start=1):
            if n > self.header_row:
                yield n, row


class LedgerError(Exception):
    """A ledger that cannot be read at all (its message says why and where)."""


def read_rows(path: Path) -> Iterator[list[Any]]:
    """Every row of the file's first sheet as a list of cell values, one at a time."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".xls", ".csv", ".txt"):
        raise LedgerError(f"{path.name}: not a ledger this reads (.xlsx, .xls or .csv)")
    try:
        if suffix in (".csv", ".txt"):
            return iter(csv.reader(io.StringIO(decoded(path.read_bytes()))))
        # calamine (Rust) reads a workbook a dozen times faster than openpyxl, .xls as well as .xlsx
        from python_calamine import CalamineWorkbook

        data = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        left = [None] * data.start[1] if data.start else []  # rows come from the first row, cells from the first used column
        return (left + r for r in data.iter_rows())
    except LedgerError:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged or misnamed file: said in one line
        raise LedgerError(f"{path.name}: cannot be read as {suffix[1:]} ({type(e).__name__}: {e})") from None


def decoded(raw: bytes) -> str:
    """A CSV's text: UTF-8 (with or without a BOM), else GB18030 (which reads GBK and GB2312)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise LedgerError("the CSV is in no encoding this recognises (save it as UTF-8)")
    return str(best)


def _field_of(name: str, known: dict[str, str]) -> str | None:
    return known.get(name)


def _known(workflows: WorkflowSet, mapping: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Header (folded) → field, and header (folded) → node key for node date columns."""
    fields = {fold(s): f for f, synonyms in FIELDS.items() for s in synonyms}
    nodes: dict[str, str] = {}
    for wf in workflows.workflows.values():
        for n in wf.nodes:
            for name in {n.key, n.name("zh"), n.name("en")}:
                for word in DATE_WORDS:
                    nodes.setdefault(fold(name + word), n.key)
                    nodes.setdefault(fold(word + name), n.key)
    for header, target in mapping.items():
        if target.startswith("node:"):
            nodes[fold(header)] = target[5:]
        else:
            fields[fold(header)] = target
    return fields, nodes


def load_map(path: Path | None, workflows: WorkflowSet) -> dict[str, str]:
    """``--map FILE.yaml``: ``header: field`` (a field, or ``node:KEY`` for a node's date column)."""
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise LedgerError(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise LedgerError(f"{path}: write one `header: field` per line")
    keys = {n.key for wf in workflows.workflows.values() for n in wf.nodes}
    out = {}
    for header, target in data.items():
        target = str(target).strip()
        if target not in FIELDS and not (target.startswith("node:") and target[5:] in keys):
            raise LedgerError(f"{path}: {header!r}: {target!r} is not a field ({', '.join(FIELDS)}) "
                              f"or node:KEY ({', '.join(sorted(keys))})")
        out[str(header)] = target
    return out


def sheet(path: Path, workflows: WorkflowSet, mapping: dict[str, str] | None = None) -> Sheet:
    """The ledger in ``path``: header found, columns mapped, rows counted."""
    fields, nodes = _known(workflows, mapping or {})
    best: tuple[int, int, Columns] | None = None
    top: list[list[Any]] = []
    count = width = 0
    for count, row in enumerate(read_rows(path), start=1):
        width = max(width, len(row))
        if count <= SCAN:
            top.append(row)
    for i, row in enumerate(top):
        group = _groups(top[i - 1], len(row)) if i > 0 else [""] * len(row)
        cols = _columns(row, group, fields, nodes)
        score = len(cols.fields) + len(cols.nodes)
        if "order_no" in cols.fields and score >= 2 and (best is None or score > best[0]):
            best = (score, i, cols)
    if best is None:
        raise LedgerError(f"{path.name}: no header row with an order number column (订单号 / 单号 / Order No) "
                          f"in its first {SCAN} rows; name the columns with --map")
    _, i, cols = best
    return Sheet(path, i + 1, cols, count - i - 1, width)


def _groups(above: list[Any], width: int) -> list[str]:
    """The row above the header as group names, a merged cell's text carried over the empty ones;
    empty when it is a title (one cell) rather than groups."""
    cells = [text(c) for c in above] + [""] * max(0, width - len(above))
    if sum(1 for c in cells if c) < 2:
        return [""] * width
    out, last = [], ""
    for c in cells[:width]:
        last = c or last
        out.append(last)
    return out


def _columns(row: list[Any], group: list[str], fields: dict[str, str], nodes: dict[str, str]) -> Columns:
    cols = Columns(headers=[text(c) for c in row])
    for j, cell in enumerate(row):
        sub, above = fold(cell), fold(group[j]) if j < len(group) else ""
        # A column's name alone, then with its group's (付款 under 日期 is 付款日期), then its group's alone.
        for name in filter(None, (sub, sub + above, above + sub, above if not sub else "")):
            if name in fields and fields[name] not in cols.fields:
                cols.fields[fields[name]] = j
                break
            if name in nodes and nodes[name] not in cols.nodes:
                cols.nodes[nodes[name]] = j
                break
        else:
            if sub:
                cols.unread.append(text(cell))
    return cols
