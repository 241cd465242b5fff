"""Importing a ledger: plan every row against the database, report, write the bad rows back, apply.

Each row becomes at most: a new order (``engine.create_order``), changed fields
(``engine.update_order``, kept as history), and node events (``engine.record_history``), all
in one transaction, so a row is imported whole or not at all, and a crash leaves nothing
half-written. Events are named by their node (``import:<node>``), so importing the same
ledger again finds everything there and changes nothing, and an updated ledger adds only
what is new. Events carry ``source = import`` and the file's name. An import tells nobody
(the engine's hooks are paused): a ledger is history.
"""
from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from rapidfuzz import fuzz, process

from ledger import values
from ledger.reading import Sheet
from ledger.values import BadValue, text
from models.engine import ProgressEngine
from models.errors import EngineError
from models.inputs import CustomerIn, EventData, EventIn, OrderIn, OrderPatch
from models.orders import Order
from models.sql import transaction
from models.workflows import Workflow

CHUNK = 200  # rows a commit
TOTALS = re.compile(r"^(合计|总计|小计|共计|total|sum|grand ?total)\b", re.IGNORECASE)
ALIASES = {"发货": "in_transit", "已发货": "in_transit", "在途": "in_transit", "完成": "delivered",
           "已完成": "delivered", "已收货": "delivered", "收货": "delivered"}


@dataclass
class Problem:
    row: int
    column: str
    value: str
    why: str

    def __str__(self) -> str:
        shown = self.value if len(self.value) <= 40 else self.value[:39] + "…"
        return f"row {self.row}, column {self.column}: {shown or '(empty)'} → {self.why}"


@dataclass
class RowPlan:
    """What one row of the ledger asks for."""

    row: int
    order_no: str
    new: OrderIn | None = None  # a new order
    patch: dict[str, Any] = field(default_factory=dict)  # changed fields of an existing order (OrderPatch's)
    events: list[EventIn] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # what it does, in words, for the report
    notes: list[str] = field(default_factory=list)  # what was assumed (a typo read as a node)

    @property
    def changing(self) -> bool:
        return bool(self.new or self.patch or self.events)


@dataclass
class Plan:
    rows: list[RowPlan] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    bad_rows: dict[int, list[Problem]] = field(default_factory=dict)
    skipped_empty: int = 0
    skipped_totals: list[int] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)

    def refuse(self, p: Problem) -> None:
        self.problems.append(p)
        self.bad_rows.setdefault(p.row, []).append(p)

    @property
    def new_orders(self) -> list[RowPlan]:
        return [r for r in self.rows if r.new]

    @property
    def updated(self) -> list[RowPlan]:
        return [r for r in self.rows if not r.new and (r.patch or r.events)]

    @property
    def moves(self) -> int:
        return sum(len(r.events) for r in self.rows)

    @property
    def unchanged(self) -> int:
        return sum(1 for r in self.rows if not r.changing)


def _node_for(status: str, wf: Workflow) -> tuple[str | None, str | None]:
    """The node a status cell names (key or name, 中文 or English, typos forgiven; 待付款 is the node
    before 付款), and a note when it was guessed."""
    raw = status.strip()
    word = raw[1:] if raw.startswith("已") and len(raw) > 1 else raw
    word = word[:-1] if word.endswith("中") and len(word) > 1 and not wf.find(word) else word
    if raw in ALIASES and wf.has(ALIASES[raw]):
        return ALIASES[raw], None
    waiting = word.startswith("待") and len(word) > 1
    if waiting:
        word = word[1:]
    node = wf.find(word) or wf.find(raw)
    note = None
    if node is None:
        names = {n.name(lang): n for n in wf.nodes for lang in ("zh", "en")} | {n.key: n for n in wf.nodes}
        best = process.extract(word, list(names), scorer=fuzz.ratio, limit=2)
        if best and best[0][1] >= 50 and (len(best) == 1 or best[1][1] < best[0][1]):
            node = names[best[0][0]]
            note = f"{raw} read as {node.name('zh')} ({node.key})"
    if node is None:
        return None, None
    if waiting:
        i = wf.index(node.key)
        return (wf.nodes[i - 1].key if i > 0 else node.key), note
    return node.key, note


