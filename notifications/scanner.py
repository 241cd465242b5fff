"""What time alone brings about: late orders, nodes over their SLA, exceptions nobody took.

One process scans at a time (a lease in the database), every ``[notifications]
scan_interval_seconds``. Each late condition is told once: the order carries a mark of the
condition it was told of (``late_noticed_for`` = the promised date, ``overdue_noticed_at`` =
when it entered the node), set in the transaction that writes the notices, so a scan
reads only orders whose condition is new, a page at a time; and a notice's event key names
the condition, which the outbox holds once per recipient.
An exception still open ``escalate_after_minutes`` after it was opened goes to the
department's manager; as long again after that, to the admins.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models import leases
from models import batch
from models.engine import ProgressEngine
from models.orders import Order, OrderException
from models.people import Role, StaffMember
from models.store import OrderState
from notifications import outbox
from notifications.outbox import Notice, write
from models.recipients import STAFF, people
from notifications.triggers import Answerers, Audiences, Triggers, iso

LEASE = "notifications.scanner"
BATCH = 100  # orders per page (one transaction each): a page's work holds up the event loop
# for a few milliseconds, not the tens a page of 500 took (bench/inbound.py's p99)
PAGES = 20  # pages per condition per scan: a backlog (an upgrade, a long outage) is worked off
# over several scans instead of holding the database while events and messages wait


class Scanner:
    """Finds late and overdue orders and unacknowledged exceptions, and writes their notices."""

    def __init__(self, engine: ProgressEngine, triggers: Triggers) -> None:
        self.engine, self.triggers = engine, triggers
        self.settings = triggers.settings

    async def scan(self) -> int:
        """One scan, if this process holds the lease; how many notices were written."""
        if not await leases.take(LEASE, max(30.0, 3 * self.settings.scan_interval_seconds)):
            return 0
        return await self.late() + await self.overdue() + await self.escalate()

    # ------------------------------------------------------------ late and overdue orders
    async def _tell(self, kind: str, condition: Q, key: Callable[[Order], str], facts: Callable[[Order], dict],
                    mark: str, value: str, *, customers: bool) -> int:
        """Notices for orders in ``condition``, a page at a time, each marked dealt with in the
        same transaction (``mark`` set to the order's ``value`` column), told or not: a scan
        reads only what is new, however many orders are late."""
        conn, written = connections.get("default"), 0
        answerers = await Answerers.load(conn)
        for _ in range(PAGES):
            page = await Order.filter(condition).order_by("id").limit(BATCH)
            if not page:
                break
            states = [OrderState.of(o) for o in page]
            audiences = await Audiences.load(conn, states, exceptions=True)
            departments = [self._department(s) for s in states]
            owners = await answerers.recipients(conn, list(zip(states, departments)))
            notices = []
            for order, state, department, owner in zip(page, states, departments, owners):
                told = audiences.customer_side(state) if customers else []
                told += audiences.exception_watchers(state.current_node, department)
                told += audiences.staff_following(state) + owner
                payload = {"order_no": order.order_no, "workflow": order.workflow, "node": order.current_node,
                           **facts(order)}
                notices += self.triggers.notices(key(order), kind, told, payload, order.order_no)
            # The marks and the notices hold together or not at all; on SQLite they join the
            # conversations' next commit instead of holding the write lock while the event loop
            # serves them (models.batch.atomic).
            count, inserts = outbox.inserts(notices)
            marks = ", ".join("?" * len(page))
            await batch.atomic([(f"UPDATE orders SET {mark} = {value} WHERE id IN ({marks})", [o.id for o in page]),
                                *inserts])
            if count:
                outbox.told()
            written += count
        return written

    def _department(self, order: OrderState) -> str | None:
        wf = self.engine.workflow_of(order)
        return wf.node(order.current_node).department if wf.has(order.current_node) else None

    async def late(self) -> int:
        """Orders past their promised date, not delivered: the customer side and staff."""
        new = Q(late_noticed_for__isnull=True) | Q(late_noticed_for__lt=F("promised_date")) | \
            Q(late_noticed_for__gt=F("promised_date"))
        return await self._tell(
            "late", self.engine.late_query() & new, lambda o: f"late:{o.order_no}:{o.promised_date}",
            lambda o: {"promised_date": o.promised_date.isoformat(), "eta": iso(self.engine.eta(o))},
            "late_noticed_for", "promised_date", customers=True)

    async def overdue(self) -> int:
        """Orders that stayed in a node longer than its SLA: staff only (customers see the ETA move)."""
        now = self.engine.clock()
        over = Q(id=-1)
        for wf in self.engine.workflows.workflows.values():
            for node in wf.nodes[: wf.done_index]:
                over |= Q(workflow=wf.key, current_node=node.key,
                          node_entered_at__lt=now - timedelta(hours=node.sla_hours))
        new = Q(overdue_noticed_at__isnull=True) | Q(overdue_noticed_at__lt=F("node_entered_at")) | \
            Q(overdue_noticed_at__gt=F("node_entered_at"))

        def facts(o: Order) -> dict[str, Any]:
            sla = self.engine.workflow_of(o).node(o.current_node).sla_hours
            return {"hours": int((now - o.node_entered_at).total_seconds() // 3600), "limit": round(sla, 1)}

        return await self._tell("overdue", over & new,
                                lambda o: f"overdue:{o.order_no}:{o.current_node}:{o.node_entered_at.isoformat()}",
                                facts, "overdue_noticed_at", "node_entered_at", customers=False)

    # ------------------------------------------------------------ escalation
    async def escalate(self) -> int:
        """Open (unacknowledged) exceptions past the window go one level up: manager, then admins."""
        window = timedelta(minutes=self.settings.escalate_after_minutes)
        now = self.engine.clock()
        due = await OrderException.filter(
            Q(status="open") & ((Q(escalation_level=0) & Q(opened_at__lt=now - window)) |
                                (Q(escalation_level=1) & Q(escalated_at__lt=now - window)))).order_by("id")
        written = 0
        for exc in due:
            written += await self._escalate_one(exc, now)
        return written

    async def _escalate_one(self, exc: OrderException, now: datetime) -> int:
        order = await Order.get(id=exc.order_id)
        wf = self.engine.workflow_of(order)
        department = wf.node(exc.node).department if wf.has(exc.node) else None
        level, members = exc.escalation_level + 1, []
        if level == 1 and department:
            members = await StaffMember.filter(role=Role.MANAGER, department=department, active=True)
        if not members:
            level = 2
            members = await StaffMember.filter(role=Role.ADMIN, active=True)
        async with in_transaction() as conn:
            # Written first (SQLite then holds the write lock), and only if nobody has since
            # acknowledged or escalated it.
            if not await OrderException.filter(id=exc.id, status="open", escalation_level=exc.escalation_level) \
                    .update(escalation_level=level, escalated_at=now):
                return 0
            found = await people(conn, STAFF, [m.id for m in members])
            told = [r for p in found.values() if (r := p.recipient())]
            minutes = int((now - exc.opened_at).total_seconds() // 60)
            payload = {"order_no": order.order_no, "workflow": order.workflow, "node": exc.node, "kind": exc.kind,
                       "note": exc.note, "exception_id": exc.id, "level": level, "minutes": minutes}
            notices = [Notice(f"escalate:{exc.id}:{level}", "escalated", r, payload, order.order_no, now)
                       for r in told]
            return await write(conn, notices)
