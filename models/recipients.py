"""Who hears of what, who answers for an order, and every way to reach them.

A ``Recipient`` is a person (a bound customer, a staff member) or a chat that is no one's
own (a group that subscribed). A person is reached first where they last wrote to us,
then on their other bound channels, then by e-mail (``Person.targets``). Subscriptions
say who follows what. ``Answerers`` is the rule for who answers for an order: its sales
owner, else a member of the current node's department, else a manager. Everything here
reads in a few statements for a whole batch of orders, on the connection of the
transaction that writes the notices.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tortoise import fields
from tortoise.models import Model

from models.messages import Target
from models.people import Customer, Role, StaffMember
from models.sql import Connection, as_datetime, current, execute, marks, run

CUSTOMER, STAFF = "customer", "staff"


class Subscription(Model):
    """Who hears about what: a Target (channel + address) and a scope.

    Scopes: ``order`` (one order), ``customer`` (all of a customer's orders),
    ``exceptions`` (optionally of one department or node), ``all`` (managers).
    ``scope_key`` spells the scope out so that the same subscription exists once.
    """

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    address = fields.CharField(max_length=254)
    scope = fields.CharField(max_length=16)
    scope_key = fields.CharField(max_length=128)
    order = fields.ForeignKeyField("orderbot.Order", related_name="subscriptions", null=True,
                                   on_delete=fields.CASCADE)
    customer = fields.ForeignKeyField("orderbot.Customer", related_name="subscriptions", null=True,
                                      on_delete=fields.CASCADE)
    staff = fields.ForeignKeyField("orderbot.StaffMember", related_name="subscriptions", null=True,
                                   on_delete=fields.CASCADE)
    department = fields.CharField(max_length=64, null=True)
    node = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "subscriptions"
        unique_together = (("channel", "address", "scope_key"),)


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


async def people(conn: Connection, kind: str, ids: Iterable[int], *, bound_only: bool = False
                 ) -> dict[int, Person]:
    """Customers or staff members by id, with their identities.

    ``bound_only`` leaves out customers who never bound a chat (they asked for no notices).
    """
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    table, extra = ("customers", "") if kind == CUSTOMER else ("staff_members", " AND active = ?")
    params: list[Any] = [*wanted] + ([True] if extra else [])
    rows = await run(conn, (
        f"SELECT id, locale, email FROM {table} WHERE id IN ({marks(len(wanted))}){extra}"), params)
    found = {r["id"]: Person(kind, r["id"], r["locale"] or "zh", r["email"]) for r in rows}
    if found:
        column = "customer_id" if kind == CUSTOMER else "staff_id"
        idents = await run(conn, (
            f"SELECT {column} AS owner, channel, external_id, locale, timezone, last_inbound_at FROM identities "
            f"WHERE {column} IN ({marks(len(found))}) ORDER BY id"), list(found))
        for i in idents:
            found[i["owner"]].identities.append(Seat(Target(i["channel"], i["external_id"]),
                                                     as_datetime(i["last_inbound_at"]), i["locale"], i["timezone"]))
    if bound_only:
        found = {k: p for k, p in found.items() if p.identities}
    return found


async def person_of(conn: Connection, key: str) -> Person | None:
    """The person behind an outbox recipient key (None for a chat that is no one's own)."""
    kind, _, ident = key.partition(":")
    if kind not in (CUSTOMER, STAFF) or not ident.isdigit():
        return None
    return (await people(conn, kind, [int(ident)])).get(int(ident))


async def names_of(keys: Iterable[str]) -> dict[str, str]:
    """People's names by recipient key (``staff:3`` → 王芳), for lists a person reads; unknown keys left out."""
    ids: dict[str, set[int]] = {CUSTOMER: set(), STAFF: set()}
    for key in keys:
        kind, _, ident = key.partition(":")
        if kind in ids and ident.isdigit():
            ids[kind].add(int(ident))
    found: dict[str, str] = {}
    for kind, model in ((CUSTOMER, Customer), (STAFF, StaffMember)):
        if ids[kind]:
            for ident, name in await model.filter(id__in=sorted(ids[kind])).values_list("id", "name"):
                found[f"{kind}:{ident}"] = name
    return found


async def staff_members(conn: Connection, ids: Iterable[int]) -> dict[int, StaffMember]:
    """Staff members by id, as the view policy reads them (role, code, department, active)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await run(conn, "SELECT id, code, name, role, department, active FROM staff_members "
                           f"WHERE id IN ({marks(len(wanted))})", wanted)
    return {r["id"]: StaffMember(id=r["id"], code=r["code"], name=r["name"], role=Role(r["role"]),
                                 department=r["department"], active=bool(r["active"])) for r in rows}


async def sales_owner_of(conn: Connection, order_no: str) -> tuple[bool, str | None]:
    """Whether the order exists, and its sales owner now."""
    rows = await run(conn, "SELECT sales_owner FROM orders WHERE order_no = ?", [order_no])
    return (True, rows[0]["sales_owner"]) if rows else (False, None)


async def sales_owners_of(conn: Connection, order_nos: Iterable[str]) -> dict[str, str | None]:
    """The sales owner now of each of these orders that exists."""
    wanted = sorted(set(order_nos))
    if not wanted:
        return {}
    rows = await run(conn, f"SELECT order_no, sales_owner FROM orders WHERE order_no IN ({marks(len(wanted))})",
                     wanted)
    return {r["order_no"]: r["sales_owner"] for r in rows}


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


async def subscriptions(conn: Connection, *, order_ids: Iterable[int] = (),
                        customer_ids: Iterable[int] = (), exceptions: bool = False) -> list[Sub]:
    """Subscriptions to these orders, to all orders of these customers, and (``exceptions``) to exceptions."""
    where, params = [], []
    o, c = sorted(set(order_ids)), sorted(set(customer_ids))
    if o:
        where.append(f"(scope = 'order' AND order_id IN ({marks(len(o))}))")
        params += o
    if c:
        where.append(f"(scope = 'customer' AND customer_id IN ({marks(len(c))}))")
        params += c
    if exceptions:
        where.append("scope IN ('exceptions', 'all')")
    if not where:
        return []
    rows = await run(conn, (
        "SELECT channel, address, scope, scope_key, order_id, customer_id, staff_id, department, node "
        f"FROM subscriptions WHERE {' OR '.join(where)} ORDER BY id"), params)
    return [Sub(Target(r["channel"], r["address"]), r["scope"], r["scope_key"], r["order_id"], r["customer_id"],
                r["staff_id"], r["department"], r["node"]) for r in rows]


async def subscribers(conn: Connection, subs: list[Sub]) -> dict[Sub, Recipient]:
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


async def subscribe(target: Target, scope: str, scope_key: str, **about: Any) -> None:
    """``target`` follows ``scope_key`` (once, however often it asks)."""
    await Subscription.get_or_create(channel=target.channel, address=target.address, scope_key=scope_key,
                                     defaults={"scope": scope, **about})


async def unsubscribe(target: Target, *, key: str | None = None, prefix: str | None = None) -> int:
    """Remove ``target``'s subscriptions: one (``key``), a family (``prefix``) or all; how many went."""
    qs = Subscription.filter(channel=target.channel, address=target.address)
    if key is not None:
        qs = qs.filter(scope_key=key)
    elif prefix is not None:
        qs = qs.filter(scope_key__startswith=prefix)
    return await qs.delete()


async def last_inbound(target: Target) -> datetime | None:
    """When the person at ``target`` last wrote to us (None: never, or not known)."""
    rows = await execute("SELECT last_inbound_at FROM identities WHERE channel = ? AND external_id = ?",
                         [target.channel, target.address])
    return as_datetime(rows[0]["last_inbound_at"]) if rows else None


# ---------------------------------------------------------------- who answers for an order
class Owned(Protocol):
    """An order as the rule reads it (an ``Order`` or an ``OrderState``)."""

    sales_owner: str | None


class Answerers:
    """Whoever answers for an order now: its sales owner, else the first member of the node's
    department, else a manager; for many orders from one read of the staff."""

    def __init__(self, staff: list[dict[str, Any]]) -> None:
        self.by_code = {m["code"].upper(): m["id"] for m in staff}
        self.by_department: dict[str, int] = {}
        for m in staff:
            if m["department"]:
                self.by_department.setdefault(m["department"], m["id"])
        bosses = sorted((m for m in staff if m["role"] in ("admin", "manager")), key=lambda m: (m["role"], m["id"]))
        self.boss = bosses[0]["id"] if bosses else None

    @classmethod
    async def load(cls, conn: Connection | None = None) -> Answerers:
        rows = await run(conn or current(), "SELECT id, code, role, department FROM staff_members WHERE active = ? "
                                            "ORDER BY id", [True])
        return cls(rows)

    def staff_id(self, order: Owned, department: str | None) -> int | None:
        if order.sales_owner and order.sales_owner.upper() in self.by_code:
            return self.by_code[order.sales_owner.upper()]
        return self.by_department.get(department or "") or self.boss

    async def recipients(self, conn: Connection, wanted: Sequence[tuple[Owned, str | None]]) -> list[list[Recipient]]:
        """For each (order, node department): its answerer as a recipient (or nobody)."""
        ids = [self.staff_id(o, d) for o, d in wanted]
        found = await people(conn, STAFF, [i for i in ids if i])
        return [[r] if i in found and (r := found[i].recipient()) else [] for i in ids]


async def owner_of(order: Owned, node_department: str | None) -> StaffMember | None:
    """Who answers for ``order`` now, as a staff member (the same rule the notices use)."""
    staff_id = (await Answerers.load()).staff_id(order, node_department)
    return await StaffMember.get_or_none(id=staff_id) if staff_id else None


async def staff_recipient(member: StaffMember) -> Recipient | None:
    """A staff member as a recipient (None when they have no channel and no e-mail)."""
    found = await people(current(), STAFF, [member.id])
    return found[member.id].recipient() if member.id in found else None
