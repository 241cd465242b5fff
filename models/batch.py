"""Group commit for the conversation's small statements on SQLite: one batch, one transaction.

SQLite is one connection served by aiosqlite's thread. Every statement is a trip there
and back (a queue, a thread switch, a wake-up of the event loop), and every write outside
a transaction is a commit of its own. An update through the conversation makes about ten
such statements; with many updates in flight the trips, not the database, set the pace.

So the statements of every coroutine in flight go through a ``GroupCommit`` (``models.group``),
and whatever is waiting runs in one go, inside one transaction. The batch runs on the event
loop itself, on a second connection of our own that never waits for a lock: a batch of small
statements on a local file takes less than the trip to the thread and back. When another
connection holds the write lock (an ORM transaction on aiosqlite's thread, or another
process), that batch goes to aiosqlite's thread instead and waits there. Every
CHECKPOINT_EVERY batches the next one waits while a worker thread copies the WAL into the
file, so that the WAL can start over. ORM transactions begin IMMEDIATE (``models/sqlite.py``):
with two connections, one that read before a batch committed could otherwise not write
afterwards.

Each caller hears after its batch's transaction has committed: what it wrote is as
durable as an autocommit write would have been, only the commit is shared. A statement
that fails (a unique key, say) fails alone, as in autocommit; if SQLite rolled the whole
transaction back, every statement of it fails. Statements that must hold together (a
``None`` text with a list of statements) run inside a savepoint and fail together.

Callers use ``models.sql``, which sends statements here only on SQLite outside a transaction.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import weakref
from collections.abc import Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError, OperationalError

from models.group import GroupCommit
from models.sqlite import is_busy

Statement = tuple[str | None, Sequence[Any]]  # a text and its parameters; None: a group (a list of statements)
CHECKPOINT_EVERY = 64  # batches between checkpoints (SQLite's own default: about every 1,000 pages written)
MAX_BATCH = 256  # statements per trip: a bound on how long one trip holds the connection

log = logging.getLogger(__name__)
_batchers: weakref.WeakKeyDictionary[BaseDBAsyncClient, Batcher] = weakref.WeakKeyDictionary()


class Batcher:
    """Runs the statements queued on one SQLite client, as many as are waiting per trip."""

    def __init__(self, client: BaseDBAsyncClient) -> None:
        self.client = client
        self.group: GroupCommit[Statement] = GroupCommit(self._write, max_batch=MAX_BATCH, after=self._after)
        self._own: sqlite3.Connection | None = None
        self._own_tried = False
        self._written = 0  # batches committed on our own connection
        self._checkpoint_due = False
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
                # the event loop: a worker thread runs it between batches (see _after).
                own.execute("PRAGMA wal_autocheckpoint=0")
                self._own = own
        return self._own

    async def _after(self) -> None:
        """Every CHECKPOINT_EVERY batches: copy the WAL into the database file, in a worker thread,
        while no batch runs.

        A checkpoint racing the batches (as SQLite's own, or one on another thread) copies
        what was there when it began, never all of it by the time the next batch begins, so
        the WAL is never started over and grows without end under a steady load (see
        bench/README.md). The next batch waits for it instead; the event loop does not: the
        copy and its disk syncs run in the thread. PASSIVE: it waits for nobody (an ORM
        transaction or another process goes on writing meanwhile).
        """
        if not self._checkpoint_due:
            return
        self._checkpoint_due = False
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
        return self.group.submit((text, params))

    def submit_group(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> asyncio.Future:
        """Queue statements that hold together or not at all; the future gets each one's rows."""
        return self.submit(None, list(statements))

    async def flush(self) -> None:
        await self.group.flush()

    async def _write(self, statements: list[Statement]) -> list[Any]:
        try:
            outcomes = await self._run(statements)
        except sqlite3.Error as e:  # the whole batch failed: the error Tortoise would have raised
            raise _translated(e) from e
        return [_translated(o) if isinstance(o, Exception) else o for o in outcomes]

    async def _run(self, statements: list[Statement]) -> list[Any]:
        outcomes = _run_here(self.own(), statements)
        if outcomes is not None:
            self._written += 1
            self._checkpoint_due = self._written % CHECKPOINT_EVERY == 0
        else:  # locked by another connection: wait for it on the thread
            self.waited += 1
            # The client's lock: an ORM transaction on that connection is never split by a batch.
            async with self.client.acquire_connection() as conn:
                # aiosqlite's own way to run a function in its thread (what execute() uses).
                outcomes = await conn._execute(_run, conn._conn, statements)
        return outcomes


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


def batcher(conn: BaseDBAsyncClient) -> Batcher:
    """The batcher of one SQLite client (made on first use)."""
    found = _batchers.get(conn)
    if found is None:
        found = _batchers[conn] = Batcher(conn)
    return found


async def close(client: BaseDBAsyncClient) -> None:
    """The database behind ``client`` is closing: write what is queued, close our own connection."""
    found = _batchers.pop(client, None)
    if found is not None:
        await found.flush()
        found.close()


def waited() -> int:
    """How many batches so far found the file locked by another connection (an ORM transaction,
    another process) and waited for it on aiosqlite's thread: conversations held up meanwhile."""
    return sum(b.waited for b in _batchers.values())


async def flush() -> None:
    """Wait for every batch started so far to be written (the server calls this before closing)."""
    for found in list(_batchers.values()):
        await found.flush()
