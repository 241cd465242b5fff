"""Which orders: the conditions the API's lists, the staff's ``/late`` and the notice scanner ask for.

Lateness and "over its SLA" depend on each workflow's nodes, so the conditions are built
from the workflows; the ORM turns them into SQL for either database.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

from tortoise.expressions import F, Q, Subquery

from models.orders import Order, OrderException
from models.outbox import Notice, write
from models.people import Role, StaffMember
from models.sql import Connection, transaction
from models.workflows import WorkflowSet

UNRESOLVED = ("open", "acknowledged")


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


async def late_in_scope(workflows: WorkflowSet, today: date, member: StaffMember, limit: int
                        ) -> tuple[int, list[Order]]:
    """How many late orders a staff member has in scope, and the first ``limit`` by promised date."""
    qs = Order.filter(late(workflows, today) & in_scope(workflows, member))
    return await qs.count(), await qs.order_by("promised_date", "id").limit(limit)


async def order_page(workflows: WorkflowSet, today: date, *, node: str | None = None, workflow: str | None = None,
                     sales_owner: str | None = None, is_late: bool | None = None, open_exceptions: bool = False,
                     after: int = 0, limit: int = 50) -> tuple[list[Order], bool]:
    """A page of orders, oldest first, filtered; and whether more follow."""
    qs = Order.filter(id__gt=after)
    for column, value in (("current_node", node), ("workflow", workflow), ("sales_owner", sales_owner)):
        if value:
            qs = qs.filter(**{column: value})
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
