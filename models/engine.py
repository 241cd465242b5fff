"""The progress engine: every change to an order goes through here, in a transaction.

Inside that transaction, after the change is written, the engine calls its change hooks
with the transaction's changes and connection (node events that arrive together share a
transaction, see ``models.writer``). That is where the notification outbox
rows are written (``notifications``), so a change and the notices it causes commit or
roll back together. Hooks are registered explicitly by the application (``bot/app.py``).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import audit, orders, people, schedule
from models.changes import PAUSED, Change, ChangeHook, EventResult, ExceptionResult
from models.errors import Conflict, InvalidInput, NotFound, WorkflowViolation
from models.inputs import AckIn, EventIn, ExceptionIn, OrderIn, OrderPatch, ResolveIn
from models.numbers import OrderNumberPolicy
from models.orders import EventRecord, Order, OrderCommercial, OrderException, OrderState
from models.people import Customer
from models.workflows import Node, Workflow, WorkflowSet
from models.writer import EventWriter

log = logging.getLogger(__name__)
MAX_FUTURE = timedelta(days=1)


class ProgressEngine:
    """Creates orders, applies node events, opens and closes exceptions."""

    def __init__(
        self,
        workflows: WorkflowSet,
        numbers: OrderNumberPolicy,
        tz: ZoneInfo,
        *,
        clock: Callable[[], datetime] = schedule.utcnow,
    ) -> None:
        self.workflows = workflows
        self.numbers = numbers
        self.tz = tz
        self.clock = clock
        self._hooks: list[ChangeHook] = []
        self._writer = EventWriter(self)

    def add_hook(self, hook: ChangeHook) -> None:
        """Call ``hook`` inside the transaction of every change, after the change is written."""
        self._hooks.append(hook)

    @contextmanager
    def hooks_paused(self) -> Iterator[None]:
        """Changes made inside (by this task, tasks it starts and events it submits) write nothing else:
        importing history, where the past notifies nobody, while the rest of the process goes on as ever."""
        token = PAUSED.set(True)
        try:
            yield
        finally:
            PAUSED.reset(token)

    @property
    def emitting(self) -> bool:
        """Whether changes made now reach any hook (none is registered, or they are paused)."""
        return bool(self._hooks) and not PAUSED.get()

    async def emit(self, changes: list[Change], conn: BaseDBAsyncClient, *, paused: bool | None = None) -> None:
        """Hand the changes of one transaction to every hook, inside that transaction (unless ``paused``,
        by default: unless this task is in ``hooks_paused``)."""
        if PAUSED.get() if paused is None else paused:
            return
        for hook in self._hooks:
            await hook(changes, conn)

    # ------------------------------------------------------------ lookups and helpers
    def normalize(self, raw: str) -> str:
        return self.numbers.normalize(raw)

    def workflow_of(self, order: Order | OrderState) -> Workflow:
        wf = self.workflows.get(order.workflow)
        if wf is None:
            raise WorkflowViolation(f"order {order.order_no} uses workflow {order.workflow!r}, "
                                    "which the workflows file no longer has",
                                    reason="workflow_gone", order_no=order.order_no, workflow=order.workflow)
        return wf

    def current_node(self, order: Order | OrderState, key: str | None = None) -> Node | None:
        """The node the order stands at (or node ``key`` of its workflow); None for a node or
        workflow the workflows file no longer has."""
        wf = self.workflows.get(order.workflow)
        key = key or order.current_node
        return wf.node(key) if wf is not None and wf.has(key) else None

    def department_of(self, order: Order | OrderState, key: str | None = None) -> str | None:
        """The department owning the order's current node (or node ``key``)."""
        node = self.current_node(order, key)
        return node.department if node else None

    def node_name(self, order: Order | OrderState, locale: str, key: str | None = None) -> str:
        """The current node's (or node ``key``'s) name in ``locale``; its key when the workflow lacks it."""
        node = self.current_node(order, key)
        return node.name(locale) if node else (key or order.current_node)

    async def get_order(self, raw_no: str, *, for_update: bool = False) -> Order:
        """The order with this number (in any written form); NotFound otherwise."""
        no = self.normalize(raw_no)
        if len(no) > orders.ORDER_NO_MAX:
            raise NotFound(f"no order {no[:orders.ORDER_NO_MAX]}…", reason="unknown_order",
                           order_no=no[:orders.ORDER_NO_MAX] + "…")
        if for_update:
            await orders.lock_orders(connections.get("default"), [no])
        order = await Order.filter(order_no=no).first()
        if order is None:
            raise NotFound(f"no order {no}", reason="unknown_order", order_no=no)
        return order

    def _when(self, at: datetime | None, field_name: str = "at") -> datetime:
        now = self.clock()
        if at is None:
            return now
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.tz)
        if at > now + MAX_FUTURE:
            raise InvalidInput(f"{field_name} is more than a day in the future", field=field_name,
                               reason="in_future")
        return at.astimezone(timezone.utc)  # stored in UTC, so that times compare as text too

    def eta(self, order: Order, now: datetime | None = None) -> datetime | None:
        wf = self.workflows.get(order.workflow)
        return schedule.eta(wf, order.current_node, order.node_entered_at, now or self.clock()) if wf else None

    def is_late(self, order: Order, now: datetime | None = None) -> bool:
        wf = self.workflows.get(order.workflow)
        return bool(wf) and schedule.is_late(wf, order.current_node, order.promised_date,
                                             now or self.clock(), self.tz)

    def node_overdue(self, order: Order, now: datetime | None = None) -> bool:
        wf = self.workflows.get(order.workflow)
        return bool(wf) and schedule.node_overdue(wf, order.current_node, order.node_entered_at,
                                                  now or self.clock())

    def today(self) -> date:
        return self.clock().astimezone(self.tz).date()

    # ------------------------------------------------------------ orders
    def _checked(self, new: OrderIn) -> tuple[OrderIn, Workflow]:
        """``new`` with its number normalized, and its workflow; a refusal of a bad number or workflow."""
        no = self.normalize(new.order_no)
        if len(no) > orders.ORDER_NO_MAX:
            raise InvalidInput(f"order_no has {len(no)} characters once normalized; at most {orders.ORDER_NO_MAX}",
                               field="order_no", reason="order_no_too_long", most=orders.ORDER_NO_MAX)
        if not self.numbers.is_valid(no):
            raise InvalidInput(f"order_no {no!r} does not match the configured number pattern "
                               f"{self.numbers.pattern.pattern}", field="order_no", reason="order_no_pattern",
                               order_no=no)
        wf = self.workflows.get(new.workflow)
        if wf is None:
            raise InvalidInput(f"unknown workflow {new.workflow!r} (known: {', '.join(self.workflows.workflows)})",
                               field="workflow", reason="unknown_workflow", workflow=new.workflow)
        return new.model_copy(update={"order_no": no}), wf

    async def create_order(self, new: OrderIn, *, source: str = "api", actor: str | None = None
                           ) -> tuple[Order, bool]:
        """Create an order at its workflow's first node. Returns (order, created).

        The same number again with the same data answers the existing order; with other
        data it is a Conflict.
        """
        new, wf = self._checked(new)
        no = new.order_no
        fingerprint = new.fingerprint()
        placed_at = self._when(new.placed_at, "placed_at")
        for attempt in (1, 2):
            try:
                async with in_transaction() as conn:
                    existing = await Order.filter(order_no=no).first()
                    if existing is not None:
                        if existing.fingerprint != fingerprint:
                            raise Conflict(f"order {no} exists with different data", reason="order_exists",
                                           order_no=no)
                        return existing, False
                    order = await self._insert_order(new, wf, placed_at, fingerprint)
                    event = self._created(order.current_node, placed_at, actor, source, fingerprint)
                    ids = await orders.insert_events(conn, [(order.id, event)])
                    event = replace(event, id=ids[order.id, event.event_id])
                    await self.emit([Change("order_created", OrderState.of(order), placed_at, actor, source,
                                            event=event)], conn)
                    return order, True
            except IntegrityError:
                if attempt == 2:
                    raise
                # Another request created the same number between our read and insert; read again.
        raise AssertionError("unreachable")

    def _created(self, node: str, at: datetime, actor: str | None, source: str, fingerprint: str) -> EventRecord:
        return EventRecord(0, "created", "create", node, None, [], at, actor, source, None, {}, fingerprint,
                           self.clock())

    async def create_orders(self, news: Sequence[OrderIn], *, source: str, actor: str | None = None
                            ) -> list[OrderState]:
        """Create many new orders in the caller's transaction, a few statements in all rather than a
        few per order (an imported ledger's). Every number must be new: one that exists fails them
        all (IntegrityError), and the caller then creates them one by one with ``create_order``."""
        checked = [self._checked(new) for new in news]
        conn = connections.get("default")
        customers = await people.customers_for([new.customer for new, _ in checked])
        rows = []
        for (new, wf), customer_id in zip(checked, customers):
            placed_at = self._when(new.placed_at, "placed_at")
            rows.append(orders.NewOrder(new, customer_id, wf.key, wf.first.key, placed_at,
                                        schedule.eta(wf, wf.first.key, placed_at, self.clock()), new.fingerprint()))
        states = await orders.insert_orders(conn, rows, self.clock())
        created = [(s.id, self._created(s.current_node, s.node_entered_at, actor, source, r.fingerprint))
                   for s, r in zip(states, rows)]
        ids = await orders.insert_events(conn, created)
        await self.emit([Change("order_created", s, s.node_entered_at, actor, source,
                                event=replace(ev, id=ids[s.id, ev.event_id])) for s, (_, ev) in zip(states, created)],
                        conn)
        return states

    async def _insert_order(self, new: OrderIn, wf: Workflow, placed_at: datetime, fingerprint: str) -> Order:
        [customer_id] = await people.customers_for([new.customer])
        first = wf.first.key
        order = await Order.create(
            order_no=new.order_no, workflow=wf.key, customer_id=customer_id, sales_owner=new.sales_owner,
            promised_date=new.promised_date, current_node=first, node_entered_at=placed_at,
            eta=schedule.eta(wf, first, placed_at, self.clock()), ship_to=new.ship_to,
            items=[i.model_dump(mode="json", exclude={"unit_price"}, exclude_none=True) for i in new.items],
            fingerprint=fingerprint, placed_at=placed_at,
        )
        prices = [i.model_dump(mode="json", include={"sku", "name", "unit_price"}, exclude_none=True)
                  for i in new.items if i.unit_price is not None]
        await OrderCommercial.create(order=order, amount=new.amount, currency=new.currency,
                                     unit_prices=prices or None, cost=new.cost, supplier=new.supplier)
        return order

    async def update_order(self, raw_no: str, patch: OrderPatch, *, source: str = "api",
                           actor: str | None = None) -> Order:
        """Change promised date, sales owner, customer contact or ship-to, in one transaction."""
        given = patch.given()
        async with in_transaction() as conn:
            order = await self.get_order(raw_no, for_update=True)
            customer = await order.customer
            changes: dict[str, tuple[Any, Any]] = {}
            for key, value in given.items():
                target, attr = (customer, key.split(".", 1)[1]) if key.startswith("customer.") else (order, key)
                if attr == "email" and value:
                    value = value.lower()
                if attr == "name" and value is None:
                    raise InvalidInput("customer.name cannot be cleared", field="customer.name",
                                       reason="name_required")
                if attr == "locale" and value is None:
                    continue
                if getattr(target, attr) != value:
                    changes[key] = (getattr(target, attr), value)
            contact = {k.split(".", 1)[1]: new for k, (_, new) in changes.items() if k.startswith("customer.")}
            if contact and not patch.apply_to_customer \
                    and await Order.filter(customer_id=customer.id).exclude(id=order.id).exists():
                # This order's contact changes, not that of the customer's other orders: it gets a record of its own.
                customer = await Customer.create(**{"name": customer.name, "email": customer.email,
                                                    "phone": customer.phone, "locale": customer.locale, **contact})
                order.customer_id = customer.id
            elif contact:
                for attr, value in contact.items():
                    setattr(customer, attr, value)
                await customer.save()
            for key, (_, value) in changes.items():
                if not key.startswith("customer."):
                    setattr(order, key, value)
            if changes:
                previous_eta = order.eta
                order.eta = self.eta(order)
                order.version += 1
                await order.save()
                await audit.changed(order.order_no, changes, actor=actor, source=source, at=self.clock(),
                                    scope="customer" if patch.apply_to_customer else "order")
                await self.emit([Change("order_updated", OrderState.of(order), self.clock(), actor, source,
                                        previous_eta=previous_eta, changes=changes)], conn)
            return order

    # ------------------------------------------------------------ node events
    async def apply_event(self, raw_no: str, ev: EventIn, *, source: str = "api",
                          default_actor: str | None = None) -> EventResult:
        """Move an order to ``ev.node``; idempotent on ``ev.event_id``.

        Concurrent events are written in batches (``models.writer``); each is answered on
        its own: the stored event, a replay of it, or the refusal.
        """
        return await self._writer.submit(self.normalize(raw_no), ev, source, default_actor)

    async def record_history(self, histories: Sequence[tuple[str, Sequence[EventIn]]], *, source: str,
                             default_actor: str | None = None) -> int:
        """Apply each order's events, in order, in one transaction (the caller's, if it has one): an
        imported ledger's dates. Events already stored (same ``event_id``) are passed over; any
        refusal undoes them all. How many were new."""
        nos = [self.normalize(no) for no, _ in histories]
        async with in_transaction() as conn:
            found = await orders.lock_orders(conn, nos)
            if missing := [no for no in nos if no not in found]:
                raise NotFound(f"no order {missing[0]}", reason="unknown_order", order_no=missing[0])
            known = await orders.find_events(conn, [(found[no].id, ev.event_id)
                                                    for no, (_, events) in zip(nos, histories) for ev in events])
            now, emitting = self.clock(), self.emitting
            records: list[tuple[int, EventRecord]] = []
            changes: list[Change] = []
            moved: list[OrderState] = []
            for no, (_, events) in zip(nos, histories):
                state = start = found[no]
                for ev in events:
                    if (state.id, ev.event_id) in known:
                        continue
                    ev = self.resolved(state, ev)
                    record = self.event_record(state, ev, source, default_actor, ev.fingerprint(), now)
                    records.append((state.id, record))
                    # The ETA of each step only matters to those told of it; else only the last one is kept.
                    state, change = self.after_event(state, record, ev, eta=emitting)
                    if emitting:
                        changes.append(change)
                if state is not start:
                    wf = self.workflow_of(state)
                    moved.append(state if emitting else state.moved(
                        eta=schedule.eta(wf, state.current_node, state.node_entered_at, self.clock())))
            if not records:
                return 0
            ids = await orders.insert_events(conn, records)
            await orders.move_orders(conn, moved, now)
            if emitting:
                await self.emit([replace(c, event=replace(c.event, id=ids[c.order.id, c.event.event_id]))
                                 for c in changes], conn)
            return len(records)

    def resolved(self, order: OrderState, ev: EventIn) -> EventIn:
        """``ev`` with its node as the key, when it names the node by its Chinese or English name."""
        wf = self.workflows.get(order.workflow)
        if wf is None or wf.has(ev.node) or (node := wf.find(ev.node)) is None:
            return ev
        return ev.model_copy(update={"node": node.key})

    def event_record(self, order: OrderState, ev: EventIn, source: str, default_actor: str | None,
                     fingerprint: str, now: datetime) -> EventRecord:
        """The event to store for ``ev`` on ``order``; a refusal when its workflow does not allow it."""
        kind, skipped = self._transition(self.workflow_of(order), order, ev)
        note = ev.reason if kind == "rework" and not ev.note else ev.note
        return EventRecord(0, ev.event_id, kind, ev.node, order.current_node, skipped, self._when(ev.at),
                           ev.actor or default_actor, source, note, ev.data.model_dump(exclude_none=True),
                           fingerprint, now)

    def after_event(self, order: OrderState, event: EventRecord, ev: EventIn, *, eta: bool = True
                    ) -> tuple[OrderState, Change]:
        """The order after ``event`` (node, shipment, ETA unless not wanted, version) and the change to announce."""
        node, entered = order.current_node, order.node_entered_at
        if event.kind != "update":
            node, entered = event.node, event.at
        tracking, carrier = order.tracking_no, order.carrier
        if ev.data.tracking_no:
            tracking, carrier = self.normalize(ev.data.tracking_no), ev.data.carrier or carrier
        moved = order.moved(current_node=node, node_entered_at=entered, tracking_no=tracking, carrier=carrier,
                            eta=schedule.eta(self.workflow_of(order), node, entered, self.clock()) if eta
                            else order.eta, version=order.version + 1)
        kind = {"advance": "node_entered", "rework": "rework", "update": "node_updated"}[event.kind]
        return moved, Change(kind, moved, event.at, event.actor, event.source, event=event,
                             previous_node=order.current_node, previous_eta=order.eta)

    def moves(self, order: Order | OrderState) -> tuple[list[Node], list[Node]]:
        """The nodes ``order`` may go forward to (the next, or past skippable ones) and back to (rework),
        by the very rules ``apply_event`` enforces; both empty when its workflow or node is gone."""
        wf = self.workflows.get(order.workflow)
        if wf is None:
            return [], []
        state = order if isinstance(order, OrderState) else OrderState.of(order)
        forward, back, why = [], [], "trying"  # a rework's reason only has to be there
        for node in wf.nodes:
            for rework, into in ((False, forward), (True, back)):
                try:
                    kind, _ = self._transition(wf, state, EventIn(event_id="moves", node=node.key, rework=rework,
                                                                  reason=why if rework else None))
                except WorkflowViolation:
                    continue
                if kind != "update":
                    into.append(node)
        return forward, back

    @staticmethod
    def _transition(wf: Workflow, order: OrderState, ev: EventIn) -> tuple[str, list[str]]:
        """The kind of move (advance, rework, update) and the nodes it skips; or a violation."""
        if not wf.has(ev.node):
            raise WorkflowViolation(f"workflow {wf.key!r} has no node {ev.node!r} (nodes, by key or name: "
                                    f"{', '.join(f'{n.key} {n.name_zh}' for n in wf.nodes)})", field="node",
                                    reason="unknown_node", word=ev.node, nodes=[n.key for n in wf.nodes])
        if not wf.has(order.current_node):
            raise WorkflowViolation(f"order {order.order_no} stands at {order.current_node!r}, "
                                    f"which workflow {wf.key!r} no longer has",
                                    reason="node_gone", order_no=order.order_no, at=order.current_node)
        here, there = wf.index(order.current_node), wf.index(ev.node)
        if ev.rework:
            if there >= here:
                raise WorkflowViolation(f"rework moves an order back; {order.order_no} is at "
                                        f"{order.current_node!r}, not past {ev.node!r}", field="rework",
                                        reason="rework_not_back", order_no=order.order_no, at=order.current_node,
                                        to=ev.node)
            if not ev.reason:
                raise WorkflowViolation("rework needs a reason", field="reason", reason="rework_needs_reason")
            return "rework", []
        if there == here:
            return "update", []
        if there < here:
            raise WorkflowViolation(f"order {order.order_no} is already at {order.current_node!r}; going back "
                                    f"to {ev.node!r} is only allowed as rework with a reason", field="node",
                                    reason="already_at", order_no=order.order_no, at=order.current_node, to=ev.node)
        blocked = [n.key for n in wf.between(order.current_node, ev.node) if not n.skippable]
        if blocked:
            raise WorkflowViolation(f"order {order.order_no} is at {order.current_node!r} and cannot skip "
                                    f"{', '.join(blocked)} to reach {ev.node!r}", field="node",
                                    reason="not_skippable", order_no=order.order_no, at=order.current_node,
                                    to=ev.node, skipped=blocked)
        return "advance", [n.key for n in wf.between(order.current_node, ev.node)]

    # ------------------------------------------------------------ exceptions
    async def open_exception(self, raw_no: str, new: ExceptionIn, *, source: str = "api",
                             default_actor: str | None = None) -> ExceptionResult:
        """Open an exception on the order; idempotent on ``new.exception_id`` when it has one.

        The same id with the same content answers the stored exception and writes nothing (so
        nobody is told twice); with other content it is a Conflict.
        """
        if new.kind not in self.workflows.exception_kinds:
            raise InvalidInput(f"unknown exception kind {new.kind!r} "
                               f"(known: {', '.join(self.workflows.exception_kinds)})", field="kind",
                               reason="unknown_kind", word=new.kind, kinds=list(self.workflows.exception_kinds))
        fingerprint = new.fingerprint()
        async with in_transaction() as conn:
            # The order's lock also makes two tries of one exception_id take turns: the second sees the first.
            order = await self.get_order(raw_no, for_update=True)
            if new.exception_id is not None:
                earlier = await OrderException.filter(order_id=order.id, exception_id=new.exception_id).first()
                if earlier is not None:
                    if earlier.fingerprint != fingerprint:
                        raise Conflict(f"exception_id {new.exception_id!r} was already used for a different "
                                       f"exception on order {order.order_no}", field="exception_id")
                    return ExceptionResult(earlier, replayed=True)
            now, actor = self._when(new.at), new.actor or default_actor
            exc = await OrderException.create(order=order, kind=new.kind, severity=new.severity,
                                              node=order.current_node, note=new.note, source=source,
                                              opened_by=actor, opened_at=now, exception_id=new.exception_id,
                                              fingerprint=fingerprint)
            change = Change("exception_opened", OrderState.of(order), now, actor, source, exception=exc)
            await self.emit([change], conn)
            return ExceptionResult(exc, replayed=False)

    async def _exception_for_update(self, raw_no: str, exc_id: int) -> tuple[Order, OrderException]:
        order = await self.get_order(raw_no, for_update=True)
        exc = await OrderException.filter(id=exc_id, order_id=order.id).first()
        if exc is None:
            raise NotFound(f"order {order.order_no} has no exception {exc_id}", reason="unknown_exception",
                           order_no=order.order_no, id=exc_id)
        return order, exc

    async def acknowledge_exception(self, raw_no: str, exc_id: int, body: AckIn, *, source: str = "api",
                                    default_actor: str | None = None) -> OrderException:
        """Someone has it. Acknowledging twice, or a resolved exception, changes nothing."""
        async with in_transaction() as conn:
            order, exc = await self._exception_for_update(raw_no, exc_id)
            if exc.status != "open":
                return exc
            now, actor = self._when(body.at), body.actor or default_actor
            exc.status, exc.acknowledged_by, exc.acknowledged_at = "acknowledged", actor, now
            await exc.save()
            change = Change("exception_acknowledged", OrderState.of(order), now, actor, source, exception=exc)
            await self.emit([change], conn)
            return exc

    async def resolve_exception(self, raw_no: str, exc_id: int, body: ResolveIn, *, source: str = "api",
                                default_actor: str | None = None) -> OrderException:
        """Close an exception. Resolving it again changes nothing."""
        async with in_transaction() as conn:
            order, exc = await self._exception_for_update(raw_no, exc_id)
            if exc.status == "resolved":
                return exc
            now, actor = self._when(body.at), body.actor or default_actor
            exc.status, exc.resolved_by, exc.resolved_at = "resolved", actor, now
            exc.resolution, exc.resolution_note = body.resolution, body.note
            await exc.save()
            change = Change("exception_resolved", OrderState.of(order), now, actor, source, exception=exc)
            await self.emit([change], conn)
            return exc