def _at(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time(9, 0), tz)  # a ledger gives the day; nine in the morning stands for it


async def plan(sheet: Sheet, engine: ProgressEngine, file_name: str, *, workflow: str = "standard") -> Plan:
    """Every row of ``sheet`` read and compared with the orders already stored."""
    wf = engine.workflows.get(workflow)
    if wf is None:
        raise EngineError(f"no workflow {workflow!r}")
    cols, today, tz = sheet.columns, engine.today(), engine.tz
    out = Plan(unread=cols.unread)
    headers = cols.headers
    seen: dict[str, int] = {}
    parsed: list[tuple[int, dict[str, Any]]] = []

    def cell(row: list[Any], name: str) -> Any:
        j = cols.fields.get(name)
        return row[j] if j is not None and j < len(row) else None

    def col(name: str) -> str:
        j = cols.fields.get(name)
        return headers[j] if j is not None and j < len(headers) and headers[j] else name

    for n, row in sheet.rows:
        cells = [text(c) for c in row]
        if not any(cells):
            out.skipped_empty += 1
            continue
        raw_no = text(cell(row, "order_no"))
        first = next(c for c in cells if c)
        if TOTALS.match(first) or (not raw_no and TOTALS.match(" ".join(cells).strip())):
            out.skipped_totals.append(n)
            continue
        if not raw_no:
            out.refuse(Problem(n, col("order_no"), "", "no order number"))
            continue
        no = engine.normalize(raw_no)
        if not engine.numbers.is_valid(no):
            out.refuse(Problem(n, col("order_no"), raw_no,
                               f"not an order number (they look like {engine.numbers.pattern.pattern})"))
            continue
        if no in seen:
            out.refuse(Problem(n, col("order_no"), raw_no, f"the same order as row {seen[no]}"))
            continue
        seen[no] = n
        facts: dict[str, Any] = {"order_no": no}
        bad = False
        for name, read in (("placed", lambda v: values.day(v, today, past=True)),
                           ("promised", lambda v: values.day(v, today)),
                           ("phone", values.phone), ("amount", values.money), ("cost", values.money)):
            try:
                facts[name] = read(cell(row, name))
            except BadValue as e:
                out.refuse(Problem(n, col(name), text(cell(row, name)), str(e)))
                bad = True
        for name in ("customer", "contact", "email", "status", "owner", "supplier", "carrier", "tracking", "note",
                     "ship_to"):
            facts[name] = text(cell(row, name)) or None
        if facts["email"] and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", facts["email"]):
            out.refuse(Problem(n, col("email"), facts["email"], "not an e-mail address"))
            bad = True
        dates: dict[str, date] = {}
        for key, j in cols.nodes.items():
            value = row[j] if j < len(row) else None
            try:
                if (d := values.day(value, today, past=True)) is not None:
                    if d > today + timedelta(days=1):
                        raise BadValue("in the future: a node is entered on a day that has come")
                    dates[key] = d
            except BadValue as e:
                out.refuse(Problem(n, headers[j] or key, text(value), str(e)))
                bad = True
        if facts.get("placed") and facts["placed"] > today + timedelta(days=1):
            out.refuse(Problem(n, col("placed"), text(cell(row, "placed")), "in the future"))
            bad = True
        facts["dates"] = dates
        target = None
        if facts["status"]:
            target, note = _node_for(facts["status"], wf)
            if target is None:
                out.refuse(Problem(n, col("status"), facts["status"],
                                   f"no node of the workflow has this name ({', '.join(x.name('zh') for x in wf.nodes)})"))
                bad = True
            facts["note_status"] = note
        dated = [k for k in dates if wf.has(k)]
        latest = max(dated, key=wf.index) if dated else None
        if latest and (target is None or wf.index(latest) > wf.index(target)):
            target = latest
        facts["target"] = target
        if not bad:
            parsed.append((n, facts))
    existing = await _existing([f["order_no"] for _, f in parsed])
    for n, f in parsed:
        order = existing.get(f["order_no"])
        rp = RowPlan(n, f["order_no"])
        if f.get("note_status"):
            rp.notes.append(f["note_status"])
        try:
            if order is None:
                if not f["customer"]:
                    out.refuse(Problem(n, col("customer"), "", "a new order needs its customer's name"))
                    continue
                rp.new = OrderIn(order_no=f["order_no"], workflow=wf.key,
                                 customer=CustomerIn(name=f["customer"], email=f["email"], phone=f["phone"]),
                                 promised_date=f["promised"], amount=f["amount"], cost=f["cost"],
                                 sales_owner=f["owner"], ship_to=f["ship_to"], supplier=f["supplier"],
                                 placed_at=_at(f["placed"], tz) if f["placed"] else None)
                rp.changes.append("new order")
                current = wf.first.key
            else:
                rp.patch = _patch(order, f, rp)
                current = order.current_node
                wf = engine.workflow_of(order)
        except ValidationError as e:
            err = e.errors()[0]
            where = str(err["loc"][-1]) if err["loc"] else "order"
            out.refuse(Problem(n, col({"name": "customer", "email": "email", "phone": "phone"}.get(where, where)),
                               str(err.get("input", ""))[:60], err["msg"]))
            continue
        target = f["target"]
        if target and wf.has(target) and wf.has(current):
            if wf.index(target) > wf.index(current):
                rp.events = _events(wf, current, target, f, tz, file_name, n)
                rp.changes.append(f"{wf.node(current).name('zh')} → {wf.node(target).name('zh')}")
            elif wf.index(target) < wf.index(current):
                rp.notes.append(f"the ledger says {wf.node(target).name('zh')}, the order is at "
                                f"{wf.node(current).name('zh')} already: left there")
        out.rows.append(rp)
    return out


