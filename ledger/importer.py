"""Importing a ledger: every row planned against the stored orders, reported, applied, a chunk at a time.

Each row becomes at most: a new order, changed fields (kept as history) and node events at
the ledger's own dates. Rows are read, planned and written a chunk at a time, so memory
stays flat whatever the file's length; a chunk's writes are a few multi-row statements in
one transaction (``engine.create_orders``, ``engine.record_history``), so a crash leaves
whole rows only. When a chunk fails as a whole (a number another process took meanwhile),
it is written again row by row, each in a savepoint of its own, and only the culprit is
refused. Events are named by their node (``import:<node>``), so importing the same ledger
again changes nothing and an updated one adds only what is new. Events carry ``source =
import`` and the file's name. An import tells nobody unless asked to (``notify``): a ledger
is mostly history, and a first import would tell every customer of every past order.
"""
from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import islice
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
from models.sql import IntegrityError, transaction
from models.workflows import Workflow

CHUNK = 1000  # rows read, planned and written together (bench/README.md: import)
LIMIT = 50  # changes and assumptions listed in the report; the counts cover them all
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
class Summary:
    """What an import found and did: counts of everything, the first changes in words, every problem."""

    rows: int = 0  # rows with an order (good and bad)
    new_orders: int = 0
    updated: int = 0
    moves: int = 0
    unchanged: int = 0
    written: int = 0
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    bad_rows: dict[int, list[Problem]] = field(default_factory=dict)
    skipped_empty: int = 0
    skipped_totals: list[int] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)

    def refuse(self, p: Problem) -> None:
        self.problems.append(p)
        self.bad_rows.setdefault(p.row, []).append(p)

    def count(self, rp: RowPlan) -> None:
        if rp.new:
            self.new_orders += 1
        elif rp.patch or rp.events:
            self.updated += 1
        else:
            self.unchanged += 1
        self.moves += len(rp.events)
        if rp.changing and len(self.changes) < LIMIT:
            self.changes.append(f"row {rp.row} {rp.order_no}: {'; '.join(rp.changes)}")
        for note in rp.notes[:max(0, LIMIT - len(self.notes))]:
            self.notes.append(f"row {rp.row} {rp.order_no}: {note}")

    @property
    def changing(self) -> int:
        return self.new_orders + self.updated

    def as_dict(self) -> dict[str, Any]:
        """For storing (the console keeps an upload's report) and for JSON."""
        return {"rows": self.rows, "new_orders": self.new_orders, "updated": self.updated, "moves": self.moves,
                "unchanged": self.unchanged, "written": self.written, "changes": self.changes, "notes": self.notes,
                "problems": [vars(p) for p in self.problems], "skipped_empty": self.skipped_empty,
                "skipped_totals": self.skipped_totals, "unread": self.unread}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Summary:
        out = cls(**{k: v for k, v in d.items() if k != "problems"})
        for p in d.get("problems", []):
            out.refuse(Problem(**p))
        return out


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


def _at(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time(9, 0), tz)  # a ledger gives the day; nine in the morning stands for it


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


