"""Orders, their node events and exceptions: the tables, and the statements that read and move them.

Commercial data (amount, unit prices, cost, supplier) lives in its own table so that a
view without it never even loads it; phone and e-mail live on the customer, the ship-to
address on the order, and the view policies drop them by name.

Taking an ERP's event is the busiest write of the service. Through the ORM it cost several
times the database's own work (bench/README.md), so its few statements are written here by
hand: lock and read the orders, insert the events (the unique key on ``(order_id,
event_id)`` makes a replay insert nothing), move the orders. Values are written the way
Tortoise writes them, so both read alike. Everyone outside this module sees an event as an
``EventRecord`` and where an order stands as an ``OrderState``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Literal

import orjson
from tortoise import fields
from tortoise.models import Model

from models.people import Customer
from models.sql import Connection, as_datetime, execute, execute_all, insert_rows, marks, one, run, sql


ORDER_NO_MAX = 32  # characters of a normalized order number


class Order(Model):
    """One order and where it stands in its workflow."""

    id = fields.BigIntField(primary_key=True)
    order_no = fields.CharField(max_length=ORDER_NO_MAX, unique=True)
    workflow = fields.CharField(max_length=32)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "orderbot.Customer", related_name="orders", on_delete=fields.RESTRICT
    )
    sales_owner = fields.CharField(max_length=32, null=True, db_index=True)
    promised_date = fields.DateField(null=True, db_index=True)
    current_node = fields.CharField(max_length=32, db_index=True)
    node_entered_at = fields.DatetimeField(db_index=True)  # the console sorts by it
    eta = fields.DatetimeField(null=True)  # as computed at the last change; readers recompute it
    ship_to = fields.TextField(null=True)
    items = fields.JSONField(default=list)
    carrier = fields.CharField(max_length=32, null=True)
    tracking_no = fields.CharField(max_length=64, null=True, db_index=True)
    fingerprint = fields.CharField(max_length=64)
    version = fields.IntField(default=1)
    placed_at = fields.DatetimeField(db_index=True)  # the console sorts and filters by it
    # The late conditions the notification scanner has dealt with: the promised date it told
    # of, and the node visit (its entry time) it told was over its SLA.
    late_noticed_for = fields.DateField(null=True)
    overdue_noticed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    commercial: fields.BackwardOneToOneRelation[OrderCommercial]
    events: fields.ReverseRelation[NodeEvent]
    exceptions: fields.ReverseRelation[OrderException]

    class Meta:
        table = "orders"


class OrderCommercial(Model):
    """Prices, cost and supplier of an order: only sales (amount) and managers see them."""

    id = fields.BigIntField(primary_key=True)
    order: fields.OneToOneRelation[Order] = fields.OneToOneField(
        "orderbot.Order", related_name="commercial", on_delete=fields.CASCADE
    )
    amount = fields.DecimalField(max_digits=18, decimal_places=2, null=True)
    currency = fields.CharField(max_length=3, default="CNY")
    unit_prices = fields.JSONField(null=True)
    cost = fields.DecimalField(max_digits=18, decimal_places=2, null=True)
    supplier = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "order_commercials"


class NodeEvent(Model):
    """An append-only record of an order entering (or re-entering) a node."""

    id = fields.BigIntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "orderbot.Order", related_name="events", on_delete=fields.CASCADE
    )
    event_id = fields.CharField(max_length=128)
    kind = fields.CharField(max_length=16)  # create, advance, rework, update
    node = fields.CharField(max_length=32)
    from_node = fields.CharField(max_length=32, null=True)
    skipped = fields.JSONField(default=list)
    at = fields.DatetimeField()
    actor = fields.CharField(max_length=128, null=True)
    source = fields.CharField(max_length=16)
    note = fields.TextField(null=True)
    data = fields.JSONField(default=dict)
    fingerprint = fields.CharField(max_length=64)
    recorded_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "node_events"
        unique_together = (("order", "event_id"),)


class OrderException(Model):
    """Something holding an order up: opened, acknowledged by a person, resolved."""

    id = fields.BigIntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "orderbot.Order", related_name="exceptions", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=32)
    severity = fields.CharField(max_length=16, default="normal")
    status = fields.CharField(max_length=16, default="open", db_index=True)
    node = fields.CharField(max_length=32)
    note = fields.TextField(null=True)
    source = fields.CharField(max_length=16)
    opened_by = fields.CharField(max_length=128, null=True)
    opened_at = fields.DatetimeField()
    acknowledged_by = fields.CharField(max_length=128, null=True)
    acknowledged_at = fields.DatetimeField(null=True)
    resolved_by = fields.CharField(max_length=128, null=True)
    resolved_at = fields.DatetimeField(null=True)
    resolution = fields.CharField(max_length=64, null=True)
    resolution_note = fields.TextField(null=True)
    escalation_level = fields.IntField(default=0)
    escalated_at = fields.DatetimeField(null=True)
    # The caller's own id (body `exception_id` or `Idempotency-Key`): a retry with it opens nothing new.
    exception_id = fields.CharField(max_length=128, null=True)
    fingerprint = fields.CharField(max_length=64, null=True)  # of what was asked, to tell a replay from a reuse

    class Meta:
        table = "order_exceptions"
        unique_together = (("order", "exception_id"),)


# ---------------------------------------------------------------- what the rest of the service sees
_ORDER_COLS = ("id, order_no, workflow, customer_id, sales_owner, promised_date, current_node, "
               "node_entered_at, eta, tracking_no, carrier, version")
_EVENT_COLS = "id, event_id, kind, node, from_node, skipped, at, actor, source, note, data, fingerprint, recorded_at"


@dataclass(frozen=True)
class OrderState:
    """Where an order stands: what the engine needs to move it and hooks need to react."""

    id: int
    order_no: str
    workflow: str
    customer_id: int
    sales_owner: str | None
    promised_date: date | None
    current_node: str
    node_entered_at: datetime
    eta: datetime | None
    tracking_no: str | None
    carrier: str | None
    version: int

    @classmethod
    def of(cls, order: Order) -> OrderState:
        return cls(order.id, order.order_no, order.workflow, order.customer_id, order.sales_owner,
                   order.promised_date, order.current_node, order.node_entered_at, order.eta,
                   order.tracking_no, order.carrier, order.version)

    def moved(self, **changes: Any) -> OrderState:
        return replace(self, **changes)


EventKind = Literal["create", "advance", "rework", "update"]


@dataclass(frozen=True)
class EventRecord:
    """A stored node event: the one shape hooks, views and the API get (``NodeEvent`` is its table)."""

    id: int
    event_id: str
    kind: EventKind
    node: str
    from_node: str | None
    skipped: list[str]
    at: datetime
    actor: str | None
    source: str
    note: str | None
    data: dict[str, Any]
    fingerprint: str
    recorded_at: datetime

    @classmethod
    def of(cls, e: NodeEvent) -> EventRecord:
        return cls(e.id, e.event_id, e.kind, e.node, e.from_node, e.skipped, e.at, e.actor, e.source, e.note,
                   e.data, e.fingerprint, e.recorded_at)


def _date(value: Any) -> date | None:
    return value if value is None or isinstance(value, date) else date.fromisoformat(value)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def _order(row: dict[str, Any]) -> OrderState:
    return OrderState(
        row["id"], row["order_no"], row["workflow"], row["customer_id"], row["sales_owner"],
        _date(row["promised_date"]), row["current_node"], as_datetime(row["node_entered_at"]),
        as_datetime(row["eta"]), row["tracking_no"], row["carrier"], row["version"],
    )


def _event(r: dict[str, Any]) -> EventRecord:
    return EventRecord(r["id"], r["event_id"], r["kind"], r["node"], r["from_node"], _json(r["skipped"]),
                       as_datetime(r["at"]), r["actor"], r["source"], r["note"], _json(r["data"]), r["fingerprint"],
                       as_datetime(r["recorded_at"]))


# ---------------------------------------------------------------- moving orders (inside the engine's transaction)
async def lock_orders(conn: Connection, order_nos: list[str]) -> dict[str, OrderState]:
    """Read these orders and hold them until the transaction ends (other writers wait).

    PostgreSQL locks the rows, in id order so that two batches never wait on each other;
    SQLite takes the database's write lock by writing first, so that another process
    cannot change an order between this read and our write.
    """
    if conn.capabilities.support_for_update:
        text = f"SELECT {_ORDER_COLS} FROM orders WHERE order_no IN ({marks(len(order_nos))}) ORDER BY id FOR UPDATE"
    else:
        text = (f"UPDATE orders SET version = version WHERE order_no IN ({marks(len(order_nos))}) "
                f"RETURNING {_ORDER_COLS}")
    return {r["order_no"]: _order(r) for r in await run(conn, text, order_nos)}


async def find_events(conn: Connection, keys: list[tuple[int, str]]) -> dict[tuple[int, str], EventRecord]:
    """The stored events with these (order id, event_id) keys."""
    order_ids, event_ids = sorted({k[0] for k in keys}), sorted({k[1] for k in keys})
    rows = await run(conn, f"SELECT order_id, {_EVENT_COLS} FROM node_events WHERE order_id IN "
                           f"({marks(len(order_ids))}) AND event_id IN ({marks(len(event_ids))})",
                     [*order_ids, *event_ids])
    return {(r["order_id"], r["event_id"]): _event(r) for r in rows if (r["order_id"], r["event_id"]) in keys}


async def insert_events(conn: Connection, events: list[tuple[int, EventRecord]]) -> dict[tuple[int, str], int]:
    """Store events: (order id, event_id) -> the new event's id.

    A key missing from the answer was stored already (the unique key refused it).
    """
    rows = [(order_id, ev.event_id, ev.kind, ev.node, ev.from_node, orjson.dumps(ev.skipped).decode(), ev.at,
             ev.actor, ev.source, ev.note, orjson.dumps(ev.data).decode(), ev.fingerprint, ev.recorded_at)
            for order_id, ev in events]
    found = await insert_rows(conn, "node_events", ("order_id", "event_id", "kind", "node", "from_node", "skipped",
                                                    "at", "actor", "source", "note", "data", "fingerprint",
                                                    "recorded_at"), rows,
                              tail="ON CONFLICT (order_id, event_id) DO NOTHING RETURNING id, order_id, event_id")
    return {(r["order_id"], r["event_id"]): r["id"] for r in found}


@dataclass(frozen=True)
class NewOrder:
    """An order to insert at its workflow's first node (``ProgressEngine.create_orders``)."""

    new: Any  # models.inputs.OrderIn, its number normalized
    customer_id: int
    workflow: str
    node: str
    placed_at: datetime
    eta: datetime | None
    fingerprint: str


