"""What time alone brings about: late orders, nodes over their SLA, exceptions nobody took.

One process scans at a time (a lease in the database), every ``[notifications]
scan_interval_seconds``. Each late condition is told once: a notice's event key names
the condition (the order and its promised date; the node and when the order entered it),
and the outbox holds each (event, recipient) once, so a later scan finds it told already.
An exception still open ``escalate_after_minutes`` after it was opened goes to the
department's manager; as long again after that, to the admins.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot import leases
from models.engine import ProgressEngine
from models.orders import Order, OrderException
from models.people import Role, StaffMember
from models.store import OrderState, sql
from notifications.outbox import Notice, write
from notifications.people import STAFF, Recipient, people
from notifications.triggers import Audiences, Triggers, answerer, iso

LEASE = "notifications.scanner"
BATCH = 500  # orders per INSERT batch


async def _write(notices: list[Notice]) -> int:
    """Write in a transaction of its own that starts by writing (reads before it would make
    SQLite refuse the write when another process wrote in between)."""
    async with in_transaction() as conn:
        return await write(conn, notices)


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
    async def _untold(self, keys: dict[str, Order]) -> dict[str, Order]:
        """The orders whose condition has not been told to anyone yet."""
        if not keys:
            return {}
        conn = connections.get("default")
        marks = ", ".join("?" * len(keys))
        told = await conn.execute_query_dict(sql(conn, f"SELECT DISTINCT event_key FROM outbox WHERE event_key IN "
                                                       f"({marks})"), list(keys))
        done = {r["event_key"] for r in told}
        return {k: o for k, o in keys.items() if k not in done}

    async def _tell(self, kind: str, keyed: dict[str, Order],
                    facts: Callable[[Order], dict[str, Any]], customers: bool) -> int:
        """Write a ``kind`` notice for each order not told yet: staff, and the customer side if ``customers``."""
        items = list((await self._untold(keyed)).items())
        conn, written = connections.get("default"), 0
        for start in range(0, len(items), BATCH):
            chunk = items[start:start + BATCH]
            states = [OrderState.of(o) for _, o in chunk]
            audiences = await Audiences.load(conn, states, exceptions=True)
            notices = []
            for (key, order), state in zip(chunk, states):
                told = audiences.customer_side(state) if customers else []
                told += await self._staff(conn, state, audiences)
                payload = {"order_no": order.order_no, "workflow": order.workflow, "node": order.current_node,
                           **facts(order)}
                notices += self.triggers.notices(key, kind, told, payload, order.order_no)
            written += await _write(notices)
        return written

    async def late(self) -> int:
        """Orders past their promised date, not delivered: the customer side and staff."""
        late = await Order.filter(self.engine.late_query()).order_by("id")
        return await self._tell("late", {f"late:{o.order_no}:{o.promised_date}": o for o in late},
                                lambda o: {"promised_date": o.promised_date.isoformat(),
                                           "eta": iso(self.engine.eta(o))}, customers=True)

    async def overdue(self) -> int:
        """Orders that stayed in a node longer than its SLA: staff only (customers see the ETA move)."""
        now = self.engine.clock()
        over = Q(id=-1)
        for wf in self.engine.workflows.workflows.values():
            for node in wf.nodes[: wf.done_index]:
                over |= Q(workflow=wf.key, current_node=node.key,
                          node_entered_at__lt=now - timedelta(hours=node.sla_hours))
        orders = await Order.filter(over).order_by("id")

        def facts(o: Order) -> dict[str, Any]:
            sla = self.engine.workflow_of(o).node(o.current_node).sla_hours
            return {"hours": int((now - o.node_entered_at).total_seconds() // 3600), "limit": round(sla, 1)}

        keyed = {f"overdue:{o.order_no}:{o.current_node}:{o.node_entered_at.isoformat()}": o for o in orders}
        return await self._tell("overdue", keyed, facts, customers=False)

    async def _staff(self, conn: BaseDBAsyncClient, order: OrderState, audiences: Audiences) -> list[Recipient]:
        """Whoever answers for the order, staff following it, and staff watching its node's exceptions."""
        wf = self.engine.workflow_of(order)
        department = wf.node(order.current_node).department if wf.has(order.current_node) else None
        told = audiences.exception_watchers(order.current_node, department) + audiences.staff_following(order)
        return told + await answerer(conn, order, department)

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
