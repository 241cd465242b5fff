"""Tracking: "where is my order?" from customers and staff, and the list of a customer's orders."""
from __future__ import annotations

import asyncio

from bot.conversation.cards import eta_day, eta_window
from bot.conversation.limits import LOOKUPS_PER_STRANGER, STRANGER_FLOOR, STRANGERS_PER_ORDER
from bot.conversation.router import Context, Router
from handlers.common import find_order, sees, show, staff_lookup, suggest
from handlers.verification import bind, challenge, locked, locked_reply
from models import access, audit, schedule
from models.messages import Button, InboundMessage, Reply
from models.orders import Order

router = Router("tracking")
LOOKUP_INTENTS = frozenset({"track_order", "list_orders", "expedite", "change_request", "after_sales",
                            "subscribe", "unsubscribe"})
MAX_CARDS = 3
MAX_LISTED = 10


@router.command("order", staff_only=True)
async def order_command(msg: InboundMessage, ctx: Context) -> Reply:
    if len(ctx.args) != 1:
        return ctx.reply("staff.usage", usage=ctx.t("usage.order"))
    return await staff_lookup(ctx, ctx.args[0])


def _stranger_in_group(ctx: Context) -> bool:
    return (ctx.msg.is_group and ctx.staff is None and ctx.parse is not None
            and (bool(ctx.parse.order_refs) or ctx.parse.intent in LOOKUP_INTENTS))


@router.when(_stranger_in_group)
async def private_only(msg: InboundMessage, ctx: Context) -> Reply:
    """Only staff look orders up in a group; anyone else is asked to write privately."""
    return ctx.reply("group.private_only")


@router.intent("track_order", "list_orders", staff_only=True)
async def staff_track(msg: InboundMessage, ctx: Context) -> Reply:
    refs = ctx.parse.order_refs[:MAX_CARDS]
    if not refs:
        return ctx.reply("track.ask_order")
    replies = [await staff_lookup(ctx, ref) for ref in refs]
    return replies[0] if len(replies) == 1 else Reply("\n\n".join(r.text for r in replies))


@router.intent("track_order", "list_orders")
async def customer_track(msg: InboundMessage, ctx: Context) -> Reply:
    if locked(ctx):
        return locked_reply(ctx)
    refs = ctx.parse.order_refs
    if not refs:
        if ctx.customer is not None or await access.granted_orders(ctx.identity.id):
            return await my_orders(ctx, listing=ctx.parse.intent == "list_orders")
        return ctx.reply("track.ask_order")
    return await lookup(ctx, refs[0])


async def lookup(ctx: Context, ref: str) -> Reply:
    """A customer (or a stranger) asks for one order.

    Whoever may see it already (the customer's own chat, a chat that proved itself for it)
    is answered at once and spends no limit; everyone else is a stranger to it, limited per
    order and per source, and gets a code sent to the order's contact.
    """
    s = ctx.services
    no = s.engine.normalize(ref)
    order = await find_order(ctx, ref)
    if order is not None and (how := await sees(ctx, order)):
        return await show(ctx, order, verified_by=how)
    if order is None and (guess := suggest(no, await _numbers_seen(ctx))):
        return Reply(ctx.t("track.did_you_mean", ref=no, suggestion=guess), buttons=(Button(guess, guess),))
    if order is not None and ctx.msg.channel == "email":
        customer = await order.customer
        if customer.email and customer.email == ctx.msg.sender_id.strip().lower():
            # The answer goes only to the mailbox on file: the same proof a code gives for a
            # lookup. Only mail the receiving server authenticated makes this mailbox the
            # customer's own chat, which may then ask for changes (README › Security).
            if ctx.msg.authenticated:
                await bind(ctx, customer)
                return await show(ctx, order, verified_by="mail_signed")
            return await show(ctx, order, verified_by="mail_from")
    ctx.floor = STRANGER_FLOOR
    per_order, per_source = await asyncio.gather(
        s.limiter.allow(STRANGERS_PER_ORDER, no),
        s.limiter.allow(LOOKUPS_PER_STRANGER, ctx.msg.source or ctx.msg.session_key))
    if not (per_order and per_source):
        return ctx.reply("rate_limited")
    return await challenge(ctx, no, order)


async def _numbers_seen(ctx: Context) -> list[str]:
    """The order numbers this customer's chat may see (for "did you mean")."""
    if ctx.customer is not None:
        return list(await Order.filter(customer_id=ctx.customer.id).values_list("order_no", flat=True))
    ids = await access.granted_orders(ctx.identity.id)
    return list(await Order.filter(id__in=ids).values_list("order_no", flat=True)) if ids else []


async def visible_orders(ctx: Context, limit: int = 50) -> list[Order]:
    """The orders this customer's chat may see, newest first: all the customer's when it is
    their own chat, else those it proved itself for."""
    if ctx.customer is not None:
        return await Order.filter(customer_id=ctx.customer.id).order_by("-placed_at").limit(limit)
    ids = await access.granted_orders(ctx.identity.id)
    return await Order.filter(id__in=ids).order_by("-placed_at").limit(limit) if ids else []


async def my_orders(ctx: Context, *, listing: bool) -> Reply:
    """A customer's chat without an order number: their one open order, or the list to pick from."""
    engine = ctx.services.engine
    orders = await visible_orders(ctx)
    if not orders:
        return ctx.reply("track.no_orders")
    open_orders = [o for o in orders
                   if not schedule.reached_done(engine.workflow_of(o), o.current_node)]
    how = "bound" if ctx.customer is not None else "granted"
    if len(open_orders) == 1 and not listing:
        return await show(ctx, open_orders[0], verified_by=how)
    shown = (open_orders or orders)[:MAX_LISTED]
    lines = [ctx.t("track.choose", n=len(shown)) if not listing else ctx.t("track.list_header")]
    who = str(ctx.customer.id) if ctx.customer else f"{ctx.msg.channel}:{ctx.msg.sender_id}"
    for o in shown:
        node = engine.node_name(o, ctx.locale)
        window = eta_window(engine, o)
        lines.append(f"· {o.order_no}  {node}"
                     + (f"  → {eta_day(*window, ctx.locale, ctx.tz, engine.clock())}" if window else ""))
        await audit.shown(ctx.msg.channel, ctx.msg.chat_id, o.order_no, ("order_no", "status", "eta"),
                          actor_kind="customer", actor_id=who, verified_by=how)
    return Reply("\n".join(lines), buttons=tuple(Button(o.order_no, o.order_no) for o in shown[:5]))
