"""The order list as a file: the rows the page shows, as .xlsx (openpyxl) or .csv (UTF-8 with a BOM, so
Excel reads Chinese right). Names, not keys: nodes in the reader's language, owners by name."""
from __future__ import annotations

import csv
import io
from dataclasses import astuple, dataclass
from datetime import date, datetime, tzinfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from models.orders import Order
from models.workflows import WorkflowSet

COLUMNS = ("order_no", "customer", "node", "promised", "late", "owner", "placed", "node_entered", "tracking",
           "exceptions")
TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv"}


@dataclass(frozen=True)
class Row:
    """One order as the list shows it (in COLUMNS' order)."""

    order_no: str
    customer: str
    node: str
    promised: date | None
    late: bool
    owner: str
    placed: datetime
    node_entered: datetime
    tracking: str
    exceptions: int


def row(workflows: WorkflowSet, order: Order, language: str, tz: tzinfo, names: dict[str, str], exceptions: int,
        late: bool) -> Row:
    wf = workflows.get(order.workflow)
    node = wf.node(order.current_node).name(language) if wf is not None and wf.has(order.current_node) \
        else order.current_node
    owner = names.get((order.sales_owner or "").upper(), order.sales_owner or "")
    tracking = " ".join(p for p in (order.carrier, order.tracking_no) if p) if order.tracking_no else ""
    return Row(order.order_no, order.customer.name, node, order.promised_date, late, owner,
               order.placed_at.astimezone(tz).replace(tzinfo=None),
               order.node_entered_at.astimezone(tz).replace(tzinfo=None), tracking, exceptions)


FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would take for a formula


def _cells(r: Row, yes: str) -> list:
    values = list(astuple(r))
    values[COLUMNS.index("late")] = yes if r.late else ""
    values[COLUMNS.index("exceptions")] = r.exceptions or ""
    return values


WIDTHS = (18, 28, 12, 12, 6, 12, 17, 17, 22, 8)
EXTRA_WIDTH = 17  # a column of times (the timeline's), "2026-12-01 09:30"


def xlsx(headers: list[str], rows: list[Row], note: str | None, yes: str,
         extra: list[list] | None = None) -> bytes:
    """The rows as a workbook: frozen header row, widths that fit; ``extra`` cells follow each row's own."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("orders")
    for i in range(len(headers)):
        sheet.column_dimensions[get_column_letter(i + 1)].width = WIDTHS[i] if i < len(WIDTHS) else EXTRA_WIDTH
    sheet.freeze_panes = "A2"
    sheet.append(headers)
    for n, r in enumerate(rows):
        cells = _cells(r, yes) + (list(extra[n]) if extra else [])
        for i, value in enumerate(cells):
            if isinstance(value, datetime):
                cells[i] = value.replace(second=0, microsecond=0)
            elif isinstance(value, str) and value.startswith(FORMULA):
                cells[i] = WriteOnlyCell(sheet, value=value)
                cells[i].data_type = "s"  # a customer called "=HYPERLINK(...)" stays a name
        sheet.append(cells)
    if note:
        sheet.append([])
        sheet.append([note])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text(value) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA):
        return "'" + value  # Excel would run it as a formula
    return value


def csv_bytes(headers: list[str], rows: list[Row], note: str | None, yes: str,
              extra: list[list] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for n, r in enumerate(rows):
        writer.writerow([_text(v) for v in _cells(r, yes) + (list(extra[n]) if extra else [])])
    if note:
        writer.writerow([])
        writer.writerow([note])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
