"""Conversation state as database rows, one at a time per conversation.

Two quick messages from one chat must not race each other through the code check, and
they may land on two processes. So a message is handled holding the conversation's row:
a lease (owner, until) taken with one conditional upsert, waited for when someone else
holds it, and given up when the handler is done. Inside one process an asyncio lock per
conversation saves the polling.
"""
from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from models import store
from models.schedule import utcnow

LEASE = timedelta(seconds=30)
WAIT_STEP = 0.05


class SessionBusy(Exception):
    """Another process has held this conversation for longer than we wait."""


@dataclass
class Session:
    """What a conversation remembers between messages; changes are saved when the lease ends."""

    key: str
    data: dict[str, Any] = field(default_factory=dict)
    locked_until: datetime | None = None


class Sessions:
    """Hands out conversations one holder at a time, across processes."""

    def __init__(self, clock: Callable[[], datetime] = utcnow, wait_seconds: float = 20.0) -> None:
        self.clock = clock
        self.wait_seconds = wait_seconds
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[Session]:
        """The conversation ``key``, held until the block ends; its data saved if the block succeeds."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                session = await self._lease(key)
                ok = False
                try:
                    yield session
                    ok = True
                finally:
                    await self._release(session, save=ok)
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    async def _lease(self, key: str) -> Session:
        deadline = asyncio.get_running_loop().time() + self.wait_seconds
        while True:
            now = self.clock()
            # One statement whether or not the row exists: a new conversation's row is made
            # already held; an existing one is taken when its lease is free, ran out or is ours.
            rows = await store.execute(
                "INSERT INTO conversation_states (session_key, data, lease_owner, lease_until, version, updated_at) "
                "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (session_key) DO UPDATE SET "
                "lease_owner = excluded.lease_owner, lease_until = excluded.lease_until "
                "WHERE conversation_states.lease_until IS NULL OR conversation_states.lease_until < ? "
                "OR conversation_states.lease_owner = ? RETURNING data, locked_until",
                [key, "{}", self.owner, now + LEASE, now, now, self.owner])
            if rows:
                data = rows[0]["data"]
                return Session(key, orjson.loads(data) if isinstance(data, (str, bytes)) else dict(data or {}),
                               _dt(rows[0]["locked_until"]))
            if asyncio.get_running_loop().time() > deadline:
                raise SessionBusy(key)
            await asyncio.sleep(WAIT_STEP)  # someone else holds it: their message goes first

    async def _release(self, session: Session, *, save: bool) -> None:
        if save:
            await store.execute(
                "UPDATE conversation_states SET lease_owner = NULL, lease_until = NULL, data = ?, locked_until = ?, "
                "version = version + 1, updated_at = ? WHERE session_key = ? AND lease_owner = ?",
                [orjson.dumps(session.data).decode(), session.locked_until, self.clock(), session.key, self.owner])
        else:
            await store.execute("UPDATE conversation_states SET lease_owner = NULL, lease_until = NULL "
                                "WHERE session_key = ? AND lease_owner = ?", [session.key, self.owner])


def _dt(value: Any) -> datetime | None:
    return value if value is None or isinstance(value, datetime) else datetime.fromisoformat(value)
