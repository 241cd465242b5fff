"""Every message the bot sends to Telegram goes through one sender, which keeps Telegram's limits.

Telegram allows about one message a second per chat, twenty a minute per group and thirty
a second overall (``[telegram] rate_limit_per_second``), and answers 429 with
``retry_after`` past them. Each chat has its own queue (replies before notifications, then
in order); chats take turns in the order of their first waiting message, and a chat that
must still wait holds up nobody else. A chat's gap runs from the moment Telegram has
answered its last message, not from when that was sent: a slow call (a new connection, a
retry) must not bring two messages closer together where Telegram counts them. A 429
pauses all sending for as long as Telegram asks, and the message goes again.
"""
from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import warnings
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from adapters.base import split_text
from models.messages import Delivery, Reply

log = logging.getLogger(__name__)

REPLY, NOTICE = 0, 1  # priorities: a person waiting for an answer goes first
MAX_TEXT = 4096
MAX_CALLBACK = 64
PER_CHAT = 1.0  # seconds between messages to one private chat
PER_GROUP = 3.0  # 20 a minute
IN_FLIGHT = 64
# Answers finished in one turn of the event loop claim their slots microseconds apart; a claim
# may come this much before its slot (the pace over any longer time stays ``rate``).
GRACE = 0.001
# Paced a little under ``rate``: messages sent evenly still reach Telegram with network jitter,
# and two of them bunched into one second would make it 31 of 30.
PACE = 0.95
PRUNE_AT = 10_000  # chats remembered for their gap before the ones long free are forgotten


@dataclass(order=True)
class _Item:
    priority: int
    seq: int
    chat_id: str = field(compare=False)
    text: str = field(compare=False)
    markup: InlineKeyboardMarkup | None = field(compare=False)
    future: asyncio.Future = field(compare=False)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """Buttons whose data fits Telegram's 64 bytes become callback buttons; a link a URL button."""
    rows = [[InlineKeyboardButton(b.label, callback_data=b.data)] for b in reply.buttons
            if len(b.data.encode()) <= MAX_CALLBACK]
    if reply.link:
        rows.append([InlineKeyboardButton("🔗", url=reply.link)])
    return InlineKeyboardMarkup(rows) if rows else None


def keyboard_json(reply: Reply) -> dict[str, Any] | None:
    """``keyboard(reply).to_dict()`` without building PTB's objects (the webhook answer's JSON)."""
    rows: list[list[dict[str, str]]] = [[{"callback_data": b.data, "text": b.label}] for b in reply.buttons
                                        if len(b.data.encode()) <= MAX_CALLBACK]
    if reply.link:
        rows.append([{"text": "🔗", "url": reply.link}])
    return {"inline_keyboard": rows} if rows else None


