"""Bearer API keys for the integration API.

Keys are stored as SHA-256 hashes. A verified key is remembered for a few seconds so that
a busy ERP does not cost a key lookup per request; a revoked key therefore stops working
within ``CACHE_SECONDS`` in every process.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from adapters.base import HttpError
from models.apikeys import ApiKey, hash_key
from models.schedule import utcnow

CACHE_SECONDS = 5.0
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the API key's id and name (the default actor of their changes)."""

    key_id: int
    name: str
    scopes: frozenset[str] = frozenset({"admin"})

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


class KeyChecker:
    """Checks ``Authorization: Bearer <key>`` headers against the stored hashes."""

    def __init__(self, cache_seconds: float = CACHE_SECONDS) -> None:
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}

    def _refuse(self, message: str) -> HttpError:
        return HttpError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="orderbot"'})

    async def principal(self, request: web.Request) -> Principal:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if not header:
            raise self._refuse("an API key is required: send `Authorization: Bearer <key>`")
        if scheme.lower() != "bearer" or not key.strip():
            raise self._refuse("the Authorization header must be `Bearer <key>`")
        digest = hash_key(key.strip())
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        row = await ApiKey.filter(key_hash=digest, revoked_at__isnull=True).first()
        if row is None:
            self._cache.pop(digest, None)
            raise self._refuse("this API key is not valid (wrong, or revoked)")
        if row.last_used_at is None or utcnow() - row.last_used_at > TOUCH_EVERY:
            await ApiKey.filter(id=row.id).update(last_used_at=utcnow())
        who = Principal(row.id, row.name, frozenset(row.scopes.split()))
        self._cache[digest] = (now + self.cache_seconds, who)
        return who