async def _existing(numbers: list[str]) -> dict[str, Order]:
    found: dict[str, Order] = {}
    for start in range(0, len(numbers), 500):
        for o in await Order.filter(order_no__in=numbers[start:start + 500]).prefetch_related("customer"):
            found[o.order_no] = o
    return found


def _patch(order: Order, f: dict[str, Any], rp: RowPlan) -> dict[str, Any]:
    """The fields the ledger changes on an existing order (those it leaves empty stay as they are)."""
    patch: dict[str, Any] = {}
    if f["promised"] and f["promised"] != order.promised_date:
        patch["promised_date"] = f["promised"]
    if f["owner"] and f["owner"].upper() != (order.sales_owner or "").upper():
        patch["sales_owner"] = f["owner"]
    if f["ship_to"] and f["ship_to"] != (order.ship_to or ""):
        patch["ship_to"] = f["ship_to"]
    customer: dict[str, Any] = {}
    c = order.customer
    if f["customer"] and f["customer"] != c.name:
        customer["name"] = f["customer"]
    if f["email"] and f["email"].lower() != (c.email or ""):
        customer["email"] = f["email"]
    if f["phone"] and f["phone"] != (c.phone or ""):
        customer["phone"] = f["phone"]
    if customer:
        patch["customer"] = customer
    for key, value in patch.items():
        rp.changes.append(f"{key}: {value}")
    return patch


def _events(wf: Workflow, current: str, target: str, f: dict[str, Any], tz: ZoneInfo, file_name: str,
            row: int) -> list[EventIn]:
    """One event per node from after ``current`` to ``target``, at its date in the ledger, else at the
    next date the ledger gives (else now), so a timeline never runs backwards."""
    nodes = wf.nodes[wf.index(current) + 1: wf.index(target) + 1]
    dates: dict[str, date] = f["dates"]
    out, later = [], None
    for node in reversed(nodes):
        later = dates.get(node.key, later)
        data = EventData(carrier=f["carrier"], tracking_no=f["tracking"]) \
            if node.key == target and f["tracking"] else EventData()
        data = EventData(**data.model_dump(exclude_none=True), file=file_name)
        out.append(EventIn(event_id=f"import:{node.key}", node=node.key, at=_at(later, tz) if later else None,
                           actor="import", note=f"导入自 {file_name} 第 {row} 行", data=data))
    return list(reversed(out))


