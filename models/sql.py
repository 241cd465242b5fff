"""The one road to the database for hand-written statements: every module of ``models`` uses it.

Statements are written with ``?`` placeholders (``sql`` makes them asyncpg's ``$1`` on
PostgreSQL). On SQLite outside a transaction they join the conversation's group commit
(``models.batch``): independent statements started together share one trip and one commit.
On PostgreSQL, and inside an ORM transaction, they run directly on the current connection.

A piece of work (one message) may run in a ``unit``: its ``soon`` writes join the next
batch without their caller waiting, and the unit ends only once they have committed;
``after_commit`` work runs then.
"""
from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.exceptions import IntegrityError  # noqa: F401 - for parts above models, which may not import the ORM
from tortoise.fields import DatetimeField
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import batch

Connection = BaseDBAsyncClient  # what a change hook is handed: the transaction's connection
transaction = in_transaction  # for modules of models, and parts above, that need an ORM transaction
M = TypeVar("M", bound=Model)


def sql(conn: BaseDBAsyncClient, text: str) -> str:
    """``?`` placeholders as the connection's driver wants them (asyncpg: ``$1``, ``$2``...)."""
    if conn.capabilities.dialect != "postgres":
        return text
    counter = iter(range(1, text.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(counter)}", text)


def marks(n: int) -> str:
    """``?, ?, ?`` for an IN list of ``n`` values."""
    return ", ".join("?" * n)


def current() -> BaseDBAsyncClient:
    """The connection statements run on now (the transaction's, inside one)."""
    return connections.get("default")


def _direct(conn: BaseDBAsyncClient) -> bool:
    """True where statements run one by one: PostgreSQL, or inside an ORM transaction."""
    return conn.capabilities.dialect != "sqlite" or isinstance(conn, TransactionalDBClient)


async def run(conn: BaseDBAsyncClient, text: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    """One statement on ``conn`` itself (a hook's transaction): its rows."""
    return await conn.execute_query_dict(sql(conn, text), list(params))


PARAMETERS = 32_000  # a statement's most: SQLite's (32,766 since 3.32) and asyncpg's (32,767) limits


async def insert_rows(conn: BaseDBAsyncClient, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                      *, tail: str = "") -> list[dict[str, Any]]:
    """Many rows in as few multi-row INSERTs as the drivers' limit on parameters allows; ``tail``
    (``ON CONFLICT ... RETURNING ...``) ends each statement, and the rows it returns are answered.

    Statements hold a power of two of rows, so that there are few distinct texts: a driver keeps
    each text it has prepared, and one of thousands of parameters costs megabytes (bench/README).
    """
    most = 1 << ((PARAMETERS // len(columns)).bit_length() - 1)
    out: list[dict[str, Any]] = []
    start = 0
    while start < len(rows):
        size = min(most, 1 << ((len(rows) - start).bit_length() - 1))
        part = rows[start:start + size]
        text = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {_values(len(columns), size)} {tail}"
        out += await run(conn, text, [v for r in part for v in r])
        start += size
    return out


@functools.lru_cache(maxsize=256)
def _values(width: int, rows: int) -> str:
    row = f"({marks(width)})"
    return ", ".join([row] * rows)


async def execute_all(statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[dict[str, Any]]]:
    """Run statements in this order; the rows of each.

    On SQLite outside a transaction they all join the next batch, so they cost one trip
    between them; elsewhere they run one after the other on the current connection.
    """
    conn = current()
    if _direct(conn):
        return [await run(conn, text, params) for text, params in statements]
    batcher = batch.batcher(conn)
    futures = [batcher.submit(text, params) for text, params in statements]
    try:
        return [await f for f in futures]
    finally:
        for f in futures:  # one failed: the others' outcomes are not wanted (and must not be reported)
            if f.done() and not f.cancelled():
                f.exception()


async def execute(text: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    """Run one statement; rows when it returns any (see ``execute_all``)."""
    return (await execute_all([(text, params)]))[0]


async def atomic(statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[dict[str, Any]]]:
    """Run statements that hold together or not at all; the rows of each.

    For writes made apart from any conversation (a scan's marks and its notices): on SQLite
    they join the next batch inside a savepoint, so they take one trip and never hold the
    write lock while the event loop runs other work, as an ORM transaction does from its
    first statement to its commit. Elsewhere they run in a transaction of their own (a
    savepoint of the current one, if any).
    """
    conn = current()
    if _direct(conn):
        async with in_transaction() as tx:  # inside an ORM transaction: a savepoint of it
            return [await run(tx, text, params) for text, params in statements]
    return await batch.batcher(conn).submit_group(statements)


class _Unit:
    """The writes a unit still has to see committed, and what runs once they have."""

    def __init__(self) -> None:
        self.pending: list[asyncio.Future] = []
        self.then: list[Callable[[], None]] = []
        self.open = True


_unit: ContextVar[_Unit | None] = ContextVar("orderbot_sql_unit", default=None)


@asynccontextmanager
async def unit() -> AsyncIterator[None]:
    """A piece of work (one message) whose ``soon`` writes must have committed when it ends."""
    work = _Unit()
    token = _unit.set(work)
    try:
        yield
    except BaseException:
        for f in work.pending:  # the work failed anyway; what it wrote still commits
            f.add_done_callback(_seen)
        raise
    else:
        for f in work.pending:
            await f  # raises if the write failed: the work fails as if it had awaited it
        for then in work.then:
            then()
    finally:
        work.open = False  # tasks started inside (and so sharing the context) now write directly
        _unit.reset(token)


async def soon(text: str, params: Sequence[Any]) -> None:
    """A write that must commit before the current ``unit`` ends, but that its caller need not wait for.

    On SQLite inside a unit it joins the next batch and the caller goes on; the unit's
    later statements (the conversation's release) then share that batch. Elsewhere it is
    simply run.
    """
    work, conn = _unit.get(), current()
    if work is None or not work.open or _direct(conn):
        await execute(text, params)
        return
    work.pending.append(batch.batcher(conn).submit(text, params))


def after_commit(then: Callable[[], None]) -> None:
    """Call ``then`` once the current unit's writes have committed (at once outside a unit)."""
    work = _unit.get()
    if work is None or not work.open:
        then()
    else:
        work.then.append(then)


def _seen(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


# ---------------------------------------------------------------- rows as models
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


def as_datetime(value: Any) -> datetime | None:
    """A datetime as the driver returns it (SQLite: ISO text)."""
    return value if value is None or isinstance(value, datetime) else datetime.fromisoformat(value)


async def ping() -> None:
    """One round trip to the database; raises when it is unreachable."""
    await current().execute_query("SELECT 1")


# The server's lifetime: what is queued is written before the database closes.
flush, close, waited = batch.flush, batch.close, batch.waited
