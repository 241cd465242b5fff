"""Group commit on SQLite (models.batch): batches run on the event loop on a connection of
their own, and wait on aiosqlite's thread, not on the loop, while someone else writes."""
from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from conftest import PG_URL
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.db import database
from models import sql
from models.chats import InboundDedupe
from models.schedule import utcnow

sqlite_only = pytest.mark.skipif(bool(PG_URL), reason="SQLite only: PostgreSQL runs each statement directly")
INSERT = "INSERT INTO inbound_dedupe (channel, message_key, received_at) VALUES (?, ?, ?)"


def _insert(key: str) -> tuple[str, list]:
    return INSERT, ["test", key, utcnow()]


async def _ticks_while(work) -> tuple[object, int]:
    """Run ``work``; how many 10-ms ticks the event loop managed meanwhile."""
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        return await work, ticks
    finally:
        ticker.cancel()


async def test_what_a_batch_writes_the_orm_reads_and_the_other_way_round(db):
    await sql.execute(*_insert("a"))
    assert await InboundDedupe.filter(channel="test", message_key="a").exists()
    await InboundDedupe.create(channel="test", message_key="b")
    rows = await sql.execute("SELECT message_key FROM inbound_dedupe WHERE channel = ? ORDER BY message_key",
                               ["test"])
    assert [r["message_key"] for r in rows] == ["a", "b"]


async def test_a_failing_statement_fails_alone(db):
    await sql.execute(*_insert("x"))
    outcomes = await asyncio.gather(sql.execute(*_insert("x")), sql.execute(*_insert("y")),
                                    return_exceptions=True)
    assert isinstance(outcomes[0], IntegrityError) and outcomes[1] == []
    assert await InboundDedupe.filter(channel="test").count() == 2


async def test_statements_made_atomic_hold_together_or_not_at_all(db):
    from models import sql

    await sql.execute(*_insert("taken"))
    together = sql.atomic([_insert("first"), _insert("taken")])  # the second one is a duplicate
    alone = sql.execute(*_insert("beside"))  # in the same batch on SQLite
    outcomes = await asyncio.gather(together, alone, return_exceptions=True)
    assert isinstance(outcomes[0], IntegrityError) and outcomes[1] == []
    keys = await InboundDedupe.filter(channel="test").order_by("message_key").values_list("message_key", flat=True)
    assert keys == ["beside", "taken"], "the first statement of the failed group was undone with it"
    rows = await sql.atomic([_insert("a"), ("SELECT count(*) AS n FROM inbound_dedupe WHERE channel = ?", ["test"])])
    assert rows == [[], [{"n": 3}]], "a later statement of the group sees what an earlier one wrote"


@sqlite_only
async def test_a_batch_waits_for_an_orm_transaction_without_holding_up_the_loop(db):
    started, order = asyncio.Event(), []

    async def transaction() -> None:
        async with in_transaction():
            await InboundDedupe.create(channel="test", message_key="in-transaction")
            started.set()
            await asyncio.sleep(0.4)
            order.append("transaction committed")

    async def batched() -> None:
        await started.wait()
        await sql.execute(*_insert("batched"))
        order.append("batch committed")

    _, ticks = await _ticks_while(asyncio.gather(transaction(), batched()))
    assert order == ["transaction committed", "batch committed"]
    assert ticks >= 20, "the event loop ran on while the batch waited for the write lock"
    assert await InboundDedupe.filter(channel="test").count() == 2


@sqlite_only
async def test_a_batch_waits_for_another_process_without_holding_up_the_loop(settings, db):
    path = settings.database.url.removeprefix("sqlite://").split("?")[0]
    locked, release = threading.Event(), threading.Event()

    def other_process() -> None:  # another program writing to the same file
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(INSERT, ["test", "other", utcnow().isoformat()])
        locked.set()
        release.wait(5)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=other_process)
    thread.start()
    await asyncio.to_thread(locked.wait, 5)
    asyncio.get_running_loop().call_later(0.4, release.set)
    began = time.monotonic()
    _, ticks = await _ticks_while(sql.execute(*_insert("ours")))
    thread.join()
    assert time.monotonic() - began >= 0.35, "the write waited for the other writer"
    assert ticks >= 20, "the event loop ran on meanwhile"
    assert await InboundDedupe.filter(channel="test").count() == 2


