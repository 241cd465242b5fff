"""Managing staff members: edit, disable and enable, bind and unbind chat identities, and what a
member holds (orders, exceptions on them, customer requests) so it can be handed on.

Each change is one transaction with its ``action_log`` row. Disabling ends the member's
console sessions in the same transaction; their chat commands and pushes stop because
identity and recipients only ever read active members.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tortoise.transactions import in_transaction

from models import audit
from models.console import ConsoleSession
from models.errors import Conflict, InvalidInput, NotFound
from models.orders import Order, OrderException
from models.people import Identity, Role, StaffMember
from models.requests import CustomerRequest

CHANNELS = ("telegram", "wechat", "email", "wecom", "dingtalk", "web")
EDITABLE = ("name", "role", "department", "code", "email", "locale")


def _snapshot(m: StaffMember) -> dict:
    return {"code": m.code, "name": m.name, "role": m.role.value, "department": m.department, "email": m.email,
            "locale": m.locale, "active": m.active}


async def member(code: str) -> StaffMember:
    found = await StaffMember.filter(code=(code or "").strip().upper()).first()
    if found is None:
        raise NotFound(f"no staff member has the code {code!r}")
    return found


def clean(changes: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in changes.items():
        if key not in EDITABLE:
            raise InvalidInput(f"{key} cannot be changed; these can: {', '.join(EDITABLE)}", field=key)
        text = value.strip() if isinstance(value, str) else value
        if key == "name" and not text:
            raise InvalidInput("name cannot be empty", field="name")
        if key == "name" and len(text) > 100:
            raise InvalidInput("name is longer than 100 characters", field="name")
        if key == "role":
            try:
                text = Role(text)
            except ValueError:
                raise InvalidInput(f"role must be one of {', '.join(r.value for r in Role)}", field="role") from None
        if key == "code":
            text = (text or "").upper()
            if not text or len(text) > 32 or not text.replace("-", "").replace("_", "").isalnum():
                raise InvalidInput("code must be 1 to 32 letters or digits", field="code")
        if key == "email":
            text = text.lower() if text else None
            if text and ("@" not in text or len(text) > 254):
                raise InvalidInput("email is not an e-mail address", field="email")
        if key == "locale" and text not in ("zh", "en"):
            raise InvalidInput("locale must be zh or en", field="locale")
        if key == "department":
            text = text or None
        out[key] = text
    return out


async def edit(code: str, changes: dict[str, object], *, actor: str, now: datetime) -> StaffMember:
    """Change a member's fields; a new code is carried to the orders and requests that name the old one."""
    wanted = clean(changes)
    async with in_transaction():
        m = await member(code)
        before = _snapshot(m)
        new_code = wanted.get("code")
        if new_code and new_code != m.code:
            if await StaffMember.filter(code=new_code).exists():
                raise Conflict(f"staff code {new_code} is taken")
            await Order.filter(sales_owner=m.code).update(sales_owner=new_code)
            await CustomerRequest.filter(assigned_to=m.code).update(assigned_to=new_code)
        for key, value in wanted.items():
            setattr(m, key, value)
        await m.save()
        after = _snapshot(m)
        if after != before:
            await audit.acted(actor, "staff.edit", f"staff:{m.code}", {k: before[k] for k in after if before[k] != after[k]},
                              {k: after[k] for k in after if before[k] != after[k]}, at=now)
        return m


async def set_active(code: str, active: bool, *, actor: str, now: datetime) -> StaffMember:
    """Disable (or enable) a member; disabling ends their console sessions at once."""
    async with in_transaction():
        m = await member(code)
        if m.active == active:
            return m
        m.active = active
        await m.save()
        if not active:
            await ConsoleSession.filter(staff_id=m.id, revoked_at=None).update(revoked_at=now)
        await audit.acted(actor, "staff.enable" if active else "staff.disable", f"staff:{m.code}",
                          {"active": not active}, {"active": active}, at=now)
        return m


