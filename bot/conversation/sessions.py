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

from models import chats
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
            held = await chats.take_state(key, self.owner, now + LEASE, now)
            if held is not None:
                return Session(key, *held)
            if asyncio.get_running_loop().time() > deadline:
                raise SessionBusy(key)
            await asyncio.sleep(WAIT_STEP)  # someone else holds it: their message goes first

    async def _release(self, session: Session, *, save: bool) -> None:
        if save:
            await chats.give_state_back(session.key, self.owner, self.clock(), data=session.data,
                                        locked_until=session.locked_until)
        else:
            await chats.give_state_back(session.key, self.owner, self.clock())
