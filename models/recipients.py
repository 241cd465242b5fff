"""Who a notice is for, and every way to reach them.

A ``Recipient`` is a person (a bound customer, a staff member) or a chat that is no one's
own (a group that subscribed). A person is reached first where they last wrote to us,
then on their other bound channels, then by e-mail (``Person.targets``). Everything here
reads in a few statements for a whole batch of orders, on the connection of the
transaction that writes the notices.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models.messages import Target
from models.store import sql

CUSTOMER, STAFF = "customer", "staff"


@dataclass(frozen=True)
class Recipient:
    """One row of the outbox per event and recipient: ``key`` is what makes it unique."""

    key: str
    audience: str  # customer or staff: quiet hours are for customers only
    first: Target
    locale: str


@dataclass(frozen=True)
class Seat:
    """One of a person's chat identities."""

    target: Target
    last_inbound_at: datetime | None
    locale: str | None
    timezone: str | None


@dataclass
class Person:
    """A customer or a staff member with their channels, most recently used first."""

    kind: str
    id: int
    locale: str
    email: str | None
    identities: list[Seat] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def targets(self) -> list[Target]:
        """Last used channel → other bound channels → e-mail."""
        ranked = sorted(self.identities, key=lambda s: (s.last_inbound_at is not None,
                                                        s.last_inbound_at or datetime.min), reverse=True)
        out = [s.target for s in ranked]
        if self.email and Target("email", self.email) not in out:
            out.append(Target("email", self.email))
        return out

    def recipient(self) -> Recipient | None:
        targets = self.targets()
        if not targets:
            return None
        first = targets[0]
        seat = self.seat(first)
        return Recipient(self.key, self.kind, first, (seat.locale if seat else None) or self.locale)

    def seat(self, target: Target) -> Seat | None:
        return next((s for s in self.identities if s.target == target), None)

    def owns(self, target: Target) -> bool:
        return self.seat(target) is not None or (target.channel == "email" and target.address == self.email)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def as_datetime(value: Any) -> datetime | None:
    """A datetime as the driver returns it (SQLite: ISO text)."""
    return value if value is None or isinstance(value, datetime) else datetime.fromisoformat(value)


async def people(conn: BaseDBAsyncClient, kind: str, ids: Iterable[int], *, bound_only: bool = False
                 ) -> dict[int, Person]:
    """Customers or staff members by id, with their identities.

    ``bound_only`` leaves out customers who never bound a chat (they asked for no notices).
    """
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    table, extra = ("customers", "") if kind == CUSTOMER else ("staff_members", " AND active = ?")
    params: list[Any] = [*wanted] + ([True] if extra else [])
    rows = await conn.execute_query_dict(sql(conn, (
        f"SELECT id, locale, email FROM {table} WHERE id IN ({_marks(len(wanted))}){extra}")), params)
    found = {r["id"]: Person(kind, r["id"], r["locale"] or "zh", r["email"]) for r in rows}
    if found:
        column = "customer_id" if kind == CUSTOMER else "staff_id"
        idents = await conn.execute_query_dict(sql(conn, (
            f"SELECT {column} AS owner, channel, external_id, locale, timezone, last_inbound_at FROM identities "
            f"WHERE {column} IN ({_marks(len(found))}) ORDER BY id")), list(found))
        for i in idents:
            found[i["owner"]].identities.append(Seat(Target(i["channel"], i["external_id"]),
                                                     as_datetime(i["last_inbound_at"]), i["locale"], i["timezone"]))
    if bound_only:
        found = {k: p for k, p in found.items() if p.identities}
    return found


async def person_of(conn: BaseDBAsyncClient, key: str) -> Person | None:
    """The person behind an outbox recipient key (None for a chat that is no one's own)."""
    kind, _, ident = key.partition(":")
    if kind not in (CUSTOMER, STAFF) or not ident.isdigit():
        return None
    return (await people(conn, kind, [int(ident)])).get(int(ident))


@dataclass(frozen=True)
class Sub:
    """A subscription as the notices need it."""

    target: Target
    scope: str
    scope_key: str
    order_id: int | None
    customer_id: int | None
    staff_id: int | None
    department: str | None
    node: str | None


async def subscriptions(conn: BaseDBAsyncClient, *, order_ids: Iterable[int] = (),
                        customer_ids: Iterable[int] = (), exceptions: bool = False) -> list[Sub]:
    """Subscriptions to these orders, to all orders of these customers, and (``exceptions``) to exceptions."""
    where, params = [], []
    o, c = sorted(set(order_ids)), sorted(set(customer_ids))
    if o:
        where.append(f"(scope = 'order' AND order_id IN ({_marks(len(o))}))")
        params += o
    if c:
        where.append(f"(scope = 'customer' AND customer_id IN ({_marks(len(c))}))")
        params += c
    if exceptions:
        where.append("scope IN ('exceptions', 'all')")
    if not where:
        return []
    rows = await conn.execute_query_dict(sql(conn, (
        "SELECT channel, address, scope, scope_key, order_id, customer_id, staff_id, department, node "
        f"FROM subscriptions WHERE {' OR '.join(where)} ORDER BY id")), params)
    return [Sub(Target(r["channel"], r["address"]), r["scope"], r["scope_key"], r["order_id"], r["customer_id"],
                r["staff_id"], r["department"], r["node"]) for r in rows]


async def subscribers(conn: BaseDBAsyncClient, subs: list[Sub]) -> dict[Sub, Recipient]:
    """Each subscription's recipient: the person when it is one of their own chats, else the chat."""
    customers = await people(conn, CUSTOMER, [s.customer_id for s in subs if s.customer_id and not s.staff_id])
    staff = await people(conn, STAFF, [s.staff_id for s in subs if s.staff_id])
    out = {}
    for s in subs:
        person = staff.get(s.staff_id) if s.staff_id else customers.get(s.customer_id)
        if s.staff_id and person is None:
            continue  # a staff member who left
        if person is not None and person.owns(s.target):
            rec = person.recipient()
        else:
            audience = STAFF if s.staff_id else CUSTOMER
            rec = Recipient(f"{s.target.channel}:{s.target.address}", audience, s.target,
                            person.locale if person else "zh")
        if rec is not None:
            out[s] = rec
    return out
