"""Node events are applied in small batches, one transaction per batch (group commit).

An ERP pushing events one by one costs a transaction each; on SQLite those transactions
take turns, and each statement is a trip to the database thread. Events that arrive while
a batch is being written wait for the next one, which takes them all (at most one per
order, so an order's events still apply in the order they came) with a fixed handful of
statements however many there are. A single event is a batch of one.

Each event still succeeds or fails on its own: refusals (unknown order, workflow
violation, conflict) are answered per event; if the batch itself fails (a hook raising,
say), its events are tried again one at a time so only the culprit fails.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from models import store
from models.changes import Change, EventResult
from models.errors import Conflict, EngineError, NotFound, WorkflowViolation
from models.inputs import EventIn

if TYPE_CHECKING:
    from models.engine import ProgressEngine

log = logging.getLogger(__name__)
MAX_BATCH = 64


@dataclass
class Pending:
    """One submitted event and the future its caller awaits."""

    order_no: str
    ev: EventIn
    source: str
    actor: str | None
    future: asyncio.Future
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        self.fingerprint = self.ev.fingerprint()


class EventWriter:
    """Takes events from any number of callers and writes them in batches, in one task."""

    def __init__(self, engine: ProgressEngine, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: deque[Pending] = deque()
        self._task: asyncio.Task | None = None

    async def submit(self, order_no: str, ev: EventIn, source: str, actor: str | None) -> EventResult:
        item = Pending(order_no, ev, source, actor, asyncio.get_running_loop().create_future())
        self._queue.append(item)
        if self._task is None or self._task.done():
            # The writer runs while there is work and ends when the queue is empty.
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await item.future

    def _take(self) -> list[Pending]:
        """The next batch: queue order, one event per order, the rest left for later."""
        batch: list[Pending] = []
        seen: set[str] = set()
        kept: deque[Pending] = deque()
        while self._queue and len(batch) < self.max_batch:
            item = self._queue.popleft()
            (kept if item.order_no in seen else batch).append(item)
            seen.add(item.order_no)
        self._queue.extendleft(reversed(kept))
        return batch

    async def _drain(self) -> None:
        while self._queue:
            batch = self._take()
            try:
                await self._write(batch)
            except Exception as e:  # noqa: BLE001 - handed to the callers, one by one
                if len(batch) == 1:
                    _settle(batch[0], error=e)
                else:
                    log.warning("a batch of %d events failed (%s); writing them one by one", len(batch), e)
                    for item in batch:
                        try:
                            await self._write([item])
                        except Exception as one:  # noqa: BLE001
                            _settle(item, error=one)

    async def _write(self, batch: list[Pending]) -> None:
        """One transaction for the whole batch; callers hear only after it commits."""
        outcomes: dict[int, EventResult | EngineError] = {}
        async with in_transaction() as conn:
            orders = await store.lock_orders(conn, [p.order_no for p in batch])
            now = self.engine.clock()
            fresh: list[tuple[Pending, store.OrderState, store.EventRecord]] = []
            suspects: list[tuple[Pending, store.OrderState]] = []
            for p in batch:
                order = orders.get(p.order_no)
                if order is None:
                    outcomes[id(p)] = NotFound(f"no order {p.order_no}")
                    continue
                try:
                    fresh.append((p, order, self.engine.event_record(order, p.ev, p.source, p.actor,
                                                                     p.fingerprint, now)))
                except WorkflowViolation as e:
                    outcomes[id(p)] = e
                    suspects.append((p, order))  # a replay of an event that moved the order on?
                except EngineError as e:
                    outcomes[id(p)] = e
            ids = await store.insert_events(conn, [(o.id, rec) for _, o, rec in fresh]) if fresh else {}
            written: list[tuple[Pending, store.OrderState, store.EventRecord]] = []
            for p, order, rec in fresh:
                if order.id in ids:
                    written.append((p, order, replace(rec, id=ids[order.id])))
                else:
                    suspects.append((p, order))  # the unique key refused it: a replay
            if suspects:
                earlier = await store.find_events(conn, [(o.id, p.ev.event_id) for p, o in suspects])
                for p, order in suspects:
                    found = earlier.get((order.id, p.ev.event_id))
                    if found is not None:
                        outcomes[id(p)] = _replay(found, p, order)
            changes: list[Change] = []
            moved: list[store.OrderState] = []
            for p, order, rec in written:
                state, change = self.engine.after_event(order, rec, p.ev)
                moved.append(state)
                changes.append(change)
                outcomes[id(p)] = EventResult(rec, replayed=False)
            if moved:
                await store.move_orders(conn, moved, now)
                await self.engine.emit(changes, conn)
        for p in batch:
            outcome = outcomes[id(p)]
            if isinstance(outcome, Exception):
                _settle(p, error=outcome)
            else:
                _settle(p, result=outcome)


def _replay(earlier: store.EventRecord, p: Pending, order: store.OrderState) -> EventResult | EngineError:
    if earlier.fingerprint != p.fingerprint:
        return Conflict(f"event_id {p.ev.event_id!r} was already used for a different event on order "
                        f"{order.order_no}")
    return EventResult(earlier, replayed=True)


def _settle(p: Pending, *, result: EventResult | None = None, error: BaseException | None = None) -> None:
    if p.future.done():
        return
    if error is not None:
        p.future.set_exception(error)
    else:
        p.future.set_result(result)