@sqlite_only
async def test_closing_the_database_leaves_no_handle_on_its_file(tmp_path: Path):
    url = f"sqlite://{tmp_path / 'closing.db'}"
    async with database(url):
        from bot.db import apply_migrations

        await apply_migrations()
        await sql.execute(*_insert("a"))
    handles = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
               if os.path.exists(f"/proc/self/fd/{fd}")]
    assert not [h for h in handles if "closing.db" in h]


@sqlite_only
async def test_both_connections_keep_the_same_settings(db):
    """The batch's own connection enforces foreign keys and syncs like the ORM's; the WAL file is
    kept between checkpoints (64 MB) rather than cut to Tortoise's 16 KB."""
    from tortoise import connections

    from models import batch, sql

    orm = connections.get("default")
    own = batch.batcher(orm).own()
    for pragma in ("foreign_keys", "synchronous", "journal_size_limit"):
        ours = own.execute(f"PRAGMA {pragma}").fetchone()[0]
        assert (await orm.execute_query_dict(f"PRAGMA {pragma}"))[0][pragma] == ours, pragma
    assert own.execute("PRAGMA journal_size_limit").fetchone()[0] == 64 * 1024 * 1024
    assert own.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):  # an identity bound to a customer that does not exist
        await sql.execute("INSERT INTO identities (channel, external_id, customer_id, created_at) "
                            "VALUES (?, ?, ?, ?)", ["test", "1", 999_999, utcnow()])


@sqlite_only
async def test_an_orm_transaction_that_reads_first_can_still_write_while_batches_commit(db):
    """Two connections to one WAL file: a transaction that read before a batch committed must
    not then fail to write (SQLite's BUSY_SNAPSHOT); ORM transactions take the write lock first."""
    go = asyncio.Event()

    async def conversation_elsewhere() -> None:  # started outside the transaction: it batches
        await go.wait()
        await sql.execute(*_insert("batched"))

    elsewhere = asyncio.create_task(conversation_elsewhere())
    await asyncio.sleep(0)
    async with in_transaction():
        await InboundDedupe.filter(channel="test").count()  # a read first
        go.set()
        await asyncio.sleep(0.1)  # the batch tries to commit meanwhile
        await InboundDedupe.create(channel="test", message_key="orm")  # then a write
    await elsewhere
    assert await InboundDedupe.filter(channel="test").count() == 2


@sqlite_only
async def test_with_synchronous_full_commits_wait_for_the_disk_off_the_event_loop(tmp_path: Path):
    from tortoise import connections

    from bot.db import apply_migrations
    from models import batch, sql

    async with database(f"sqlite://{tmp_path / 'full.db'}?synchronous=FULL"):
        await apply_migrations()
        await sql.execute(*_insert("a"))
        assert batch.batcher(connections.get("default")).own() is None
        assert await InboundDedupe.filter(channel="test").count() == 1


@sqlite_only
async def test_the_wal_starts_over_under_a_steady_stream_of_batches(settings, db):
    """Checkpoints must catch up while conversations keep committing: else the WAL file grows
    without end (it grew to 250 MB in 20 s under bench/inbound.py) and every write lands on
    new, cold pages of it."""
    wal = Path(settings.database.url.removeprefix("sqlite://").split("?")[0] + "-wal")
    for i in range(3_000):
        await sql.execute(*_insert(f"m{i}"))  # one batch each: a conversation at a time
    assert await InboundDedupe.filter(channel="test").count() == 3_000
    assert wal.stat().st_size < 2 * 1024 * 1024, f"the WAL grew to {wal.stat().st_size:,} bytes"
