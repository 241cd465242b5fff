"""What customers ask of a person: expedite, change, after-sales, talk to a human — and the
conversation a person then has with them.

A request starts ``open``; a staff member ``claim``s it (one conditional write: a second
claimer is refused), and while it is ``claimed`` the customer's messages on that chat land in
its thread (``from_customer``) instead of being answered by the bot; staff ``reply`` into the
thread; ``close`` hands the chat back to the bot. What the customer hears of this (taken,
replies, handed back) are outbox rows to the one chat the request came from, written in the
same transaction as the change, with keys that make each go out once.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import fields
from tortoise.expressions import Q
from tortoise.functions import Max
from tortoise.models import Model

from models.audit import acted
from models.messages import Target
from models.orders import Order
from models.outbox import DIRECT, enqueue
from models.people import Customer, Identity, Role, StaffMember
from models.recipients import Recipient, staff_recipient
from models.schedule import utcnow
from models.sql import current, run, transaction
from models import webhooks

OPEN, CLAIMED, CLOSED = "open", "claimed", "closed"
STATUSES = (OPEN, CLAIMED, CLOSED)
IN, OUT = "in", "out"
CUSTOMER = "customer"  # the author of a message the customer wrote
MAX_TEXT = 4000  # what a staff reply may hold: every channel can carry it (Telegram splits past 4096)
# Outbox kinds: to the customer's chat, and to the staff member who has the thread.
CLAIMED_NOTICE, REPLY_NOTICE, CLOSED_NOTICE, MESSAGE_NOTICE = (
    "request_claimed", "request_reply", "request_closed", "request_message")


class CustomerRequest(Model):
    """A customer's request, recorded against the order and handed to the person who owns it."""

    id = fields.BigIntField(primary_key=True)
    order = fields.ForeignKeyField("orderbot.Order", related_name="requests", on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=32)  # expedite, change_request, after_sales, human_agent
    text = fields.TextField()
    channel = fields.CharField(max_length=16)
    address = fields.CharField(max_length=254)  # where the customer can be answered
    assigned_to = fields.CharField(max_length=32, null=True)  # a staff code
    status = fields.CharField(max_length=16, default="open", db_index=True)  # open, claimed, closed
    created_at = fields.DatetimeField(auto_now_add=True)
    claimed_by = fields.CharField(max_length=32, null=True)  # the staff code of whoever has the conversation
    claimed_at = fields.DatetimeField(null=True)
    handled_at = fields.DatetimeField(null=True)  # closed when
    handled_by = fields.CharField(max_length=128, null=True)  # closed by (a staff code)

    class Meta:
        table = "customer_requests"
        indexes = (("channel", "address", "status"),)


class RequestMessage(Model):
    """One message of a request's thread: the customer's (in) or a staff member's (out)."""

    id = fields.BigIntField(primary_key=True)
    request = fields.ForeignKeyField("orderbot.CustomerRequest", related_name="messages", on_delete=fields.CASCADE)
    at = fields.DatetimeField()
    direction = fields.CharField(max_length=3)  # in, out
    author = fields.CharField(max_length=32)  # a staff code, or "customer"
    text = fields.TextField()

    class Meta:
        table = "request_messages"
        indexes = (("request_id", "id"),)


@dataclass(frozen=True)
class Refused:
    """Why a change to a request was not made: ``gone``, ``closed``, ``taken`` (``by`` has it),
    ``empty`` or ``too_long`` (a reply)."""

    reason: str
    by: str | None = None


async def record(order: Order, kind: str, text: str, reply_to: Target, owner: StaffMember | None,
                 now: datetime | None = None) -> CustomerRequest:
    """Record a customer's request against ``order`` (the first message of its thread) and, in the
    same transaction, the notice that hands it to ``owner`` (who answers for the order), due ``now``."""
    recipient = await staff_recipient(owner) if owner is not None else None
    customer = await order.customer
    async with transaction():
        req = await CustomerRequest.create(order=order, kind=kind, text=text, channel=reply_to.channel,
                                           address=reply_to.address, assigned_to=owner.code if owner else None,
                                           created_at=now)  # None: the database's clock
        await RequestMessage.create(request=req, at=req.created_at, direction=IN, author=CUSTOMER, text=text)
        await webhooks.announce("request_created", f"request_created:{req.id}", {
            "order_no": order.order_no, "request_id": req.id, "kind": kind, "text": text, "channel": reply_to.channel,
            "assigned_to": req.assigned_to}, now or utcnow(), order.order_no)
        if owner is not None:
            await enqueue(f"request:{req.id}", "customer_request", [recipient],
                          {"order_no": order.order_no, "request_id": req.id, "kind": kind, "text": text,
                           "customer": customer.name}, order_no=order.order_no, due=now)
    return req