async def apply(plan_: Plan, engine: ProgressEngine, *, actor: str = "import",
                progress: Callable[[int], None] | None = None) -> tuple[int, list[Problem]]:
    """Write every planned row that changes something, each in one transaction; rows refused now
    (the engine's own checks) are reported and leave nothing behind. How many rows were written."""
    written, refused = 0, []
    todo = [rp for rp in plan_.rows if rp.changing]
    with engine.hooks_paused():
        for start in range(0, len(todo), CHUNK):
            # A chunk of rows commits together (a commit per row would be most of the time); each row in
            # a savepoint of its own, so a refused row leaves nothing and a crash leaves whole rows only.
            async with transaction():
                for rp in todo[start:start + CHUNK]:
                    try:
                        async with transaction():
                            await _row(engine, rp, actor)
                        written += 1
                    except EngineError as e:
                        refused.append(Problem(rp.row, getattr(e, "field", None) or "order", rp.order_no, e.message))
                    except ValidationError as e:
                        refused.append(Problem(rp.row, "order", rp.order_no, e.errors()[0]["msg"]))
            if progress is not None:
                progress(len(todo[start:start + CHUNK]))
    return written, refused


async def _row(engine: ProgressEngine, rp: RowPlan, actor: str) -> None:
    if rp.new:
        await engine.create_order(rp.new, source="import", actor=actor)
    if rp.patch:
        await engine.update_order(rp.order_no, OrderPatch(**rp.patch, apply_to_customer=True), source="import",
                                  actor=actor)
    if rp.events:
        await engine.record_history(rp.order_no, rp.events, source="import", default_actor=actor)


def report(p: Plan, file_name: str, *, applied: bool, limit: int = 50) -> str:
    """The dry run's (or the import's) account: counts, each change, each problem by row and column."""
    verb = "imported" if applied else "would import"
    lines = [f"{file_name}: {len(p.rows) + len(p.bad_rows)} rows with orders; {verb}:",
             f"  new orders:      {len(p.new_orders)}",
             f"  updated orders:  {len(p.updated)}",
             f"  node moves:      {p.moves}",
             f"  unchanged:       {p.unchanged}",
             f"  rows with errors (skipped): {len(p.bad_rows)}",
             f"  skipped: {p.skipped_empty} empty row(s)"
             + (f", totals row(s) {', '.join(map(str, p.skipped_totals))}" if p.skipped_totals else "")]
    if p.unread:
        lines.append(f"  columns not read: {', '.join(p.unread)} (name them with --map)")
    changed = [r for r in p.rows if r.changing]
    if changed:
        lines.append("changes:")
        lines += [f"  row {r.row} {r.order_no}: {'; '.join(r.changes)}" for r in changed[:limit]]
        if len(changed) > limit:
            lines.append(f"  … and {len(changed) - limit} more")
    notes = [(r, n) for r in p.rows for n in r.notes]
    if notes:
        lines.append("assumed:")
        lines += [f"  row {r.row} {r.order_no}: {n}" for r, n in notes[:limit]]
    if p.problems:
        lines.append("problems:")
        lines += [f"  {x}" for x in p.problems[:limit * 4]]
        if len(p.problems) > limit * 4:
            lines.append(f"  … and {len(p.problems) - limit * 4} more (all of them in the .errors.xlsx)")
    return "\n".join(lines)


def errors_workbook(sheet: Sheet, p: Plan) -> bytes:
    """The ledger as it was, with a last column saying what is wrong with each bad row."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    out = book.create_sheet("ledger")
    width = max((len(r) for r in sheet.raw), default=0)
    out.freeze_panes = f"A{sheet.header_row + 1}"
    for n, row in enumerate(sheet.raw, start=1):
        cells = [("'" + c if isinstance(c, str) and c.startswith("=") else c) for c in row]  # text, not a formula
        cells += [None] * (width - len(cells))
        if n == sheet.header_row:
            cells.append("导入问题 / Problem")
        elif n in p.bad_rows:
            cells.append("；".join(f"{x.column}: {x.why}" for x in p.bad_rows[n]))
        out.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def errors_path(path: Path) -> Path:
    return path.with_name(path.stem + ".errors.xlsx")