async def insert_orders(conn: Connection, rows: list[NewOrder], now: datetime) -> list[OrderState]:
    """Insert new orders with their commercial rows, in a few statements: where each now stands, in
    the order given. A number that exists fails them all (IntegrityError)."""
    values = []
    for r in rows:
        n = r.new
        items = [i.model_dump(mode="json", exclude={"unit_price"}, exclude_none=True) for i in n.items]
        values.append((n.order_no, r.workflow, r.customer_id, n.sales_owner, n.promised_date, r.node, r.placed_at,
                       r.eta, n.ship_to, orjson.dumps(items).decode(), r.fingerprint, 1, r.placed_at, now, now))
    found = await insert_rows(conn, "orders", ("order_no", "workflow", "customer_id", "sales_owner", "promised_date",
                                               "current_node", "node_entered_at", "eta", "ship_to", "items",
                                               "fingerprint", "version", "placed_at", "created_at", "updated_at"),
                              values, tail="RETURNING id, order_no")
    ids = {f["order_no"]: f["id"] for f in found}
    commercial = []
    for r in rows:
        n = r.new
        prices = [i.model_dump(mode="json", include={"sku", "name", "unit_price"}, exclude_none=True)
                  for i in n.items if i.unit_price is not None]
        commercial.append((ids[n.order_no], n.amount, n.currency, orjson.dumps(prices).decode() if prices else None,
                           n.cost, n.supplier))
    await insert_rows(conn, "order_commercials", ("order_id", "amount", "currency", "unit_prices", "cost", "supplier"),
                      commercial)
    return [OrderState(ids[r.new.order_no], r.new.order_no, r.workflow, r.customer_id, r.new.sales_owner,
                       r.new.promised_date, r.node, r.placed_at, r.eta, None, None, 1) for r in rows]


