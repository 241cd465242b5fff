"""What the console's Today page counts, among the orders a staff member may see.

Every figure is one query the indexes answer (current node, promised date, status, times),
so the page stays quick with a hundred thousand orders (bench/console.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from tortoise.expressions import Q, Subquery
from tortoise.functions import Count

from models.orders import NodeEvent, Order, OrderException
from models.people import StaffMember
from models.queries import UNRESOLVED, late, visible_to
from models.requests import CustomerRequest
from models.workflows import WorkflowSet

OLDEST = 8  # exceptions listed by age on the page; the rest are behind the count's link


@dataclass
class Today:
    late: int = 0
    over_sla: int = 0
    exceptions: int = 0
    oldest_exceptions: list[tuple[OrderException, Order]] = field(default_factory=list)
    exceptions_by_owner: list[tuple[str | None, int]] = field(default_factory=list)
    requests_waiting: int = 0
    per_node: list[tuple[str, str, int]] = field(default_factory=list)  # (workflow, node key, orders)
    moved_today: int = 0
    recent_moves: list[tuple[NodeEvent, str]] = field(default_factory=list)  # (event, order number)


def over_sla(workflows: WorkflowSet, now: datetime) -> Q:
    """Orders that have stood at their current node (before the done node) longer than its SLA."""
    over = Q(id=-1)
    for wf in workflows.workflows.values():
        for node in wf.nodes[: wf.done_index]:
            over |= Q(workflow=wf.key, current_node=node.key,
                      node_entered_at__lt=now - timedelta(hours=node.sla_hours))
    return over


def undelivered(workflows: WorkflowSet) -> Q:
    cond = Q(id=-1)
    for wf in workflows.workflows.values():
        cond |= Q(workflow=wf.key, current_node__in=[n.key for n in wf.nodes[: wf.done_index]])
    return cond


async def today(workflows: WorkflowSet, member: StaffMember, now: datetime, day: date, day_start: datetime) -> Today:
    """The Today page's figures for ``member`` (``day`` and ``day_start``: today in the company's zone)."""
    # The orders the list behind each figure shows (the view policy's staff_may_see), so the two agree.
    scope = visible_to(member)
    mine = Order.filter(scope)
    out = Today()
    out.late = await mine.filter(late(workflows, day)).count()
    out.over_sla = await Order.filter(scope & over_sla(workflows, now)).count()
    scoped_ids = Order.filter(scope).values("id")
    unresolved = OrderException.filter(status__in=UNRESOLVED)
    if scope.children or scope.filters:
        unresolved = unresolved.filter(order_id__in=Subquery(scoped_ids))
    out.exceptions = await unresolved.count()
    oldest = await unresolved.order_by("opened_at", "id").limit(OLDEST).prefetch_related("order")
    out.oldest_exceptions = [(e, e.order) for e in oldest]
    owners = await Order.filter(scope, id__in=Subquery(unresolved.values("order_id"))) \
        .annotate(n=Count("id")).group_by("sales_owner").values_list("sales_owner", "n")
    out.exceptions_by_owner = sorted(owners, key=lambda r: (-r[1], r[0] or ""))
    requests = CustomerRequest.filter(status="open")
    if scope.children or scope.filters:
        requests = requests.filter(order_id__in=Subquery(scoped_ids))
    out.requests_waiting = await requests.count()
    rows = await Order.filter(scope & undelivered(workflows)).annotate(n=Count("id")) \
        .group_by("workflow", "current_node").values_list("workflow", "current_node", "n")
    out.per_node = [(w, n, c) for w, n, c in rows]
    moves = NodeEvent.filter(at__gte=day_start, kind__in=("advance", "rework"))
    if scope.children or scope.filters:
        moves = moves.filter(order_id__in=Subquery(scoped_ids))
    out.moved_today = len(await moves.distinct().values_list("order_id", flat=True))
    recent = await moves.order_by("-at", "-id").limit(10).prefetch_related("order")
    out.recent_moves = [(e, e.order.order_no) for e in recent]
    return out
