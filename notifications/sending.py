"""The outbox sender: claims due outbox rows, sends them, records what happened.

A row is claimed with a lease (``status = 'sending'``, ``lease_owner``, ``lease_until``)
in one statement — ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so that any number of
processes share the work; on SQLite the statement itself holds the write lock. A row
whose claimer died is claimed again once its lease ends. A row is marked sent as soon as
the platform took it, and a sent row is never claimed again.

Sending a row: digest the person's other pending rows of the same order into it; a staff
notice of a kind that floods (late, overdue, escalated: ``triggers.ROUNDUP``) goes out at most
once per ``staff_digest_minutes`` per person and kind — the first at once, starting a hold
(``outbox.hold``: one conditional write, so of several senders one wins), the ones that come
during it wait for its end and then go together, claimed as one group, as one message
listing the orders; hold it for the end of quiet hours (customers only); render it in the row's language; try the
person's channels in order (``Person.targets``: last used → other bound → e-mail). A
channel that cannot reach them now (``Delivery.unreachable``) or refuses for good passes
to the next; a failure that may pass is retried with exponential backoff and jitter,
after ``max_attempts`` the row is dead-lettered (``failed``), as is a row whose payload's
``expires_at`` has passed. When no channel is left the row is ``undeliverable``. Both show in ``orderbot outbox list --failed``.

The sender knows channels only through ``adapters.base``: it hands each adapter the target,
the rendered reply and the ``Occasion`` (the notice's kind and facts); what a platform
allows (WeChat's 48-hour window, e-mail's pace per domain) is the adapter's to apply.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from adapters.base import Adapter, Occasion
from models import leases, outbox, sql
from models.engine import ProgressEngine
from models.messages import Delivery, Reply, Target
from bot.conversation.policy import staff_may_see
from bot.conversation.texts import t
from models.recipients import CUSTOMER, STAFF, Person, person_of, sales_owners_of, staff_members
from notifications.config import NotificationSettings
from notifications.quiet import quiet_until, zone
from notifications.render import Renderer
from notifications.triggers import DIGESTED, ROUNDUP

GROUP = "group"  # the audience a rendered notice has in a chat that is nobody's own
WEBHOOK = "webhook"  # the audience of an event owed to another system (models/webhooks.py)

log = logging.getLogger(__name__)


class OutboxSender:
    """Sends the outbox. ``run()`` until ``stop()``; ``run_once()`` for one pass (tests, the CLI).

    ``kinds`` limits it to rows of those kinds (`orderbot chat` sends only the codes it caused).
    """

    def __init__(self, settings: NotificationSettings, engine: ProgressEngine, channels: Mapping[str, Adapter], *,
                 kinds: Sequence[str] | None = None, owner: str = leases.OWNER, concurrency: int = 64,
                 lease_seconds: float = 120, max_attempts: int = 8, first_retry_seconds: float = 10,
                 poll_seconds: float = 1.0, link: Callable[[str], Awaitable[str | None]] | None = None) -> None:
        self.settings, self.engine, self.channels, self.kinds = settings, engine, dict(channels), kinds
        self.link = link  # the order's progress page (/t/<token>) for a customer's notice
        self.owner, self.concurrency, self.lease = owner, concurrency, timedelta(seconds=lease_seconds)
        self.max_attempts, self.first_retry, self.poll = max_attempts, first_retry_seconds, poll_seconds
        self.renderer = Renderer(engine)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while the loop is not in the middle of a pass
        self._idle.set()
        self._stopping = False
        self._inflight: set[asyncio.Task] = set()

    def nudge(self) -> None:
        """Look now: notices were just written."""
        self._wake.set()

    @property
    def clock(self):
        return self.engine.clock

    # ------------------------------------------------------------ the loop
    async def run(self) -> None:
        renewing = asyncio.create_task(self._keep_leases())
        try:
            await self._loop()
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)

    async def _keep_leases(self) -> None:
        """Renew the leases of rows still being sent (a group chat's 20 a minute can take minutes);
        a process that dies stops renewing, and its rows are claimed again when the lease ends."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await outbox.renew(self.owner, self.clock() + self.lease)
            except Exception:  # noqa: BLE001 - tried again at the next turn, well before the lease ends
                log.exception("outbox: renewing leases failed")

    async def _loop(self) -> None:
        while not self._stopping:
            self._idle.clear()
            try:
                claimed = await self.fill()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the sender
                log.exception("outbox: claiming failed; trying again shortly")
                claimed = 0
            finally:
                self._idle.set()
            if claimed:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)

    async def fill(self) -> int:
        """Claim as many rows as there is room for and start sending them; how many were claimed."""
        room = self.concurrency - len(self._inflight)
        if room < max(1, self.concurrency // 2):
            # Claimed in batches, once half the slots are free: each claim reads and sorts the
            # due rows, so claiming per finished send would cost most of the time under a backlog.
            await asyncio.wait(set(self._inflight), return_when=asyncio.FIRST_COMPLETED)
            return 1
        rows = await self.claim(room)
        for group in self._groups(rows):
            task = asyncio.ensure_future(self.deliver(group))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return len(rows)

    def _groups(self, rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Rows claimed together that make one digest message: one person, one order, digested kinds."""
        groups: dict[Any, list[dict[str, Any]]] = {}
        for r in rows:
            if self._roundup(r):
                key: Any = ("kind", r["recipient"], r["kind"])
            elif self.settings.digest_seconds and r["order_no"] and r["kind"] in DIGESTED:
                key = (r["recipient"], r["order_no"])
            else:
                key = r["id"]
            groups.setdefault(key, []).append(r)
        return list(groups.values())

    def _roundup(self, row: dict[str, Any]) -> bool:
        """Whether ``row`` goes out in a digest of its kind across orders (a staff notice that floods)."""
        return bool(self.settings.staff_digest_minutes) and row["audience"] == STAFF and row["kind"] in ROUNDUP

    async def run_once(self) -> int:
        """Claim what is due, send it, wait for the sends; how many rows were claimed."""
        n = await self.fill()
        if self._inflight:
            await asyncio.wait(set(self._inflight))
        return n

    async def stop(self, timeout: float = 10) -> None:
        """Finish the pass under way, give what is due now one more try (the code mail of the reply
        just sent), and wait for the sends, at most ``timeout`` seconds each."""
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
            await asyncio.wait_for(self.run_once(), timeout)
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout)

    # ------------------------------------------------------------ claiming and recording
    async def claim(self, limit: int) -> list[dict[str, Any]]:
        now = self.clock()
        return await outbox.claim(self.owner, now + self.lease, now, limit, self.kinds)

    async def _digest(self, group: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The person's other pending rows of this order, claimed with these (one message)."""
        row = group[0]
        if self._roundup(row):
            return await self._gather(group)
        if not (self.settings.digest_seconds and row["order_no"] and row["kind"] in DIGESTED):
            return group
        rows = await outbox.claim_digest(self.owner, self.clock() + self.lease, row["recipient"], row["order_no"],
                                         sorted(DIGESTED))
        return sorted([*group, *rows], key=lambda r: r["id"])

    async def _gather(self, group: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The person's pending rows of this kind, claimed with these, if no message of the kind went to
        them within the window; else the rows wait for the window's end (and none are returned)."""
        row, now = group[0], self.clock()
        window = timedelta(minutes=self.settings.staff_digest_minutes)
        ends = await outbox.hold(f"{row['recipient']}|{row['kind']}", now, now + window)
        if ends is not None:
            await self._record(group, "pending", retry_at=max(ends, now))
            return []
        rows = await outbox.claim_kind(self.owner, now + self.lease, row["recipient"], row["kind"])
        return sorted([*group, *rows], key=lambda r: r["id"])

    async def _record(self, rows: list[dict[str, Any]], status: str, *, error: str | None = None,
                      via: Target | None = None, retry_at: datetime | None = None, count: bool = False) -> None:
        await outbox.record([r["id"] for r in rows], self.owner, status, self.clock(), error=error,
                            via=str(via) if via else None, retry_at=retry_at, count=count)

    def _backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        base = min(3600.0, self.first_retry * 2 ** max(0, attempts - 1))
        return timedelta(seconds=max(retry_after or 0.0, base * random.uniform(0.5, 1.5)))

    # ------------------------------------------------------------ one notice
    async def deliver(self, group: list[dict[str, Any]]) -> None:
        """Send one message for ``group`` (claimed rows of one person and order, or a single row)."""
        try:
            await self._deliver(group)
        except Exception as e:  # noqa: BLE001 - recorded on the rows and retried
            log.exception("outbox: row %s failed", group[0]["id"])
            try:
                await self._retry(group, Delivery.failed(f"{type(e).__name__}: {e}", retryable=True))
            except Exception:  # noqa: BLE001 - the lease ends and the rows are claimed again
                log.exception("outbox: could not record the failure of row %s", group[0]["id"])

    async def _deliver(self, group: list[dict[str, Any]]) -> None:
        row = group[0]
        if (expires := row["payload"].get("expires_at")) and datetime.fromisoformat(expires) <= self.clock():
            # Worth nothing any more (a code past its 10 minutes): a late one would only mislead.
            why = (f"not delivered within 24 hours; the last try: {row['last_error']}" if row["audience"] == WEBHOOK
                   else "expired before it could be sent")
            await self._record(group, "failed", error=why, count=True)
            return
        if row["audience"] == WEBHOOK:
            await self._webhook(row)
            return
        rows = await self._digest(group)
        if not rows:
            return
        person = await person_of(sql.current(), row["recipient"])
        if row["audience"] == STAFF:
            rows = await self._visible(rows, person)
            if not rows:
                return
            row = rows[0]
        targets = person.targets() if person else [Target(row["channel"], row["address"])]
        if row["audience"] == CUSTOMER and (until := self._quiet(person, targets)):
            await self._record(rows, "pending", retry_at=until)
            return
        # A chat that is no staff member's own (a group they subscribed) reads the group's view.
        audience = GROUP if row["audience"] == STAFF and person is None else row["audience"]
        across = self._roundup(row) and len({r["order_no"] for r in rows}) > 1
        url = None
        if row["audience"] == CUSTOMER and self.link and row["order_no"] and not across:
            # Every customer notice of one order says where its whole story is: the progress page.
            url = await self.link(row["order_no"])
        occasion = Occasion(row["kind"], None if across else row["order_no"], row["payload"], self.clock())
        reasons = []
        for target in targets:
            reply = self._render(rows, audience, *self._reader(row, person, target), url)
            delivery = await self._send(target, reply, occasion)
            if delivery.ok:
                await self._record(rows, "sent", via=target)
                return
            reasons.append(f"{target.channel}: {delivery.reason}")
            if delivery.retryable and not delivery.unreachable:
                await self._retry(rows, delivery, "; ".join(reasons))
                return
        await self._record(rows, "undeliverable", error="; ".join(reasons) or "no channel to reach this person")
        log.warning("outbox: %s for %s is undeliverable (%s)", row["kind"], row["recipient"], "; ".join(reasons))

    async def _webhook(self, row: dict[str, Any]) -> None:
        """One event to one webhook: tried until it is taken, until 24 hours have passed, or until the URL is gone."""
        occasion = Occasion(row["kind"], row["order_no"], {**row["payload"], "outbox_id": row["id"]}, self.clock())
        delivery = await self._send(Target(row["channel"], row["address"]), Reply(""), occasion)
        if delivery.ok:
            await self._record([row], "sent", via=Target(row["channel"], row["address"]))
        elif delivery.retryable:  # no count of tries: the 24 hours in the payload end it
            attempts = row["attempts"] + 1
            await self._record([row], "pending", error=delivery.reason, count=True,
                               retry_at=self.clock() + self._backoff(attempts, delivery.retry_after))
        else:
            await self._record([row], "failed", error=delivery.reason, count=True)

    def _reader(self, row: dict[str, Any], person: Person | None, target: Target) -> tuple[str, ZoneInfo]:
        """The language and zone of the identity ``target`` is: each chat reads what it writes in."""
        seat = person.seat(target) if person is not None else None
        locale = (seat.locale if seat else None) or (person.locale if person else None) or row["locale"]
        return locale, zone(seat.timezone if seat else None, self.engine.tz)

    def _render(self, rows: list[dict[str, Any]], audience: str, locale: str, tz: ZoneInfo,
                url: str | None) -> Reply:
        row = rows[0]
        renderer = self.renderer if tz == self.engine.tz else Renderer(self.engine, tz)
        if len(rows) > 1 and self._roundup(row):
            reply = renderer.roundup(row["kind"], [r["payload"] for r in rows], locale, audience)
        elif len(rows) > 1:
            reply = renderer.digest([(r["kind"], r["payload"]) for r in rows], row["order_no"], locale, audience)
        else:
            reply = renderer.reply(row["kind"], row["payload"], locale, audience)
        return replace(reply, text=f"{reply.text}\n{t('notice.open', locale, url=url)}") if url else reply

    async def _visible(self, rows: list[dict[str, Any]], person: Person | None) -> list[dict[str, Any]]:
        """The staff rows that may go out now (checked again at sending: orders change hands); the
        others are recorded as withheld, with why."""
        if not rows[0]["recipient"].startswith(f"{STAFF}:"):
            return rows  # a group a member subscribed: checked when the notice was written
        if person is None:
            await self._record(rows, "withheld", error="the staff member is disabled or gone")
            return []
        owners = await sales_owners_of(sql.current(), [r["order_no"] for r in rows if r["order_no"]])
        member = (await staff_members(sql.current(), [person.id])).get(person.id) if owners else None
        kept, withheld = [], []
        for r in rows:
            hidden = r["order_no"] in owners and (member is None or not staff_may_see(member, owners[r["order_no"]]))
            (withheld if hidden else kept).append(r)
        for r in withheld:
            await self._record([r], "withheld", error=f"{person.key} may not see order {r['order_no']} (view policy)")
        return kept

    async def _retry(self, rows: list[dict[str, Any]], delivery: Delivery, reason: str | None = None) -> None:
        attempts = rows[0]["attempts"] + 1
        if attempts >= self.max_attempts:
            await self._record(rows, "failed", error=reason or delivery.reason, count=True)
            log.warning("outbox: row %s failed for good after %d attempts: %s", rows[0]["id"], attempts,
                        reason or delivery.reason)
            return
        retry_at = self.clock() + self._backoff(attempts, delivery.retry_after)
        await self._record(rows, "pending", error=reason or delivery.reason, retry_at=retry_at, count=True)

    def _quiet(self, person: Person | None, targets: list[Target]) -> datetime | None:
        spec = self.settings.quiet_hours
        if not spec:
            return None
        seat = person.seat(targets[0]) if person is not None and targets else None
        tz_name = seat.timezone if seat else None
        return quiet_until(self.clock(), spec, zone(tz_name, self.engine.tz))

    async def _send(self, target: Target, reply: Reply, occasion: Occasion) -> Delivery:
        adapter = self.channels.get(target.channel)
        if adapter is None:
            return Delivery.failed(f"the {target.channel} channel is not running", retryable=False, unreachable=True)
        return await adapter.send(target, reply, occasion)
