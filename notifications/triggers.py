"""Who hears of a change: the engine's hook that writes outbox rows in the change's transaction.

- a node entered that customers see and are told of → the customer's bound chats and the
  order's subscribers (staff following an order hear of every node it enters);
- the ETA moved by more than a day → the customer and the order's customer subscribers;
- an exception opened or resolved → staff subscribed to exceptions (all, the node's
  department or the node), staff following the order, and whoever answers for the order.

Late orders and escalations are found by ``notifications.scanner``; customer requests and
lock-outs are written by the conversation's handlers.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from models.changes import Change
from models.engine import ProgressEngine
from models.orders import OrderState
from models.outbox import Notice, write
from bot.conversation.policy import staff_may_see
from models.people import StaffMember
from models.recipients import (CUSTOMER, Answerers, Person, Recipient, Sub, people, staff_members, subscribers,
                               subscriptions)
from models.sql import Connection
from notifications.config import NotificationSettings

# May wait digest_seconds for company; a customer's messages to a person in a thread go out at once
# but join the same message when several are pending together.
DIGESTED = frozenset({"node_entered", "eta_changed", "late", "request_message"})
# Staff notices of these kinds to one person go out at most once per staff_digest_minutes, the rest
# together in the next message; exceptions opened and customers' requests go at once.
ROUNDUP = frozenset({"late", "overdue", "escalated"})
ETA_MOVES = frozenset({"node_entered", "node_updated", "rework", "order_updated"})
ETA_TOLERANCE = timedelta(days=1)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class Audiences:
    """The recipients of one batch of changes, read in a few statements."""

    def __init__(self, customers: dict[int, Person], subs: dict[Sub, Recipient],
                 members: dict[int, StaffMember]) -> None:
        self.customers, self.subs, self.members = customers, subs, members

    @classmethod
    async def load(cls, conn: Connection, orders: Sequence[OrderState], *, exceptions: bool = False
                   ) -> Audiences:
        customer_ids = [o.customer_id for o in orders]
        customers = await people(conn, CUSTOMER, customer_ids, bound_only=True)
        subs = await subscriptions(conn, order_ids=[o.id for o in orders], customer_ids=customer_ids,
                                   exceptions=exceptions)
        members = await staff_members(conn, [s.staff_id for s in subs if s.staff_id])
        return cls(customers, await subscribers(conn, subs), members)

    def _may_see(self, sub: Sub, order: OrderState) -> bool:
        """Staff hear of an order only if they may look it up (the view policy a lookup uses)."""
        member = self.members.get(sub.staff_id)
        return member is not None and staff_may_see(member, order.sales_owner)

    def customer_side(self, order: OrderState) -> list[Recipient]:
        """The customer (when bound) and customers subscribed to the order or to all their orders."""
        out = []
        person = self.customers.get(order.customer_id)
        if person is not None and (rec := person.recipient()):
            out.append(rec)
        for sub, rec in self.subs.items():
            if sub.staff_id is None and (sub.order_id == order.id or
                                         (sub.scope == "customer" and sub.customer_id == order.customer_id)):
                out.append(rec)
        return out

    def staff_following(self, order: OrderState) -> list[Recipient]:
        return [rec for sub, rec in self.subs.items()
                if sub.staff_id and sub.order_id == order.id and self._may_see(sub, order)]

    def exception_watchers(self, order: OrderState, node: str, department: str | None) -> list[Recipient]:
        """Staff subscribed to all exceptions, to this node's department, or to this node, who may see the order."""
        out = []
        for sub, rec in self.subs.items():
            if not sub.staff_id or sub.scope not in ("exceptions", "all") or not self._may_see(sub, order):
                continue
            if sub.scope == "all" or sub.scope_key == "exceptions:*" or sub.node == node or (
                    department and sub.department == department):
                out.append(rec)
        return out


class Triggers:
    """The hook: ``engine.add_hook(Triggers(engine, settings.notifications))``."""

    def __init__(self, engine: ProgressEngine, settings: NotificationSettings) -> None:
        self.engine, self.settings = engine, settings

    def due(self, kind: str) -> datetime:
        now = self.engine.clock()
        if kind in DIGESTED and self.settings.digest_seconds:
            return now + timedelta(seconds=self.settings.digest_seconds)
        return now

    async def __call__(self, changes: Sequence[Change], conn: Connection) -> None:
        moved = [c for c in changes if c.kind in ETA_MOVES]
        faults = [c for c in changes if c.kind in ("exception_opened", "exception_resolved")]
        if not moved and not faults:
            return
        audiences = await Audiences.load(conn, [c.order for c in moved + faults], exceptions=bool(faults))
        notices: list[Notice] = []
        for c in moved:
            notices += self._progress(c, audiences)
        for c in faults:
            notices += await self._fault(c, audiences, conn)
        await write(conn, notices)

    def notices(self, key: str, kind: str, recipients: Sequence[Recipient], payload: dict[str, Any],
                order_no: str) -> list[Notice]:
        due = self.due(kind)
        return [Notice(key, kind, r, payload, order_no, due) for r in recipients]

    def _progress(self, c: Change, audiences: Audiences) -> list[Notice]:
        order, out = c.order, []
        wf = self.engine.workflow_of(order)
        if c.kind == "node_entered":
            node = wf.node(order.current_node)
            payload = {"order_no": order.order_no, "workflow": order.workflow, "node": node.key, "at": iso(c.at),
                       "carrier": order.carrier, "tracking_no": order.tracking_no, "eta": iso(order.eta)}
            told = audiences.staff_following(order)
            if node.customer_visible and node.notify_customer:
                told = audiences.customer_side(order) + told
            out += self.notices(f"node:{order.order_no}:{c.event.event_id}", "node_entered", told, payload,
                                order.order_no)
        if c.previous_eta and order.eta and abs(order.eta - c.previous_eta) > ETA_TOLERANCE \
                and order.current_node != wf.done_node:
            payload = {"order_no": order.order_no, "workflow": order.workflow, "previous": iso(c.previous_eta),
                       "eta": iso(order.eta)}
            out += self.notices(f"eta:{order.order_no}:{order.version}", "eta_changed",
                                audiences.customer_side(order), payload, order.order_no)
        return out

    async def _fault(self, c: Change, audiences: Audiences, conn: Connection) -> list[Notice]:
        order, exc = c.order, c.exception
        department = self.engine.department_of(order, exc.node)
        told = audiences.exception_watchers(order, exc.node, department) + audiences.staff_following(order)
        [owner] = await (await Answerers.load(conn)).recipients(conn, [(order, department)])
        told += owner
        resolved = c.kind == "exception_resolved"
        payload = {"order_no": order.order_no, "workflow": order.workflow, "node": exc.node, "kind": exc.kind,
                   "exception_id": exc.id, "note": exc.resolution_note if resolved else exc.note}
        if resolved:
            payload["resolved"] = True
        key = f"exception:{exc.id}:{'resolved' if resolved else 'opened'}"
        return self.notices(key, c.kind, told, payload, order.order_no)
