"""Node events are applied in small batches, one transaction per batch (group commit).

An ERP pushing events one by one costs a transaction each; on SQLite those transactions
take turns, and each statement is a trip to the database thread. Events that arrive while
a batch is being written wait for the next one (``models.group``), which takes them all (at
most one per order, so an order's events still apply in the order they came) with a fixed
handful of statements however many there are. A single event is a batch of one.

Each event still succeeds or fails on its own: refusals (unknown order, workflow
violation, conflict) are answered per event; if the batch itself fails (a hook raising,
say), its events are tried again one at a time so only the culprit fails.

The writer knows the engine only as ``Moves``: what an event does to an order is the
engine's to say, how events are written together is the writer's.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from models import orders
from models.changes import PAUSED, Change, EventResult
from models.errors import Conflict, EngineError, NotFound, WorkflowViolation
from models.group import GroupCommit
from models.inputs import EventIn
from models.orders import EventRecord, OrderState
from models.sql import Connection, transaction

log = logging.getLogger(__name__)
MAX_BATCH = 64


class Moves(Protocol):
    """What the writer needs of the engine."""

    clock: Callable[[], datetime]

    def resolved(self, order: OrderState, ev: EventIn) -> EventIn: ...

    def event_record(self, order: OrderState, ev: EventIn, source: str, default_actor: str | None,
                     fingerprint: str, now: datetime) -> EventRecord: ...

    def after_event(self, order: OrderState, event: EventRecord, ev: EventIn) -> tuple[OrderState, Change]: ...

    async def emit(self, changes: list[Change], conn: Connection, *, paused: bool | None = None) -> None: ...


@dataclass
class Pending:
    """One submitted event."""

    order_no: str
    ev: EventIn
    source: str
    actor: str | None
    fingerprint: str = field(init=False)
    paused: bool = field(init=False)  # submitted from a task in hooks_paused: its change reaches no hook

    def __post_init__(self) -> None:
        self.fingerprint = self.ev.fingerprint()
        self.paused = PAUSED.get()  # here, in the caller's task: the batch is written in the writer's


Outcome = EventResult | EngineError


class EventWriter:
    """Takes events from any number of callers and writes them in batches, in one task."""

    def __init__(self, moves: Moves, max_batch: int = MAX_BATCH) -> None:
        self.moves = moves
        self.group: GroupCommit[Pending] = GroupCommit(self._write_each, max_batch=max_batch,
                                                       key=lambda p: p.order_no)

    async def submit(self, order_no: str, ev: EventIn, source: str, actor: str | None) -> EventResult:
        return await self.group.submit(Pending(order_no, ev, source, actor))

    async def _write_each(self, batch: list[Pending]) -> Sequence[Outcome | Exception]:
        """The batch in one transaction; if that fails, each event alone, so only the culprit fails."""
        try:
            return await self._write(batch)
        except Exception as e:  # noqa: BLE001 - answered per event below
            if len(batch) == 1:
                return [e]
            log.warning("a batch of %d events failed (%s); writing them one by one", len(batch), e)
        outcomes: list[Outcome | Exception] = []
        for item in batch:
            try:
                outcomes += await self._write([item])
            except Exception as one:  # noqa: BLE001
                outcomes.append(one)
        return outcomes

    async def _write(self, batch: list[Pending]) -> list[Outcome]:
        """One transaction for the whole batch; callers hear only after it commits."""
        outcomes: dict[int, Outcome] = {}
        async with transaction() as conn:
            found = await orders.lock_orders(conn, [p.order_no for p in batch])
            now = self.moves.clock()
            fresh: list[tuple[Pending, OrderState, EventRecord]] = []
            suspects: list[tuple[Pending, OrderState]] = []
            for p in batch:
                order = found.get(p.order_no)
                if order is None:
                    outcomes[id(p)] = NotFound(f"no order {p.order_no}", reason="unknown_order",
                                                    order_no=p.order_no)
                    continue
                if (ev := self.moves.resolved(order, p.ev)) is not p.ev:
                    # A node named by its name is the same event as by its key: one fingerprint for both.
                    p.ev, p.fingerprint = ev, ev.fingerprint()
                try:
                    fresh.append((p, order, self.moves.event_record(order, p.ev, p.source, p.actor,
                                                                    p.fingerprint, now)))
                except WorkflowViolation as e:
                    outcomes[id(p)] = e
                    suspects.append((p, order))  # a replay of an event that moved the order on?
                except EngineError as e:
                    outcomes[id(p)] = e
            ids = await orders.insert_events(conn, [(o.id, rec) for _, o, rec in fresh]) if fresh else {}
            written: list[tuple[Pending, OrderState, EventRecord]] = []
            for p, order, rec in fresh:
                if (order.id, rec.event_id) in ids:
                    written.append((p, order, replace(rec, id=ids[order.id, rec.event_id])))
                else:
                    suspects.append((p, order))  # the unique key refused it: a replay
            if suspects:
                earlier = await orders.find_events(conn, [(o.id, p.ev.event_id) for p, o in suspects])
                for p, order in suspects:
                    if (before := earlier.get((order.id, p.ev.event_id))) is not None:
                        outcomes[id(p)] = _replay(before, p, order)
            changes: list[Change] = []
            moved: list[OrderState] = []
            for p, order, rec in written:
                state, change = self.moves.after_event(order, rec, p.ev)
                moved.append(state)
                if not p.paused:
                    changes.append(change)
                outcomes[id(p)] = EventResult(rec, replayed=False)
            if moved:
                await orders.move_orders(conn, moved, now)
                if changes:
                    await self.moves.emit(changes, conn, paused=False)
        return [outcomes[id(p)] for p in batch]


def _replay(earlier: EventRecord, p: Pending, order: OrderState) -> Outcome:
    if earlier.fingerprint != p.fingerprint:
        return Conflict(f"event_id {p.ev.event_id!r} was already used for a different event on order "
                        f"{order.order_no}", reason="event_reused", event_id=p.ev.event_id, order_no=order.order_no)
    return EventResult(earlier, replayed=True)
