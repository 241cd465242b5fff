"""Which orders: the conditions the API's lists, the staff's ``/late`` and the notice scanner ask for.

Lateness and "over its SLA" depend on each workflow's nodes, so the conditions are built
from the workflows; the ORM turns them into SQL for either database.
"""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from tortoise.expressions import F, Q, RawSQL, Subquery

from models.errors import InvalidInput
from models.numbers import normalize_order_no
from models.orders import Order, OrderException
from models.outbox import Notice, write
from models.people import Customer, Role, StaffMember
from models.sql import Connection, transaction
from models.workflows import WorkflowSet

UNRESOLVED = ("open", "acknowledged")
PHONE_LIKE = re.compile(r"^\+?[0-9 ()\-]{3,40}$")
_SEPARATORS = "REPLACE(REPLACE(REPLACE(REPLACE(phone, ' ', ''), '-', ''), '(', ''), ')', '')"
# A stored phone number as phone_digits() makes a typed one: no separators, no +86 or 0086 in front, no +.
_PHONE_DIGITS = (f"CASE WHEN {_SEPARATORS} LIKE '+86%' THEN SUBSTR({_SEPARATORS}, 4) "
                 f"WHEN {_SEPARATORS} LIKE '0086%' THEN SUBSTR({_SEPARATORS}, 5) "
                 f"ELSE REPLACE({_SEPARATORS}, '+', '') END")


def phone_digits(raw: str) -> str:
    """A phone number as compared: spaces, dashes and brackets out, China's +86 (or 0086) off the front."""
    digits = re.sub(r"[\s()\-]", "", raw)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            return digits[len(prefix):]
    return digits.replace("+", "")


@dataclass(frozen=True)
class OrderSearch:
    """Who and when an order list asks for; None is "any". Dates are days in the service's zone, inclusive."""

    customer: str | None = None  # part of the customer's name, any case
    phone: str | None = None  # the whole number, written any way (phone_digits)
    email: str | None = None  # the whole address, any case
    placed_from: date | None = None
    placed_to: date | None = None
    promised_from: date | None = None
    promised_to: date | None = None
    text: str | None = None  # part of the order or tracking number, the customer's name, phone or e-mail


def _at_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


def _customers(cond: Q, *, digits: bool = True, holding: str | None = None) -> Q:
    """Orders whose customer meets ``cond``, which may compare ``digits``, the phone as phone_digits makes it
    (``digits=False`` when it does not).

    ``holding`` (digits only) spares the phone's rewriting on rows where those digits do not even appear in order.
    """
    matching = Customer.all()
    if holding:
        matching = matching.annotate(digits=RawSQL(phone_digits_sql(holding)))
    elif digits:
        matching = matching.annotate(digits=RawSQL(_PHONE_DIGITS))
    return Q(customer_id__in=Subquery(matching.filter(cond).values("id")))


def phone_digits_sql(holding: str) -> str:
    """The stored phone as phone_digits makes it, in SQL, on rows where the digits ``holding`` appear in order
    (an empty string elsewhere)."""
    if not holding.isdigit():
        raise ValueError("phone digits only")
    # A plain LIKE first: the separators' REPLACE chain costs ten times as much on each row.
    return f"CASE WHEN phone LIKE '%{'%'.join(holding)}%' THEN {_PHONE_DIGITS} ELSE '' END"


def searched(search: OrderSearch, tz: tzinfo) -> Q:
    """The condition of ``search`` on orders."""
    cond, who = Q(), Q()
    if search.customer:
        who &= Q(name__icontains=search.customer)
    if search.phone:
        who &= Q(digits=phone_digits(search.phone))
    if search.email:
        who &= Q(email=search.email.strip().lower())
    if who.children:
        cond &= _customers(who)
    if search.placed_from:
        cond &= Q(placed_at__gte=_at_midnight(search.placed_from, tz))
    if search.placed_to:
        cond &= Q(placed_at__lt=_at_midnight(search.placed_to + timedelta(days=1), tz))
    if search.promised_from:
        cond &= Q(promised_date__gte=search.promised_from)
    if search.promised_to:
        cond &= Q(promised_date__lte=search.promised_to)
    if search.text and search.text.strip():
        cond &= text_matches(search.text.strip())
    return cond


