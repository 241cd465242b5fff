"""Tortoise's SQLite backend, with transactions that take the write lock when they begin.

SQLite's plain ``BEGIN`` waits for the first write to take the write lock. The service has
two connections to the file (the ORM's, and the one ``models.batch`` commits the
conversation's statements on), and in WAL mode a transaction that has read something and
only then writes fails at once (SQLITE_BUSY_SNAPSHOT, "database is locked", no waiting)
when the other connection committed in between. ``BEGIN IMMEDIATE`` takes the write lock
first, waiting for the other connection like any writer; the batch, finding the file
locked, waits its turn on the ORM's thread (``models.batch``).

Configured by ``bot.db.tortoise_config`` as the engine of every ``sqlite://`` URL.
"""
from __future__ import annotations

import sqlite3

from tortoise.backends.base.client import TransactionContext
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionContext, SqliteTransactionWrapper
from tortoise.exceptions import OperationalError, TransactionManagementError


def is_busy(e: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock (the extended codes, BUSY_SNAPSHOT..., included)."""
    return e.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class _ImmediateTransaction(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if is_busy(e):
                raise OperationalError(e) from e  # locked for longer than the busy timeout
            raise TransactionManagementError(e) from e


class Client(SqliteClient):
    """The ORM's SQLite client; only how a transaction begins differs."""

    def _in_transaction(self) -> TransactionContext:
        return SqliteTransactionContext(_ImmediateTransaction(self), self._lock)


client_class = Client