def _retry_after(e: RetryAfter) -> float:
    """Seconds to wait (PTB is moving ``retry_after`` from int to timedelta; take either)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = e.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    """Sends through ``bot`` at no more than ``rate`` messages a second, per-chat limits kept."""

    def __init__(self, bot: Bot, rate: float) -> None:
        self.bot = bot
        self.spacing = 1.0 / (rate * PACE)
        self._chats: dict[str, list[_Item]] = {}  # chat -> its waiting items (a heap)
        self._turns: list[tuple[int, int, str]] = []  # chats that may send now, by their head item
        self._later: list[tuple[float, str]] = []  # chats that must wait, by when they may send
        self._free_at: dict[str, float] = {}  # chat -> when it may be written to again
        self._scheduled: set[str] = set()
        self._busy: set[str] = set()  # chats with a message on its way: their gap starts when it arrives
        self._seq = itertools.count()
        self._next_any = 0.0
        self._paused_until = 0.0
        self._wake = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self._sending: set[asyncio.Task] = set()

    def claim_now(self, chat_id: str, reply: Reply) -> bool:
        """Take the limiter's slot for ``reply`` to go out right now by another road (the answer
        to a webhook call); False when it would break a limit or overtake a waiting message."""
        loop_now = asyncio.get_running_loop().time()
        if len(reply.text) > MAX_TEXT or chat_id in self._chats or chat_id in self._busy:
            return False
        if max(self._paused_until, self._free_at.get(chat_id, 0.0)) > loop_now or self._next_any > loop_now + GRACE:
            return False
        self._next_any = max(self._next_any, loop_now) + self.spacing
        self._gap(chat_id, loop_now)
        return True

    def _gap(self, chat_id: str, now: float) -> None:
        """``chat_id`` was just written to: it waits its gap (the record of chats long free is pruned)."""
        if len(self._free_at) >= PRUNE_AT:
            self._free_at = {c: t for c, t in self._free_at.items() if t > now}
        self._free_at[chat_id] = now + (PER_GROUP if chat_id.startswith("-") else PER_CHAT)

    async def send(self, chat_id: str, reply: Reply, priority: int = REPLY) -> Delivery:
        """Queue ``reply`` (split when longer than Telegram takes); the first failure, else the last piece."""
        pieces = split_text(reply.text or " ", MAX_TEXT)
        loop = asyncio.get_running_loop()
        items = [_Item(priority, next(self._seq), chat_id, piece,
                       keyboard(reply) if i == len(pieces) - 1 else None, loop.create_future())
                 for i, piece in enumerate(pieces)]
        for item in items:
            self._push(item)
        outcomes = await asyncio.gather(*(i.future for i in items))
        return next((d for d in outcomes if not d.ok), outcomes[-1])

    def _push(self, item: _Item) -> None:
        queue = self._chats.setdefault(item.chat_id, [])
        heapq.heappush(queue, item)
        self._schedule(item.chat_id, asyncio.get_running_loop().time(), fresh=queue[0] is item)
        self._wake.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())

    def _schedule(self, chat_id: str, now: float, *, fresh: bool = False) -> None:
        """Put a chat with waiting items in line: now, or when its gap has passed."""
        if chat_id in self._busy or (chat_id in self._scheduled and not fresh):
            return  # a busy chat is scheduled when its message in flight has arrived
        head = self._chats[chat_id][0]
        free_at = self._free_at.get(chat_id, 0.0)
        if free_at <= now:
            heapq.heappush(self._turns, (head.priority, head.seq, chat_id))
        elif chat_id not in self._scheduled:
            heapq.heappush(self._later, (free_at, chat_id))
        self._scheduled.add(chat_id)

    def _next(self, now: float) -> _Item | None:
        while self._later and self._later[0][0] <= now:
            _, chat_id = heapq.heappop(self._later)
            head = self._chats[chat_id][0]
            heapq.heappush(self._turns, (head.priority, head.seq, chat_id))
        while self._turns:
            priority, seq, chat_id = heapq.heappop(self._turns)
            queue = self._chats.get(chat_id)
            if not queue or (queue[0].priority, queue[0].seq) != (priority, seq):
                continue  # a stale turn: a reply has overtaken that chat's head since
            if chat_id in self._busy or self._free_at.get(chat_id, 0.0) > now:
                continue  # a stale turn of a chat that has sent since and waits its gap in _later
            item = heapq.heappop(queue)
            self._scheduled.discard(chat_id)
            self._busy.add(chat_id)
            if not queue:
                del self._chats[chat_id]
            return item
        return None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._chats:
            now = loop.time()
            hold = max(self._paused_until, self._next_any) - now
            if hold > 0:
                await asyncio.sleep(hold)
                continue
            item = self._next(now)
            if item is None:
                self._wake.clear()
                wait = self._later[0][0] - now if self._later else 1.0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.001))
                continue
            self._next_any = now + self.spacing
            await self._in_flight.acquire()
            task = loop.create_task(self._deliver(item))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _deliver(self, item: _Item) -> None:
        try:
            message = await self.bot.send_message(chat_id=item.chat_id, text=item.text, reply_markup=item.markup)
            item.future.set_result(Delivery.sent(str(message.message_id)))
        except RetryAfter as e:
            wait = _retry_after(e)
            log.warning("Telegram asked us to wait %.0f s (429); the message goes again after that", wait)
            self._paused_until = max(self._paused_until, asyncio.get_running_loop().time() + wait)
            self._push(item)
        except (Forbidden, ChatMigrated) as e:
            item.future.set_result(Delivery.failed(f"telegram: {e}", retryable=False, unreachable=True))
        except BadRequest as e:
            item.future.set_result(Delivery.failed(f"telegram: {e}", retryable=False))
        except (TimedOut, NetworkError, TelegramError) as e:
            item.future.set_result(Delivery.failed(f"telegram: {e}", retryable=True))
        finally:
            self._in_flight.release()
            self._arrived(item.chat_id)

    def _arrived(self, chat_id: str) -> None:
        """Telegram has answered for ``chat_id``: its gap starts now, then its next message may go."""
        now = asyncio.get_running_loop().time()
        self._busy.discard(chat_id)
        self._gap(chat_id, now)
        if chat_id in self._chats:
            self._schedule(chat_id, now)
            self._wake.set()

    async def close(self) -> None:
        """Stop sending; what still waits fails as retryable (a notice will be tried again)."""
        if self._worker is not None:
            self._worker.cancel()
        for queue in self._chats.values():
            for item in queue:
                if not item.future.done():
                    item.future.set_result(Delivery.failed("shutting down", retryable=True))
        self._chats.clear()
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=5)
