"""What the console's order page reads of one order: its events, exceptions, notices, viewers, changes.

Each list is one query on an indexed column (order id or order number), newest last or
first as a person reads it; commercial data is loaded only for a reader who may see it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from models.audit import AuditLog, OrderChange
from models.orders import EventRecord, Order, OrderCommercial, OrderException, events_of
from models.outbox import Outbox
from models.people import Customer, Role, StaffMember, staff_names
from models.recipients import names_of

LISTED = 50  # notices, viewers and changes shown; older ones are counted, not listed


@dataclass(frozen=True)
class NoticeRow:
    """One outbox row of the order, its recipient by name."""

    id: int
    kind: str
    audience: str
    recipient: str  # the person's name, else the recipient key (a group chat)
    channel: str
    status: str
    at: datetime  # when it went, else when it was written
    sent_via: str | None


@dataclass(frozen=True)
class Viewing:
    """One audit row: who was shown the order, where, when."""

    at: datetime
    kind: str  # staff, customer, api, anonymous
    who: str  # a name where one is known
    code: str | None  # a staff member's code
    channel: str


@dataclass
class OrderFile:
    """Everything the order page shows of an order, besides the order row itself."""

    customer: Customer
    events: list[EventRecord]
    exceptions: list[OrderException]
    notices: list[NoticeRow]
    notices_total: int
    viewers: list[Viewing]
    viewers_total: int
    changes: list[OrderChange]
    commercial: OrderCommercial | None
    names: dict[str, str] = field(default_factory=dict)  # staff code (upper case) -> name


async def order_file(order: Order, *, commercial: bool) -> OrderFile:
    """The order's record as the page lists it; ``commercial`` loads prices and cost too."""
    customer = await Customer.get(id=order.customer_id)
    events = await events_of(order.id)
    exceptions = await OrderException.filter(order_id=order.id).order_by("id")
    outbox = await Outbox.filter(order_no=order.order_no).order_by("-id").limit(LISTED)
    notices_total = await Outbox.filter(order_no=order.order_no).count()
    seen = await AuditLog.filter(order_no=order.order_no).order_by("-id").limit(LISTED)
    viewers_total = await AuditLog.filter(order_no=order.order_no).count()
    changes = await OrderChange.filter(order_no=order.order_no).order_by("-id").limit(LISTED)
    money = await OrderCommercial.filter(order_id=order.id).first() if commercial else None
    codes = [order.sales_owner, *(e.actor for e in events), *(c.actor for c in changes),
             *(x.opened_by for x in exceptions), *(x.acknowledged_by for x in exceptions),
             *(x.resolved_by for x in exceptions), *(a.actor_id for a in seen if a.actor_kind == "staff")]
    names = await staff_names(codes)
    people = await names_of(r.recipient for r in outbox)
    customers = await _customer_names(a.actor_id for a in seen if a.actor_kind == "customer")
    notices = [NoticeRow(r.id, r.kind, r.audience, people.get(r.recipient, r.recipient), r.channel, r.status,
                         r.sent_at or r.created_at, r.sent_via) for r in outbox]
    viewers = [_viewing(a, names, customers) for a in seen]
    return OrderFile(customer, events, list(exceptions), notices, notices_total, viewers, viewers_total,
                     list(changes), money, names)


def _viewing(a: AuditLog, names: dict[str, str], customers: dict[str, str]) -> Viewing:
    if a.actor_kind == "staff":
        return Viewing(a.at, "staff", names.get(a.actor_id.upper(), a.actor_id), a.actor_id, a.channel)
    if a.actor_kind == "customer":
        return Viewing(a.at, "customer", customers.get(a.actor_id, a.actor_id), None, a.channel)
    return Viewing(a.at, a.actor_kind, a.actor_id, None, a.channel)


async def _customer_names(ids) -> dict[str, str]:
    wanted = sorted({int(i) for i in ids if i.isdigit() and len(i) < 19})
    if not wanted:
        return {}
    return {str(i): name for i, name in await Customer.filter(id__in=wanted).values_list("id", "name")}


async def exception_of(order: Order, exc_id: int) -> OrderException | None:
    """One exception of this order (None when the order has no such exception)."""
    return await OrderException.filter(id=exc_id, order_id=order.id).first()


async def owners() -> list[StaffMember]:
    """Who an order may be given to: active sales members and managers, by code."""
    return list(await StaffMember.filter(active=True, role__in=[Role.SALES, Role.MANAGER]).order_by("code"))


async def active_member(code: str) -> StaffMember | None:
    return await StaffMember.filter(code=code.strip().upper(), active=True).first()
