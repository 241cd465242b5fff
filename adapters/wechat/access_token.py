"""WeChat's access token, shared by every process through the database.

A forced refresh invalidates the token every other process holds, and WeChat limits how
often one may fetch, so one process at a time refreshes (a lease in the database) and
the others wait a moment and read what it stored. A token is renewed 5 minutes before it
runs out (in those minutes WeChat already hands out the next one); a token WeChat refused
is renewed at once, unless another process has stored a newer one meanwhile.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from models import leases, platforms
from models.schedule import utcnow

log = logging.getLogger(__name__)

EARLY = timedelta(minutes=5)  # renew this long before the token runs out
STILL_GOOD = timedelta(seconds=30)  # an old token this far from its end may be used while another renews it
LEASE_SECONDS = 30
WAIT_SECONDS = 15.0
POLL_SECONDS = 0.2

Fetch = Callable[[bool], Awaitable[tuple[str, int]]]  # force_refresh → (token, seconds it lives)


class TokenUnavailable(Exception):
    """No token could be had in time (another process holds the refresh and stays silent)."""


class SharedToken:
    """One platform token: read from the database, renewed by one process at a time."""

    def __init__(self, name: str, fetch: Fetch, *, owner: str = leases.OWNER,
                 wait_seconds: float = WAIT_SECONDS) -> None:
        self.name, self.lease = name, f"refresh:{name}"
        self.fetch, self.owner, self.wait_seconds = fetch, owner, wait_seconds
        # The lease is per process; this lock keeps the coroutines of one process from refreshing twice.
        self._lock = asyncio.Lock()

    async def get(self, *, refused: str | None = None) -> str:
        """A token to call the API with; ``refused`` is one WeChat just rejected (never handed out again)."""
        fresh, _ = await self._stored(refused)
        if fresh:
            return fresh
        async with self._lock:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.wait_seconds
            while True:
                fresh, usable = await self._stored(refused)
                if fresh:
                    return fresh
                if await leases.take(self.lease, LEASE_SECONDS, owner=self.owner):
                    try:
                        fresh, _ = await self._stored(refused)  # renewed by another just before we took it?
                        return fresh or await self._renew(force=refused is not None)
                    finally:
                        await leases.give_back(self.lease, owner=self.owner)
                if usable:
                    return usable  # someone else is renewing it; the old one still works meanwhile
                if loop.time() > deadline:
                    raise TokenUnavailable("another process is renewing the WeChat access token and has not "
                                           f"finished within {self.wait_seconds:.0f} s")
                await asyncio.sleep(POLL_SECONDS)

    async def _stored(self, refused: str | None) -> tuple[str | None, str | None]:
        """(a token that needs no renewal, a token that still works), from the database."""
        row = await platforms.stored_token(self.name)
        if row is None or row.value == refused:
            return None, None
        now = utcnow()
        if row.expires_at - EARLY > now:
            return row.value, row.value
        return None, row.value if row.expires_at - STILL_GOOD > now else None

    async def _renew(self, *, force: bool) -> str:
        value, lifetime = await self.fetch(force)
        expires_at = utcnow() + timedelta(seconds=lifetime)
        await platforms.store_token(self.name, value, expires_at)
        log.info("wechat: access token renewed%s; it lives %d s", " (forced)" if force else "", lifetime)
        return value