def _identity(text: str) -> tuple[str, str]:
    channel, _, external = (text or "").strip().partition(":")
    channel, external = channel.strip().lower(), external.strip()
    if channel not in CHANNELS or not external:
        raise InvalidInput(f"a chat identity is CHANNEL:ID, the channel one of {', '.join(CHANNELS)} "
                           f"(e.g. telegram:1001); got {text!r}", field="identity")
    return channel, external.lower() if channel == "email" else external


async def bind(code: str, identity: str, *, actor: str, now: datetime) -> Identity:
    channel, external = _identity(identity)
    async with in_transaction():
        m = await member(code)
        ident = await Identity.filter(channel=channel, external_id=external).first()
        if ident and ident.staff_id == m.id:
            return ident
        if ident and (ident.staff_id or ident.customer_id):
            raise Conflict(f"{channel}:{external} already belongs to someone else")
        if ident:
            ident.staff_id = m.id
            await ident.save()
        else:
            ident = await Identity.create(channel=channel, external_id=external, staff_id=m.id)
        await audit.acted(actor, "staff.bind", f"staff:{m.code}", None, {"identity": f"{channel}:{external}"}, at=now)
        return ident


async def unbind(code: str, identity: str, *, actor: str, now: datetime) -> None:
    channel, external = _identity(identity)
    async with in_transaction():
        m = await member(code)
        n = await Identity.filter(channel=channel, external_id=external, staff_id=m.id).update(staff_id=None)
        if not n:
            raise NotFound(f"{channel}:{external} is not bound to {m.code}")
        await audit.acted(actor, "staff.unbind", f"staff:{m.code}", {"identity": f"{channel}:{external}"}, None,
                          at=now)


@dataclass
class Holdings:
    """What a member answers for: their orders, the unresolved exceptions on them, their open requests."""

    orders: list[Order] = field(default_factory=list)
    exceptions: list[OrderException] = field(default_factory=list)
    requests: list[CustomerRequest] = field(default_factory=list)


async def holdings(code: str, open_nodes: dict[str, list[str]] | None = None) -> Holdings:
    """``open_nodes``: per workflow, the nodes before its done node (orders still under way); None: all."""
    m = await member(code)
    orders = await Order.filter(sales_owner=m.code).order_by("promised_date", "id")
    if open_nodes is not None:
        orders = [o for o in orders if o.current_node in open_nodes.get(o.workflow, [o.current_node])]
    ids = [o.id for o in orders]
    exceptions = await OrderException.filter(order_id__in=ids, status__in=("open", "acknowledged")) \
        .order_by("opened_at").prefetch_related("order") if ids else []
    requests = await CustomerRequest.filter(assigned_to=m.code, status__not="closed").order_by("-created_at") \
        .prefetch_related("order")
    return Holdings(orders, list(exceptions), list(requests))


async def identities(staff_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for i in await Identity.filter(staff_id__in=staff_ids).order_by("channel", "external_id"):
        out.setdefault(i.staff_id, []).append(f"{i.channel}:{i.external_id}")
    return out


async def reassign(engine, code: str, to: str, *, actor: str, source: str, order_nos: list[str] | None = None) -> int:
    """Hand a member's orders (all, or ``order_nos``) and open requests to another member, one order at a
    time through the engine's update (so each keeps its history); how many orders moved."""
    from models.inputs import OrderPatch

    giver, taker = await member(code), await member(to)
    if giver.id == taker.id:
        raise InvalidInput("an order cannot be handed to the member who has it", field="to")
    if not taker.active:
        raise InvalidInput(f"{taker.code} is disabled", field="to")
    orders = await Order.filter(sales_owner=giver.code).order_by("id").values_list("order_no", flat=True)
    chosen = [no for no in orders if order_nos is None or no in set(order_nos)]
    for no in chosen:
        await engine.update_order(no, OrderPatch(sales_owner=taker.code), source=source, actor=actor)
    moved_requests = await CustomerRequest.filter(assigned_to=giver.code, status__not="closed") \
        .update(assigned_to=taker.code) if order_nos is None else 0
    if chosen or moved_requests:
        await audit.acted(actor, "staff.reassign", f"staff:{giver.code}", {"sales_owner": giver.code},
                          {"sales_owner": taker.code, "orders": len(chosen), "requests": moved_requests},
                          at=engine.clock())
    return len(chosen)