class Importer:
    """One import of one ledger: ``run`` plans every row, and with ``apply`` writes the good ones."""

    def __init__(self, engine: ProgressEngine, file_name: str, *, workflow: str = "standard",
                 actor: str = "import", notify: bool = False, chunk: int = CHUNK) -> None:
        wf = engine.workflows.get(workflow)
        if wf is None:
            raise EngineError(f"no workflow {workflow!r} (known: {', '.join(engine.workflows.workflows)})")
        self.engine, self.file_name, self.wf, self.actor, self.notify = engine, file_name, wf, actor, notify
        self.chunk = chunk
        self.today, self.tz = engine.today(), engine.tz
        self.seen: dict[str, int] = {}  # order number -> the row it was first on
        self.statuses: dict[str, tuple[str | None, str | None]] = {}  # status cell -> node, note

    async def run(self, sheet: Sheet, *, apply: bool, progress: Callable[[int], None] | None = None) -> Summary:
        out = Summary(unread=sheet.columns.unread)
        self.sheet, self.out = sheet, out
        if apply and not self.notify:
            with self.engine.hooks_paused():
                await self._each_chunk(apply, progress)
        else:
            await self._each_chunk(apply, progress)
        return out

    async def _each_chunk(self, apply: bool, progress: Callable[[int], None] | None) -> None:
        for chunk in _chunks(self.sheet.rows(), self.chunk):
            parsed = [(n, f) for n, row in chunk if (f := self._parse(n, row)) is not None]
            existing = await _existing([f["order_no"] for _, f in parsed])
            plans = [rp for n, f in parsed if (rp := self._plan(n, f, existing.get(f["order_no"]))) is not None]
            for rp in plans:
                self.out.count(rp)
            if apply:
                await self._write([rp for rp in plans if rp.changing])
            if progress is not None:
                progress(len(chunk))
            await asyncio.sleep(0)  # in the web process, others' requests wait one chunk at most

    # ---------------------------------------------------------------- one row's cells
    def _cell(self, row: list[Any], name: str) -> Any:
        j = self.sheet.columns.fields.get(name)
        return row[j] if j is not None and j < len(row) else None

    def _col(self, name: str) -> str:
        cols = self.sheet.columns
        j = cols.fields.get(name)
        return cols.headers[j] if j is not None and j < len(cols.headers) and cols.headers[j] else name

    def _parse(self, n: int, row: list[Any]) -> dict[str, Any] | None:
        """A row's facts, read and checked; None for a row skipped (empty, totals) or refused."""
        out, engine, today, cell, col = self.out, self.engine, self.today, self._cell, self._col
        cells = [text(c) for c in row]
        if not any(cells):
            out.skipped_empty += 1
            return None
        raw_no = text(cell(row, "order_no"))
        first = next(c for c in cells if c)
        if TOTALS.match(first) or (not raw_no and TOTALS.match(" ".join(cells).strip())):
            out.skipped_totals.append(n)
            return None
        out.rows += 1
        if not raw_no:
            out.refuse(Problem(n, col("order_no"), "", "no order number"))
            return None
        no = engine.normalize(raw_no)
        if not engine.numbers.is_valid(no):
            out.refuse(Problem(n, col("order_no"), raw_no,
                               f"not an order number (they look like {engine.numbers.pattern.pattern})"))
            return None
        if no in self.seen:
            out.refuse(Problem(n, col("order_no"), raw_no, f"the same order as row {self.seen[no]}"))
            return None
        self.seen[no] = n
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
        headers = self.sheet.columns.headers
        for key, j in self.sheet.columns.nodes.items():
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
        target, wf = None, self.wf
        if facts["status"]:
            if facts["status"] not in self.statuses:  # a ledger says the same few things all the way down
                self.statuses[facts["status"]] = _node_for(facts["status"], wf)
            target, note = self.statuses[facts["status"]]
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
        return None if bad else facts

    def _plan(self, n: int, f: dict[str, Any], order: Order | None) -> RowPlan | None:
        """What the row changes on its stored order (or the order it creates); None when refused."""
        rp, wf, col = RowPlan(n, f["order_no"]), self.wf, self._col
        if f.get("note_status"):
            rp.notes.append(f["note_status"])
        try:
            if order is None:
                if not f["customer"]:
                    self.out.refuse(Problem(n, col("customer"), "", "a new order needs its customer's name"))
                    return None
                rp.new = OrderIn(order_no=f["order_no"], workflow=wf.key,
                                 customer=CustomerIn(name=f["customer"], email=f["email"], phone=f["phone"]),
                                 promised_date=f["promised"], amount=f["amount"], cost=f["cost"],
                                 sales_owner=f["owner"], ship_to=f["ship_to"], supplier=f["supplier"],
                                 placed_at=_at(f["placed"], self.tz) if f["placed"] else None)
                rp.changes.append("new order")
                current = wf.first.key
            else:
                rp.patch = _patch(order, f, rp)
                current = order.current_node
                wf = self.engine.workflow_of(order)
        except ValidationError as e:
            err = e.errors()[0]
            where = str(err["loc"][-1]) if err["loc"] else "order"
            self.out.refuse(Problem(n, col({"name": "customer", "email": "email", "phone": "phone"}.get(where, where)),
                                    str(err.get("input", ""))[:60], err["msg"]))
            return None
        except EngineError as e:  # its workflow is gone from the workflows file
            self.out.refuse(Problem(n, col("order_no"), f["order_no"], e.message))
            return None
        target = f["target"]
        if target and wf.has(target) and wf.has(current):
            if wf.index(target) > wf.index(current):
                rp.events = _events(wf, current, target, f, self.tz, self.file_name, n)
                rp.changes.append(f"{wf.node(current).name('zh')} → {wf.node(target).name('zh')}")
            elif wf.index(target) < wf.index(current):
                rp.notes.append(f"the ledger says {wf.node(target).name('zh')}, the order is at "
                                f"{wf.node(current).name('zh')} already: left there")
        return rp

    # ---------------------------------------------------------------- writing
    async def _write(self, todo: list[RowPlan]) -> None:
        if not todo:
            return
        try:
            async with transaction():
                await self._all(todo)
            self.out.written += len(todo)
            return
        except (EngineError, ValidationError, IntegrityError):
            pass  # something the plan could not foresee: row by row below, so only the culprit is refused
        async with transaction():
            for rp in todo:
                try:
                    async with transaction():
                        await self._one(rp)
                    self.out.written += 1
                except EngineError as e:
                    self.out.refuse(Problem(rp.row, getattr(e, "field", None) or "order", rp.order_no, e.message))
                except ValidationError as e:
                    self.out.refuse(Problem(rp.row, "order", rp.order_no, e.errors()[0]["msg"]))

    async def _all(self, todo: list[RowPlan]) -> None:
        engine, actor = self.engine, self.actor
        if news := [rp.new for rp in todo if rp.new]:
            await engine.create_orders(news, source="import", actor=actor)
        for rp in todo:
            if rp.patch:
                await engine.update_order(rp.order_no, OrderPatch(**rp.patch, apply_to_customer=True),
                                          source="import", actor=actor)
        if histories := [(rp.order_no, rp.events) for rp in todo if rp.events]:
            await engine.record_history(histories, source="import", default_actor=actor)

    async def _one(self, rp: RowPlan) -> None:
        engine, actor = self.engine, self.actor
        if rp.new:
            await engine.create_order(rp.new, source="import", actor=actor)
        if rp.patch:
            await engine.update_order(rp.order_no, OrderPatch(**rp.patch, apply_to_customer=True), source="import",
                                      actor=actor)
        if rp.events:
            await engine.record_history([(rp.order_no, rp.events)], source="import", default_actor=actor)


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
    plain = EventData(file=file_name)  # one for all events without a parcel: never changed once made
    for node in reversed(nodes):
        later = dates.get(node.key, later)
        data = EventData(carrier=f["carrier"], tracking_no=f["tracking"], file=file_name) \
            if node.key == target and f["tracking"] else plain
        out.append(EventIn(event_id=f"import:{node.key}", node=node.key, at=_at(later, tz) if later else None,
                           note=f"导入自 {file_name} 第 {row} 行", data=data))
    return list(reversed(out))