# ---------------------------------------------------------------- reading
@dataclass(frozen=True)
class Listed:
    """A request as the inbox lists it."""

    request: CustomerRequest
    order_no: str
    sales_owner: str | None
    customer: str
    last_at: datetime  # its last message's time (the request's, before any)


async def listing(*, statuses: Sequence[str] = (), mine: str | None = None, owner: str | None = None,
                  limit: int = 100) -> list[Listed]:
    """Requests newest first: of these statuses, ``mine`` (claimed by, or handed to, that staff code),
    on orders of one sales owner."""
    qs = CustomerRequest.all()
    if statuses:
        qs = qs.filter(status__in=list(statuses))
    if mine:
        qs = qs.filter(Q(claimed_by=mine) | Q(claimed_by=None, assigned_to=mine))
    if owner:
        qs = qs.filter(order__sales_owner=owner)
    found = await qs.order_by("-created_at", "-id").limit(limit).prefetch_related("order__customer")
    last: dict[int, datetime] = {}
    if found:
        last = dict(await RequestMessage.filter(request_id__in=[r.id for r in found]).annotate(last=Max("at"))
                    .group_by("request_id").values_list("request_id", "last"))
    return [Listed(r, r.order.order_no, r.order.sales_owner, r.order.customer.name, last.get(r.id, r.created_at))
            for r in found]


async def one(request_id: int) -> Listed | None:
    """A request with its order and customer, or None."""
    r = await CustomerRequest.get_or_none(id=request_id).prefetch_related("order__customer")
    if r is None:
        return None
    return Listed(r, r.order.order_no, r.order.sales_owner, r.order.customer.name, r.created_at)


async def thread(request_id: int, after: int = 0) -> list[RequestMessage]:
    """A request's messages, oldest first (those after message id ``after``); a request recorded before
    threads existed shows its text as the first message."""
    found = await RequestMessage.filter(request_id=request_id, id__gt=after).order_by("id")
    if not found and not after and (req := await CustomerRequest.get_or_none(id=request_id)) is not None:
        if not await RequestMessage.filter(request_id=request_id).exists():
            return [RequestMessage(id=0, request_id=request_id, at=req.created_at, direction=IN, author=CUSTOMER,
                                   text=req.text)]
    return found


async def names(codes: list[str | None]) -> dict[str, str]:
    """Staff names by code (upper case) for the codes a thread holds."""
    wanted = sorted({c.upper() for c in codes if c and c != CUSTOMER})
    if not wanted:
        return {}
    return {c.upper(): n for c, n in await StaffMember.filter(code__in=wanted).values_list("code", "name")}


# ---------------------------------------------------------------- changing
async def _customer(req: CustomerRequest) -> Recipient:
    """The chat the request came from, as the one address its notices go to, in the chat's language."""
    to = Target(req.channel, req.address)
    ident = await Identity.get_or_none(channel=req.channel, external_id=req.address)
    locale = ident.locale if ident and ident.locale else None
    if locale is None:
        order = await Order.get(id=req.order_id)
        locale = (await Customer.get(id=order.customer_id)).locale
    return Recipient(str(to), DIRECT, to, locale or "zh")


async def _tell_customer(req: CustomerRequest, key: str, kind: str, payload: dict[str, Any], order_no: str,
                         now: datetime) -> None:
    await enqueue(key, kind, [await _customer(req)], {"order_no": order_no, **payload}, order_no=order_no, due=now)


async def _take(req_id: int, member: StaffMember, now: datetime) -> tuple[Refused | None, CustomerRequest | None]:
    """Claim the request for ``member`` inside the caller's transaction (one conditional write, so
    of two claimers one wins); the customer is told a person has the conversation."""
    won = await run(current(), "UPDATE customer_requests SET status = ?, claimed_by = ?, claimed_at = ? "
                               "WHERE id = ? AND status = ? RETURNING id", [CLAIMED, member.code, now, req_id, OPEN])
    req = await CustomerRequest.get_or_none(id=req_id)
    if req is None:
        return Refused("gone"), None
    if not won:
        if req.status == CLOSED:
            return Refused("closed"), req
        if (req.claimed_by or "").upper() != member.code.upper():
            return Refused("taken", req.claimed_by), req
        return None, req  # already this member's: nothing to do twice
    order = await Order.get(id=req.order_id)
    await _tell_customer(req, f"request:{req.id}:claimed", CLAIMED_NOTICE, {"staff": member.name}, order.order_no, now)
    await acted(member.code, "request.claim", f"request:{req.id}", {"status": OPEN},
                {"status": CLAIMED, "claimed_by": member.code}, at=now)
    return None, req


