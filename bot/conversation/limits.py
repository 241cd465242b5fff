"""Rate limits kept in the database, so they hold across processes.

A limit counts hits of a key (a chat, an order, a source address) in fixed windows with
one upsert per hit (on SQLite it shares its trip to the database with the other statements
in flight, see ``models.batch``). Old windows are swept now and then.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from models import access, chats
from models.schedule import utcnow

SWEEP_EVERY = 300  # seconds


@dataclass(frozen=True)
class Limit:
    """At most ``hits`` per ``seconds`` for each subject."""

    name: str
    hits: int
    seconds: int


PER_CHAT = Limit("chat", 30, 60)  # messages of one chat
PER_SOURCE = Limit("source", 60, 60)  # messages from one network address (web chat)
# Only people who may not see an order yet are counted below: its customer's chats and the
# staff never spend these, so strangers cannot use them up for them.
STRANGERS_PER_ORDER = Limit("order", 30, 600)  # strangers' lookups of one order number
LOOKUPS_PER_STRANGER = Limit("lookups", 20, 600)  # one stranger's lookups (per address, else per chat)
CODES_PER_ASKER = Limit("codes-asker", 3, 3600)  # code mails one chat may have sent for one order
CODES_PER_ORDER = Limit("codes", 10, 3600)  # code mails for one order, whoever asks

# Wrong codes over a rolling day, across every chat and channel; past them codes stop until reopened.
GUESS_WINDOW = timedelta(hours=24)
GUESS_BUDGET = {"order": 10, "customer": 20}

# A stranger's lookup and code check take at least this long, so that the time an answer
# takes does not tell a real order from a made-up one (the real one mails a code).
STRANGER_FLOOR = 0.05  # seconds


class RateLimiter:
    """Counts hits; ``allow`` says whether this one is still within its limit."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock
        self._swept = 0.0

    async def allow(self, limit: Limit, subject: str) -> bool:
        now = self.clock().timestamp()
        window = int(now // limit.seconds) * limit.seconds
        count = await chats.count_hit(f"{limit.name}:{subject}", window)
        if now - self._swept > SWEEP_EVERY:
            self._swept = now
            await chats.sweep_counters(math.floor(now) - 86400)
            await access.sweep_wrong_codes(self.clock() - GUESS_WINDOW)
        return count <= limit.hits