def text_matches(text: str) -> Q:
    """Orders whose number or tracking number holds ``text``, or whose customer's name, e-mail or phone does."""
    anyone, holding = Q(name__icontains=text) | Q(email__icontains=text), None
    if PHONE_LIKE.match(text) and len(digits := phone_digits(text)) >= 3 and digits.isdigit():
        anyone |= Q(digits__contains=digits)
        holding = digits
    number = normalize_order_no(text)
    found = _customers(anyone, digits=False, holding=holding)
    if number:
        found |= Q(order_no__contains=number) | Q(tracking_no__contains=number)
    return found


def node_condition(workflows: WorkflowSet, word: str) -> Q:
    """Orders standing at the node ``word`` names (key, Chinese or English name) in their workflow."""
    named = workflows.nodes_named(word)
    if not named:
        known = sorted({f"{n.key} ({n.name_zh}, {n.name_en})" for wf in workflows.workflows.values()
                        for n in wf.nodes})
        raise InvalidInput(f"no workflow has a node {word!r}; nodes, by key or name: {', '.join(known)}",
                           field="node")
    if len(set(named.values())) == 1:
        return Q(current_node=next(iter(named.values())))
    cond = Q(id=-1)
    for wf_key, node_key in named.items():
        cond |= Q(workflow=wf_key, current_node=node_key)
    return cond


def late(workflows: WorkflowSet, today: date) -> Q:
    """Orders past their promised date that have not reached their workflow's done node."""
    undelivered = Q()
    for wf in workflows.workflows.values():
        undelivered |= Q(workflow=wf.key, current_node__in=[n.key for n in wf.nodes[: wf.done_index]])
    return Q(promised_date__lt=today) & undelivered


def in_scope(workflows: WorkflowSet, member: StaffMember) -> Q:
    """The orders in a staff member's scope: sales their own, operators those at their department's nodes."""
    if member.role == Role.SALES:
        return Q(sales_owner=member.code)
    if member.role == Role.OPERATOR and member.department:
        mine = Q()
        for wf in workflows.workflows.values():
            keys = [n.key for n in wf.nodes if n.department == member.department]
            if keys:
                mine |= Q(workflow=wf.key, current_node__in=keys)
        return mine if mine.children else Q(id=-1)
    return Q()


def visible_to(member: StaffMember) -> Q:
    """The orders a staff member may look at (as ``policy.staff_may_see`` says): sales their own, others all."""
    if not member.active:
        return Q(id=-1)
    if member.role == Role.SALES:
        return Q(sales_owner=member.code)
    return Q()


NUMBER_POOL = 20_000  # the newest orders a mistyped number is sought among (chat and console alike)


async def visible_numbers(member: StaffMember, pool: int = NUMBER_POOL) -> list[str]:
    """The numbers of the newest ``pool`` orders ``member`` may see: where a "did you mean" looks."""
    return list(await Order.filter(visible_to(member)).order_by("-id").limit(pool).values_list("order_no", flat=True))


async def late_in_scope(workflows: WorkflowSet, today: date, member: StaffMember, limit: int, offset: int = 0
                        ) -> tuple[int, list[Order]]:
    """How many late orders a staff member has in scope, and ``limit`` of them from ``offset`` by promised date."""
    qs = Order.filter(late(workflows, today) & in_scope(workflows, member))
    return await qs.count(), await qs.order_by("promised_date", "id").offset(offset).limit(limit)