async def move_orders(conn: Connection, states: list[OrderState], updated_at: datetime) -> None:
    """Write where the orders now stand (each state's ``version`` is its new version)."""
    await conn.execute_many(sql(conn, (
        "UPDATE orders SET current_node = ?, node_entered_at = ?, eta = ?, tracking_no = ?, carrier = ?, "
        "version = ?, updated_at = ? WHERE id = ?")),
        [[s.current_node, s.node_entered_at, s.eta, s.tracking_no, s.carrier, s.version, updated_at, s.id]
         for s in states])


# ---------------------------------------------------------------- reading
async def find_order(no: str) -> Order | None:
    """The order with this (normalised) number, or with this courier tracking number."""
    # One statement, both indexes; an order with this number comes before one with this tracking number.
    return one(Order, await execute(
        "SELECT * FROM orders WHERE order_no = ? OR tracking_no = ? ORDER BY order_no = ? DESC LIMIT 1", [no, no, no]))


async def events_of(order_id: int) -> list[EventRecord]:
    """An order's events, oldest first."""
    return [EventRecord.of(e) for e in await NodeEvent.filter(order_id=order_id).order_by("id")]


async def progress_facts(order_id: int) -> tuple[set[str], list[tuple[str, str | None]]]:
    """The nodes an order has entered, and its unresolved exceptions (kind, note), in one trip on SQLite."""
    nodes, held = await execute_all([
        ("SELECT DISTINCT node FROM node_events WHERE order_id = ? AND kind <> 'update'", [order_id]),
        ("SELECT kind, note FROM order_exceptions WHERE order_id = ? AND status IN ('open', 'acknowledged') "
         "ORDER BY id", [order_id])])
    return {r["node"] for r in nodes}, [(r["kind"], r["note"]) for r in held]


def mark_noticed(column: str, source_column: str, order_ids: list[int]) -> tuple[str, list[int]]:
    """The statement that marks late conditions as told (``column`` set from ``source_column``),
    for ``models.sql.atomic`` together with the notices."""
    if (column, source_column) not in (("late_noticed_for", "promised_date"), ("overdue_noticed_at", "node_entered_at")):
        raise ValueError(f"not a late condition: {column} = {source_column}")  # names go into the SQL text
    return f"UPDATE orders SET {column} = {source_column} WHERE id IN ({marks(len(order_ids))})", order_ids
