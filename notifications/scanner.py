"""What time alone brings about: late orders, nodes over their SLA, exceptions nobody took.

One process scans at a time (a lease in the database), every ``[notifications]
scan_interval_seconds``. Each late condition is told once: the order carries a mark of the
condition it was told of (``late_noticed_for`` = the promised date, ``overdue_noticed_at`` =
when it entered the node), set in the transaction that writes the notices, so a scan
reads only orders whose condition is new, a page at a time; and a notice's event key names
the condition, which the outbox holds once per recipient.
An exception still open ``escalate_after_minutes`` after it was opened goes to the
department's manager; as long again after that, to the admins. With ``daily_summary_at`` set,
each staff member is sent, once a day at that hour (``[server] timezone``), their late orders
and open exceptions; a hold in the database says when the next one is due.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from models import leases, outbox, queries, sql, webhooks
from models.engine import ProgressEngine
from models.orders import Order, OrderException, OrderState, mark_noticed
from models.outbox import Notice
from models.recipients import STAFF, Answerers, people
from models.sql import Connection
from notifications.render import LINES
from notifications.triggers import Audiences, Triggers, iso

LEASE = "notifications.scanner"
BATCH = 100  # orders per page: a page's work holds up the event loop, so pages stay small
SUMMARY = "daily_summary"  # the hold saying when the next daily summary is due
PAGES = 20  # pages per condition per scan: a backlog is worked off over several scans, not in one


class Scanner:
    """Finds late and overdue orders and unacknowledged exceptions, and writes their notices."""

    def __init__(self, engine: ProgressEngine, triggers: Triggers) -> None:
        self.engine, self.triggers = engine, triggers
        self.settings = triggers.settings

    async def scan(self) -> int:
        """One scan, if this process holds the lease; how many notices were written."""
        if not await leases.take(LEASE, max(30.0, 3 * self.settings.scan_interval_seconds)):
            return 0
        return await self.late() + await self.overdue() + await self.escalate() + await self.summary()

    # ------------------------------------------------------------ late and overdue orders
    async def _tell(self, kind: str, condition: Any, key: Callable[[Order], str], facts: Callable[[Order], dict],
                    mark: str, value: str, *, customers: bool) -> int:
        """Notices for orders in ``condition``, a page at a time, each marked dealt with in the
        same transaction (``mark`` set to the order's ``value`` column), told or not: a scan
        reads only what is new, however many orders are late."""
        conn, written = sql.current(), 0
        answerers = await Answerers.load(conn)
        hooks = await webhooks.subscribed(conn) if kind == "late" else []
        for _ in range(PAGES):
            page = await queries.page(condition, BATCH)
            if not page:
                break
            states = [OrderState.of(o) for o in page]
            audiences = await Audiences.load(conn, states, exceptions=True)
            departments = [self._department(s) for s in states]
            owners = await answerers.recipients(conn, list(zip(states, departments)))
            notices = []
            for order, state, department, owner in zip(page, states, departments, owners):
                told = audiences.customer_side(state) if customers else []
                told += audiences.exception_watchers(state, state.current_node, department)
                told += audiences.staff_following(state) + owner
                payload = {"order_no": order.order_no, "workflow": order.workflow, "node": order.current_node,
                           **facts(order)}
                notices += self.triggers.notices(key(order), kind, told, payload, order.order_no)
                if hooks:  # held with the order's mark: told once, like the notices
                    notices += webhooks.notices(hooks, "order_late", key(order), payload, self.engine.clock(),
                                                order.order_no)
            # Marks and notices hold together, in the conversations' next commit (models.sql.atomic).
            count, inserts = outbox.inserts(notices)
            await sql.atomic([mark_noticed(mark, value, [o.id for o in page]), *inserts])
            if count:
                outbox.told()
            written += count
        return written

    def _department(self, order: OrderState) -> str | None:
        return self.engine.department_of(order)

    async def late(self) -> int:
        """Orders past their promised date, not delivered: the customer side and staff."""
        return await self._tell(
            "late", queries.late_untold(self.engine.workflows, self.engine.today()),
            lambda o: f"late:{o.order_no}:{o.promised_date}",
            lambda o: {"promised_date": o.promised_date.isoformat(), "eta": iso(self.engine.eta(o))},
            "late_noticed_for", "promised_date", customers=True)

    async def overdue(self) -> int:
        """Orders that stayed in a node longer than its SLA: staff only (customers see the ETA move)."""
        now = self.engine.clock()

        def facts(o: Order) -> dict[str, Any]:
            sla = self.engine.workflow_of(o).node(o.current_node).sla_hours
            return {"hours": int((now - o.node_entered_at).total_seconds() // 3600), "limit": round(sla, 1)}

        return await self._tell("overdue", queries.overdue_untold(self.engine.workflows, now),
                                lambda o: f"overdue:{o.order_no}:{o.current_node}:{o.node_entered_at.isoformat()}",
                                facts, "overdue_noticed_at", "node_entered_at", customers=False)

    # ------------------------------------------------------------ the daily summary
    def _next_summary(self, now: datetime) -> datetime:
        """The first ``daily_summary_at`` after ``now``, in the server's zone."""
        local = now.astimezone(self.engine.tz)
        at = datetime.combine(local.date(), time.fromisoformat(self.settings.daily_summary_at), self.engine.tz)
        return at if at > now else datetime.combine(local.date() + timedelta(days=1), at.timetz())

    async def summary(self) -> int:
        """Each staff member's late orders and open exceptions, once a day at the set hour."""
        if not self.settings.daily_summary_at:
            return 0
        now = self.engine.clock()
        due = await outbox.held_until(SUMMARY)
        if due is None or due > now:
            if due is None:  # first time: the first summary is at the next set hour, not now
                await sql.atomic([outbox.hold_until(SUMMARY, self._next_summary(now))])
            return 0
        today = now.astimezone(self.engine.tz).date()
        notices = []
        members = await queries.active_staff()
        found = await people(sql.current(), STAFF, [m.id for m in members])
        for member in members:
            person = found.get(member.id)
            if person is None or (rec := person.recipient()) is None:
                continue
            late_total, late = await queries.late_in_scope(self.engine.workflows, today, member, LINES)
            exc_total, excs = await queries.open_exceptions_in_scope(self.engine.workflows, member, LINES)
            if not late_total and not exc_total:
                continue
            payload = {"date": today.isoformat(), "late_total": late_total, "exceptions_total": exc_total,
                       "late": [{"order_no": o.order_no, "workflow": o.workflow, "node": o.current_node,
                                 "promised_date": o.promised_date.isoformat()} for o in late],
                       "exceptions": [{"order_no": o.order_no, "workflow": o.workflow, "node": e.node,
                                       "kind": e.kind, "opened_at": e.opened_at.isoformat()} for e, o in excs]}
            notices.append(Notice(f"summary:{today.isoformat()}", "daily_summary", rec, payload, None, now))
        # The next hold and the summaries hold together: a summary is written once a day.
        count, inserts = outbox.inserts(notices)
        await sql.atomic([outbox.hold_until(SUMMARY, self._next_summary(now)), *inserts])
        if count:
            outbox.told()
        return count

    # ------------------------------------------------------------ escalation
    async def escalate(self) -> int:
        """Open (unacknowledged) exceptions past the window go one level up: manager, then admins."""
        now = self.engine.clock()
        written = 0
        for exc in await queries.unacknowledged(timedelta(minutes=self.settings.escalate_after_minutes), now):
            written += await self._escalate_one(exc, now)
        return written

    async def _escalate_one(self, exc: OrderException, now: datetime) -> int:
        order = await Order.get(id=exc.order_id)
        department = self.engine.department_of(order, exc.node)
        level, members = exc.escalation_level + 1, []
        if level == 1:
            members = await queries.managers(department)
        if not members:
            level, members = 2, await queries.admins()
        minutes = int((now - exc.opened_at).total_seconds() // 60)
        payload = {"order_no": order.order_no, "workflow": order.workflow, "node": exc.node, "kind": exc.kind,
                   "note": exc.note, "exception_id": exc.id, "level": level, "minutes": minutes}

        async def notices(conn: Connection) -> list[Notice]:
            found = await people(conn, STAFF, [m.id for m in members])
            return [Notice(f"escalate:{exc.id}:{level}", "escalated", r, payload, order.order_no, now)
                    for p in found.values() if (r := p.recipient())]

        return await queries.escalate(exc, level, now, notices)
