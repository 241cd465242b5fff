"""The node-event hot path in plain SQL, for SQLite and PostgreSQL.

Taking an ERP's event is the busiest write of the service. Through the ORM it cost several
times the database's own work (bench/api_events.py), so its few statements are written
here by hand: lock and read the order, insert the event (the unique key on
``(order_id, event_id)`` makes a replay insert nothing), move the order. Everything else
uses the models. Values are written the way Tortoise writes them, so both read alike.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, TypeVar

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields import DatetimeField
from tortoise.models import Model

from models.batch import execute_all, sql
from models.orders import Order

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


@dataclass(frozen=True)
class EventRecord:
    """A stored node event (the same attributes as ``NodeEvent``)."""

    id: int
    event_id: str
    kind: str
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


def _dt(value: Any) -> datetime | None:
    return value if value is None or isinstance(value, datetime) else datetime.fromisoformat(value)


def _date(value: Any) -> date | None:
    return value if value is None or isinstance(value, date) else date.fromisoformat(value)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def _order(row: dict[str, Any]) -> OrderState:
    return OrderState(
        row["id"], row["order_no"], row["workflow"], row["customer_id"], row["sales_owner"],
        _date(row["promised_date"]), row["current_node"], _dt(row["node_entered_at"]), _dt(row["eta"]),
        row["tracking_no"], row["carrier"], row["version"],
    )


def _marks(n: int) -> str:
    return ", ".join("?" * n)


async def lock_orders(conn: BaseDBAsyncClient, order_nos: list[str]) -> dict[str, OrderState]:
    """Read these orders and hold them until the transaction ends (other writers wait).

    PostgreSQL locks the rows, in id order so that two batches never wait on each other;
    SQLite takes the database's write lock by writing first, so that another process
    cannot change an order between this read and our write.
    """
    if conn.capabilities.support_for_update:
        text = (f"SELECT {_ORDER_COLS} FROM orders WHERE order_no IN ({_marks(len(order_nos))}) "
               "ORDER BY id FOR UPDATE")
    else:
        text = (f"UPDATE orders SET version = version WHERE order_no IN ({_marks(len(order_nos))}) "
               f"RETURNING {_ORDER_COLS}")
    rows = await conn.execute_query_dict(sql(conn, text), list(order_nos))
    return {r["order_no"]: _order(r) for r in rows}


async def find_events(conn: BaseDBAsyncClient, keys: list[tuple[int, str]]) -> dict[tuple[int, str], EventRecord]:
    """The stored events with these (order id, event_id) keys."""
    order_ids, event_ids = sorted({k[0] for k in keys}), sorted({k[1] for k in keys})
    rows = await conn.execute_query_dict(sql(conn, (
        f"SELECT order_id, {_EVENT_COLS} FROM node_events WHERE order_id IN ({_marks(len(order_ids))}) "
        f"AND event_id IN ({_marks(len(event_ids))})")), [*order_ids, *event_ids])
    found = {}
    for r in rows:
        if (r["order_id"], r["event_id"]) in keys:
            found[(r["order_id"], r["event_id"])] = EventRecord(
                r["id"], r["event_id"], r["kind"], r["node"], r["from_node"], _json(r["skipped"]), _dt(r["at"]),
                r["actor"], r["source"], r["note"], _json(r["data"]), r["fingerprint"], _dt(r["recorded_at"]))
    return found


async def insert_events(conn: BaseDBAsyncClient, events: list[tuple[int, EventRecord]]) -> dict[int, int]:
    """Store events, at most one per order: order id -> the new event's id.

    An order missing from the answer already had that event_id (the unique key refused it).
    """
    values: list[Any] = []
    for order_id, ev in events:
        values += [order_id, ev.event_id, ev.kind, ev.node, ev.from_node, orjson.dumps(ev.skipped).decode(),
                   ev.at, ev.actor, ev.source, ev.note, orjson.dumps(ev.data).decode(), ev.fingerprint,
                   ev.recorded_at]
    row = f"({_marks(13)})"
    rows = await conn.execute_query_dict(sql(conn, (
        "INSERT INTO node_events (order_id, event_id, kind, node, from_node, skipped, at, actor, source, "
        f"note, data, fingerprint, recorded_at) VALUES {', '.join([row] * len(events))} "
        "ON CONFLICT (order_id, event_id) DO NOTHING RETURNING id, order_id")), values)
    return {r["order_id"]: r["id"] for r in rows}


async def move_orders(conn: BaseDBAsyncClient, states: list[OrderState], updated_at: datetime) -> None:
    """Write where the orders now stand (each state's ``version`` is its new version)."""
    await conn.execute_many(sql(conn, (
        "UPDATE orders SET current_node = ?, node_entered_at = ?, eta = ?, tracking_no = ?, carrier = ?, "
        "version = ?, updated_at = ? WHERE id = ?")),
        [[s.current_node, s.node_entered_at, s.eta, s.tracking_no, s.carrier, s.version, updated_at, s.id]
         for s in states])


M = TypeVar("M", bound=Model)


async def fetch_one(model: type[M], where: str, params: list[Any]) -> M | None:
    """``SELECT * FROM <model's table> WHERE <where> LIMIT 1`` as a model instance, ORM-free.

    For the conversation's hot path, where building the query cost more than running it.
    """
    return one(model, await execute(f"SELECT * FROM {model._meta.db_table} WHERE {where} LIMIT 1", params))


def one(model: type[M], rows: list[dict[str, Any]]) -> M | None:
    """The first of ``rows`` (from ``execute``) as a model instance."""
    if not rows:
        return None
    row = rows[0]
    for column in _datetime_columns(model):
        if type(value := row[column]) is str:
            # SQLite hands back text; datetime's own parser is many times quicker than Tortoise's.
            row[column] = datetime.fromisoformat(value)
    return model._init_from_db(**row)


def columns(model: type[Model], alias: str) -> str:
    """``alias.col AS alias__col, ...``: the columns of ``model`` told apart in a joined row."""
    return ", ".join(f"{alias}.{c} AS {alias}__{c}" for c in _columns(model))


def part(model: type[M], row: dict[str, Any] | None, alias: str) -> M | None:
    """The ``alias__`` columns of a joined row (see ``columns``) as a model; None where the join found none."""
    if row is None or row[f"{alias}__id"] is None:
        return None
    return one(model, [{c: row[f"{alias}__{c}"] for c in _columns(model)}])


def _columns(model: type[Model]) -> list[str]:
    meta = model._meta  # what _init_from_db reads, known once Tortoise is set up
    return [key for key, _, _ in (*meta.db_native_fields, *meta.db_default_fields, *meta.db_complex_fields)]


@functools.cache
def _datetime_columns(model: type[Model]) -> tuple[str, ...]:
    return tuple(f.source_field or name for name, f in model._meta.fields_map.items()
                 if isinstance(f, DatetimeField))


async def execute(text: str, params: list[Any]) -> list[dict[str, Any]]:
    """Run one statement (``?`` placeholders); rows when it returns any.

    On SQLite it shares a trip and a transaction with the other statements in flight
    (``models.batch``); inside an ORM transaction it runs on that transaction.
    """
    return (await execute_all([(text, params)]))[0]