async def claim(req_id: int, member: StaffMember, now: datetime) -> tuple[Refused | None, CustomerRequest | None]:
    """``member`` takes the conversation; refused when someone else has it or it is closed."""
    async with transaction():
        return await _take(req_id, member, now)


async def reply(req_id: int, member: StaffMember, text: str, now: datetime
                ) -> tuple[Refused | None, RequestMessage | None]:
    """``member`` answers the customer (claiming the request first when nobody has it): the message
    joins the thread and goes to the customer's chat through the outbox, once."""
    text = text.strip().replace("\x00", "")
    if not text:
        return Refused("empty"), None
    if len(text) > MAX_TEXT:
        return Refused("too_long"), None
    async with transaction():
        refused, req = await _take(req_id, member, now)
        if refused is not None:
            return refused, None
        msg = await RequestMessage.create(request=req, at=now, direction=OUT, author=member.code, text=text)
        order = await Order.get(id=req.order_id)
        await _tell_customer(req, f"request_message:{msg.id}", REPLY_NOTICE, {"staff": member.name, "text": text},
                             order.order_no, now)
        await acted(member.code, "request.reply", f"request:{req.id}", None, {"message": msg.id}, at=now)
        return None, msg


async def close(req_id: int, member: StaffMember, now: datetime) -> tuple[Refused | None, CustomerRequest | None]:
    """Close the request (its claimer, or a manager; an unclaimed one anyone who sees it); a chat a
    person had goes back to the bot, and the customer is told so."""
    boss = member.role in (Role.ADMIN, Role.MANAGER)
    async with transaction():
        before = await CustomerRequest.get_or_none(id=req_id)
        if before is None:
            return Refused("gone"), None
        done = await run(current(), (
            "UPDATE customer_requests SET status = ?, handled_at = ?, handled_by = ? WHERE id = ? AND status <> ? "
            "AND (claimed_by IS NULL OR UPPER(claimed_by) = ? OR ?) RETURNING claimed_by"),
            [CLOSED, now, member.code, req_id, CLOSED, member.code.upper(), boss])
        if not done:
            req = await CustomerRequest.get(id=req_id)
            return (Refused("closed"), req) if req.status == CLOSED else (Refused("taken", req.claimed_by), req)
        req = await CustomerRequest.get(id=req_id)
        if done[0]["claimed_by"]:
            order = await Order.get(id=req.order_id)
            await _tell_customer(req, f"request:{req.id}:closed", CLOSED_NOTICE, {"staff": member.name},
                                 order.order_no, now)
        await acted(member.code, "request.close", f"request:{req.id}", {"status": before.status},
                    {"status": CLOSED}, at=now)
        return None, req


async def from_customer(to: Target, text: str, now: datetime) -> tuple[CustomerRequest, StaffMember | None] | None:
    """A message from the chat ``to`` while a person has its conversation: it joins the thread and
    the person hears of it (one outbox row per message; the sender digests a burst). None: no
    conversation is claimed on this chat, and the bot answers."""
    req = await CustomerRequest.filter(channel=to.channel, address=to.address, status=CLAIMED) \
        .order_by("-claimed_at", "-id").first()
    if req is None:
        return None
    claimer = await StaffMember.get_or_none(code=req.claimed_by) if req.claimed_by else None
    recipient = await staff_recipient(claimer) if claimer is not None and claimer.active else None
    async with transaction():
        msg = await RequestMessage.create(request=req, at=now, direction=IN, author=CUSTOMER, text=text)
        order = await Order.get(id=req.order_id).prefetch_related("customer")
        await enqueue(f"request_message:{msg.id}", MESSAGE_NOTICE, [recipient],
                      {"order_no": order.order_no, "request_id": req.id, "customer": order.customer.name,
                       "text": text}, order_no=order.order_no, due=now)
    return req, claimer
