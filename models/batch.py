"""Group commit for the conversation's small statements on SQLite: one batch, one transaction.

SQLite is one connection served by aiosqlite's thread. Every statement is a trip there
and back (a queue, a thread switch, a wake-up of the event loop), and every write outside
a transaction is a commit of its own. An update through the conversation makes about ten
such statements; with many updates in flight the trips, not the database, set the pace.

So statements from all the coroutines in flight are queued here, and one task runs
whatever is waiting in one go, inside one transaction (the way ``models.writer`` groups
node events). The batch runs on the event loop itself, on a second connection of our own
that never waits for a lock: a batch of small statements on a local file takes a fraction
of a millisecond, less than the trip to the thread and back, and the two threads no longer
trade the GIL on every statement (bench/inbound.py: about 40 % less CPU per update). When
another connection holds the write lock (an ORM transaction on aiosqlite's thread, or
another process), that batch goes to aiosqlite's thread instead and waits there, as before.
Every CHECKPOINT_EVERY batches the next one waits while a worker thread copies the WAL into
the file, so that the WAL can start over (see ``_checkpoint``). ORM transactions begin
IMMEDIATE (``models/sqlite.py``): with two connections, one that read before a batch
committed could otherwise not write afterwards.

Each caller hears after its batch's transaction has committed: what it wrote is as
durable as an autocommit write would have been, only the commit is shared. A statement
that fails (a unique key, say) fails alone, as in autocommit; if SQLite rolled the whole
transaction back, every statement of it fails. Independent statements of one caller,
started together (``asyncio.gather``), share a batch. Statements that must hold together
(``atomic``) run inside a savepoint of the batch's transaction and fail together.

PostgreSQL has a pool and real concurrency, and statements inside an ORM transaction
must stay on that transaction's connection: both run each statement directly.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import re
import sqlite3
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from models.sqlite import is_busy

CHECKPOINT_EVERY = 64  # batches between checkpoints (SQLite's own default: about every 1,000 pages written)
MAX_BATCH = 256  # statements per trip: a bound on how long one trip holds the connection

log = logging.getLogger(__name__)
_batchers: weakref.WeakKeyDictionary[BaseDBAsyncClient, Batcher] = weakref.WeakKeyDictionary()


def sql(conn: BaseDBAsyncClient, text: str) -> str:
    """``?`` placeholders as the connection's driver wants them (asyncpg: ``$1``, ``$2``...)."""
    if conn.capabilities.dialect != "postgres":
        return text
    counter = iter(range(1, text.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(counter)}", text)


def _direct(conn: BaseDBAsyncClient) -> bool:
    """True where statements run one by one: PostgreSQL, or inside an ORM transaction."""
    return conn.capabilities.dialect != "sqlite" or isinstance(conn, TransactionalDBClient)


class Batcher:
    """Runs the statements queued on one SQLite client, as many as are waiting per trip."""

    def __init__(self, client: BaseDBAsyncClient) -> None:
        self.client = client
        self._queue: list[tuple[str, Sequence[Any], asyncio.Future]] = []
        self._task: asyncio.Task | None = None
        self._own: sqlite3.Connection | None = None
        self._own_tried = False
        self._written = 0  # batches committed on our own connection
        self.waited = 0  # batches that found the file locked by another connection and waited on the thread

    def own(self) -> sqlite3.Connection | None:
        """The connection batches run on in the event loop; None for an in-memory database, and
        where every commit waits for the disk (``synchronous=FULL``): those run on the thread.

        ``timeout=0``: a busy database is reported at once instead of blocking the loop.
        It gets the pragmas the ORM's connection got (WAL itself is kept by the file).
        """
        if not self._own_tried:
            self._own_tried = True
            path = getattr(self.client, "filename", ":memory:")
            pragmas = getattr(self.client, "pragmas", {})
            # synchronous=FULL syncs the disk at every commit: that wait belongs on the thread.
            syncs = str(pragmas.get("synchronous", "")).upper() in ("FULL", "EXTRA", "2", "3")
            if path != ":memory:" and "mode=memory" not in path and not syncs:
                own = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
                own.row_factory = sqlite3.Row
                for pragma, value in pragmas.items():
                    if pragma != "journal_mode":
                        own.execute(f"PRAGMA {pragma}={value}")
                # A checkpoint (copying the WAL into the file, with an fsync) is no work for
                # the event loop: _drain has a worker thread run it (see _checkpoint).
                own.execute("PRAGMA wal_autocheckpoint=0")
                self._own = own
        return self._own

    async def _checkpoint(self) -> None:
        """Copy the WAL into the database file, in a worker thread, while no batch runs.

        A checkpoint racing the batches (as SQLite's own, or one on another thread) copies
        what was there when it began, never all of it by the time the next batch begins, so
        the WAL is never started over: under a steady load it grew without end (250 MB in
        20 s of bench/inbound.py), and every write landed on new, cold pages of the file. The
        batches wait for it instead (a few milliseconds every CHECKPOINT_EVERY batches); the
        event loop does not: the copy and its disk syncs run in the thread. PASSIVE: it waits
        for nobody (an ORM transaction or another process goes on writing meanwhile).
        """
        own = self._own
        try:
            await asyncio.to_thread(lambda: own.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall())
        except sqlite3.Error as e:  # the next one will do; the WAL only grows meanwhile
            log.warning("database: WAL checkpoint failed: %s", e)

    def close(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None

    def submit(self, text: str | None, params: Sequence[Any]) -> asyncio.Future:
        """Queue one statement; the future gets its rows (dicts) once the batch has committed."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((text, params, future))
        if self._task is None or self._task.done():
            # Started now, it runs after the coroutines already woken, so those get to queue theirs too.
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return future

    def submit_group(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> asyncio.Future:
        """Queue statements that hold together or not at all; the future gets each one's rows."""
        return self.submit(None, list(statements))

    async def flush(self) -> None:
        """Wait until everything queued so far has been written (at shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            statements = [(s, p) for s, p, _ in batch]
            checkpoint = False
            try:
                outcomes = _run_here(self.own(), statements)
                if outcomes is not None:
                    self._written += 1
                    checkpoint = self._written % CHECKPOINT_EVERY == 0
                else:  # locked by another connection: wait for it on the thread
                    self.waited += 1
                    # The client's lock: an ORM transaction on that connection is never split by a batch.
                    async with self.client.acquire_connection() as conn:
                        # aiosqlite's own way to run a function in its thread (what execute() uses).
                        outcomes = await conn._execute(_run, conn._conn, statements)
            except Exception as e:  # noqa: BLE001 - the whole batch failed: each caller hears it
                outcomes = [e] * len(batch)
            except BaseException:  # cancelled (the loop is closing): nobody may wait for ever
                self._abandon(batch)
                raise
            for (_, _, future), outcome in zip(batch, outcomes):
                if future.done():
                    continue  # its caller was cancelled
                if isinstance(outcome, Exception):
                    future.set_exception(_translated(outcome))
                else:
                    future.set_result(outcome)
            if checkpoint:  # this batch's callers go on; the next batch waits for it
                try:
                    await self._checkpoint()
                except BaseException:
                    self._abandon([])
                    raise

    def _abandon(self, batch: list[tuple[str | None, Sequence[Any], asyncio.Future]]) -> None:
        """The batches stop (the loop is closing): whoever waits hears so."""
        for _, _, future in batch + self._queue:
            if not future.done():
                future.set_exception(OperationalError("the database batch was cancelled"))
        self._queue = []


def _run_here(own: sqlite3.Connection | None, statements: list[tuple[str, Sequence[Any]]]) -> list[Any] | None:
    """On the event loop: ``_run`` on our own connection; None when the database was busy.

    Busy means another connection holds the write lock (SQLite says so at BEGIN IMMEDIATE,
    at once, since this connection never waits). ``_run`` has rolled back whatever it had
    begun, so nothing of the batch holds and it can run again elsewhere.
    """
    if own is None:
        return None
    try:
        return _run(own, statements)
    except sqlite3.OperationalError as e:
        if is_busy(e):
            return None
        raise


def _run(raw: sqlite3.Connection, statements: list[tuple[str | None, Sequence[Any]]]) -> list[Any]:
    """The statements in one transaction; each one's rows or error (a group's: a list of rows, or
    the error that undid it)."""
    writes = not all(s is not None and _reads(s) for s, _ in statements)
    # IMMEDIATE takes the write lock up front (waiting busy_timeout for another process),
    # instead of failing at the first write after a read.
    raw.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
    outcomes: list[Any] = []
    try:
        for text, params in statements:
            try:
                if text is None:
                    outcomes.append(_group(raw, params))
                else:
                    outcomes.append([dict(r) for r in raw.execute(text, params).fetchall()])
            except sqlite3.Error as e:
                if not raw.in_transaction:
                    raise  # SQLite gave up the whole transaction: nothing of it holds
                outcomes.append(e)  # only this statement (or group) was undone
        raw.execute("COMMIT")
    except BaseException:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise
    return outcomes


def _group(raw: sqlite3.Connection, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
    """Statements inside a savepoint of the batch's transaction: all of them hold, or none."""
    raw.execute("SAVEPOINT orderbot_group")
    try:
        rows = [[dict(r) for r in raw.execute(text, params).fetchall()] for text, params in statements]
    except sqlite3.Error:
        if raw.in_transaction:
            raw.execute("ROLLBACK TO orderbot_group")
            raw.execute("RELEASE orderbot_group")
        raise
    raw.execute("RELEASE orderbot_group")
    return rows


@functools.lru_cache(maxsize=512)
def _reads(text: str) -> bool:
    """A plain SELECT; anything else may write, and takes the write lock when its batch begins."""
    return text.lstrip()[:6].upper() == "SELECT"


def _translated(e: Exception) -> Exception:
    """The errors Tortoise would have raised for the same statement."""
    if isinstance(e, sqlite3.IntegrityError):
        return IntegrityError(e)
    if isinstance(e, sqlite3.OperationalError):
        return OperationalError(e)
    return e


def _batcher(conn: BaseDBAsyncClient) -> Batcher:
    batcher = _batchers.get(conn)
    if batcher is None:
        batcher = _batchers[conn] = Batcher(conn)
    return batcher


async def execute_all(statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[dict[str, Any]]]:
    """Run statements (``?`` placeholders) in this order; the rows of each.

    On SQLite outside a transaction they all join the next batch, so they cost one trip
    between them; elsewhere they run one after the other on the current connection.
    """
    conn = connections.get("default")
    if _direct(conn):
        return [await conn.execute_query_dict(sql(conn, text), list(params)) for text, params in statements]
    batcher = _batcher(conn)
    futures = [batcher.submit(text, params) for text, params in statements]
    try:
        return [await f for f in futures]
    finally:
        for f in futures:  # one failed: the others' outcomes are not wanted (and must not be reported)
            if f.done() and not f.cancelled():
                f.exception()


async def atomic(statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[dict[str, Any]]]:
    """Run statements (``?`` placeholders) that hold together or not at all; the rows of each.

    For writes made apart from any conversation (a scan's marks and its notices): on SQLite
    they join the next batch inside a savepoint, so they take one trip and never hold the
    write lock while the event loop runs other work, as an ORM transaction does from its
    first statement to its commit; conversations meanwhile keep committing. Elsewhere they
    run in a transaction of their own (a savepoint of the current one, if any).
    """
    conn = connections.get("default")
    if _direct(conn):
        async with in_transaction() as tx:  # inside an ORM transaction: a savepoint of it
            return [await tx.execute_query_dict(sql(tx, text), list(params)) for text, params in statements]
    return await _batcher(conn).submit_group(statements)


class _Unit:
    """The writes a unit still has to see committed; closed once the unit has ended."""

    def __init__(self) -> None:
        self.pending: list[asyncio.Future] = []
        self.open = True


_unit: ContextVar[_Unit | None] = ContextVar("orderbot_batch_unit", default=None)


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
    finally:
        work.open = False  # tasks started inside (and so sharing the context) now write directly
        _unit.reset(token)


async def soon(text: str, params: Sequence[Any]) -> None:
    """A write that must commit before the current ``unit`` ends, but that its caller need not wait for.

    On SQLite inside a unit it joins the next batch and the caller goes on; the unit's
    later statements (the conversation's release) then share that batch. Elsewhere it is
    simply run.
    """
    work, conn = _unit.get(), connections.get("default")
    if work is None or not work.open or _direct(conn):
        await execute_all([(text, params)])
        return
    work.pending.append(_batcher(conn).submit(text, params))


def _seen(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


async def close(client: BaseDBAsyncClient) -> None:
    """The database behind ``client`` is closing: write what is queued, close our own connection."""
    batcher = _batchers.pop(client, None)
    if batcher is not None:
        await batcher.flush()
        batcher.close()


def waited() -> int:
    """How many batches so far found the file locked by another connection (an ORM transaction,
    another process) and waited for it on aiosqlite's thread: conversations held up meanwhile."""
    return sum(b.waited for b in _batchers.values())


async def flush() -> None:
    """Wait for every batch started so far to be written (the server calls this before closing)."""
    for batcher in list(_batchers.values()):
        await batcher.flush()