def report(p: Summary, file_name: str, *, applied: bool) -> str:
    """The dry run's (or the import's) account: counts, the first changes, each problem by row and column."""
    verb = "imported" if applied else "would import"
    lines = [f"{file_name}: {p.rows} rows with orders; {verb}:",
             f"  new orders:      {p.new_orders}",
             f"  updated orders:  {p.updated}",
             f"  node moves:      {p.moves}",
             f"  unchanged:       {p.unchanged}",
             f"  rows with errors (skipped): {len(p.bad_rows)}",
             f"  skipped: {p.skipped_empty} empty row(s)"
             + (f", totals row(s) {', '.join(map(str, p.skipped_totals))}" if p.skipped_totals else "")]
    if p.unread:
        lines.append(f"  columns not read: {', '.join(p.unread)} (name them with --map)")
    if p.changes:
        lines.append("changes:")
        lines += [f"  {c}" for c in p.changes]
        if p.changing > len(p.changes):
            lines.append(f"  … and {p.changing - len(p.changes)} more")
    if p.notes:
        lines.append("assumed:")
        lines += [f"  {n}" for n in p.notes]
    if p.problems:
        lines.append("problems:")
        lines += [f"  {x}" for x in p.problems[:LIMIT * 4]]
        if len(p.problems) > LIMIT * 4:
            lines.append(f"  … and {len(p.problems) - LIMIT * 4} more (all of them in the .errors.xlsx)")
    return "\n".join(lines)


def errors_workbook(sheet: Sheet, p: Summary) -> bytes:
    """The ledger as it was (read again, row by row), with a last column saying what is wrong with each bad row."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    out = book.create_sheet("ledger")
    out.freeze_panes = f"A{sheet.header_row + 1}"
    width = sheet.width
    for n, row in enumerate(sheet.raw(), start=1):
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