async def order_page(workflows: WorkflowSet, today: date, *, node: str | None = None, workflow: str | None = None,
                     sales_owner: str | None = None, is_late: bool | None = None, open_exceptions: bool = False,
                     search: OrderSearch | None = None, tz: tzinfo = timezone.utc,
                     after: int = 0, limit: int = 50) -> tuple[list[Order], bool]:
    """A page of orders, oldest first, filtered; and whether more follow.

    ``node`` may name the node by key or name; a node or workflow nobody has is an InvalidInput.
    """
    qs = Order.filter(id__gt=after)
    if node:
        qs = qs.filter(node_condition(workflows, node))
    if workflow and workflows.get(workflow) is None:
        raise InvalidInput(f"no workflow {workflow!r}; workflows: {', '.join(workflows.workflows)}",
                           field="workflow")
    for column, value in (("workflow", workflow), ("sales_owner", sales_owner)):
        if value:
            qs = qs.filter(**{column: value})
    if search is not None:
        qs = qs.filter(searched(search, tz))
    if is_late is not None:
        cond = late(workflows, today)
        qs = qs.filter(cond if is_late else (~cond | Q(promised_date__isnull=True)))
    if open_exceptions:
        unresolved = OrderException.filter(status__in=UNRESOLVED).values("order_id")
        qs = qs.filter(id__in=Subquery(unresolved))
    rows = await qs.order_by("id").limit(limit + 1)
    return rows[:limit], len(rows) > limit


# ---------------------------------------------------------------- the scanner's conditions
def late_untold(workflows: WorkflowSet, today: date) -> Q:
    """Late orders whose lateness for the current promised date nobody has been told of yet."""
    new = Q(late_noticed_for__isnull=True) | Q(late_noticed_for__lt=F("promised_date")) | \
        Q(late_noticed_for__gt=F("promised_date"))
    return late(workflows, today) & new


def overdue_untold(workflows: WorkflowSet, now: datetime) -> Q:
    """Orders over their current node's SLA, for a node visit nobody has been told of yet."""
    over = Q(id=-1)
    for wf in workflows.workflows.values():
        for node in wf.nodes[: wf.done_index]:
            over |= Q(workflow=wf.key, current_node=node.key,
                      node_entered_at__lt=now - timedelta(hours=node.sla_hours))
    new = Q(overdue_noticed_at__isnull=True) | Q(overdue_noticed_at__lt=F("node_entered_at")) | \
        Q(overdue_noticed_at__gt=F("node_entered_at"))
    return over & new


async def page(condition: Q, size: int) -> list[Order]:
    """The first ``size`` orders meeting ``condition`` (marked ones drop out, so the next call moves on)."""
    return await Order.filter(condition).order_by("id").limit(size)


async def open_exceptions_in_scope(workflows: WorkflowSet, member: StaffMember, limit: int
                                   ) -> tuple[int, list[tuple[OrderException, Order]]]:
    """How many unresolved exceptions there are on orders in a staff member's scope, and the oldest ``limit``."""
    orders = Order.filter(in_scope(workflows, member)).values("id")
    qs = OrderException.filter(status__in=UNRESOLVED, order_id__in=Subquery(orders))
    found = await qs.order_by("opened_at", "id").limit(limit).prefetch_related("order")
    return await qs.count(), [(e, e.order) for e in found]


async def active_staff() -> list[StaffMember]:
    return await StaffMember.filter(active=True).order_by("id")


async def unacknowledged(window: timedelta, now: datetime) -> list[OrderException]:
    """Open exceptions nobody acknowledged: at level 0 for ``window`` since opened, at level 1 since escalated."""
    return await OrderException.filter(
        Q(status="open") & ((Q(escalation_level=0) & Q(opened_at__lt=now - window)) |
                            (Q(escalation_level=1) & Q(escalated_at__lt=now - window)))).order_by("id")


async def managers(department: str | None) -> list[StaffMember]:
    return await StaffMember.filter(role=Role.MANAGER, department=department, active=True) if department else []


async def admins() -> list[StaffMember]:
    return await StaffMember.filter(role=Role.ADMIN, active=True)


async def escalate(exc: OrderException, level: int, now: datetime,
                   notices: Callable[[Connection], Awaitable[list[Notice]]]) -> int:
    """Raise ``exc`` to ``level`` and write its notices, together; 0 if someone acknowledged or
    escalated it meanwhile (then nothing is written)."""
    async with transaction() as conn:
        # Written first (SQLite then holds the write lock), and only if nobody has changed it since.
        if not await OrderException.filter(id=exc.id, status="open", escalation_level=exc.escalation_level) \
                .update(escalation_level=level, escalated_at=now):
            return 0
        return await write(conn, await notices(conn))
