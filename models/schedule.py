"""Time arithmetic of an order: ETA, lateness, a node over its SLA.

For now the ETA is the sum of the SLAs of what remains before the workflow's done node;
a later version learns the durations from history behind the same functions.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from models.workflows import Workflow


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def reached_done(workflow: Workflow, node: str) -> bool:
    """Whether an order at ``node`` has been delivered (or gone past it)."""
    return workflow.has(node) and workflow.index(node) >= workflow.done_index


def eta(workflow: Workflow, node: str, entered_at: datetime, now: datetime) -> datetime | None:
    """When the order should reach the done node; None once it has (or for a node unknown)."""
    if not workflow.has(node) or reached_done(workflow, node):
        return None
    current = workflow.node(node)
    leave_current = max(now, entered_at + timedelta(hours=current.sla_hours))
    rest = workflow.nodes[workflow.index(node) + 1 : workflow.done_index]
    return leave_current + timedelta(hours=sum(n.sla_hours for n in rest))


def is_late(workflow: Workflow, node: str, promised: date | None, now: datetime, tz: ZoneInfo) -> bool:
    """Promised date passed (in the company's time zone) and not delivered."""
    if promised is None or reached_done(workflow, node):
        return False
    return now.astimezone(tz).date() > promised


def node_overdue(workflow: Workflow, node: str, entered_at: datetime, now: datetime) -> bool:
    """The order has stayed at its current node longer than the node's SLA."""
    if not workflow.has(node) or reached_done(workflow, node):
        return False
    return now > entered_at + timedelta(hours=workflow.node(node).sla_hours)
