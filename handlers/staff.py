"""Staff slash commands, parsed exactly: move orders on, flag and close exceptions, late orders."""
from __future__ import annotations

import uuid

from bot.conversation.policy import staff_may_move, staff_may_see
from bot.conversation.router import Context, Router
from handlers.common import find_order
from models import audit, queries
from models.errors import EngineError
from models.inputs import AckIn, EventIn, ExceptionIn, ResolveIn
from models.messages import InboundMessage, Reply
from models.orders import Order, OrderException
from models.workflows import Node, Workflow

router = Router("staff")
MAX_LATE = 20


async def _order_for(ctx: Context, ref: str, node: Node | None = None, *, moving: bool = True) -> Order | Reply:
    """The order a command names, if this staff member may act on it; else the reply saying no.

    Acknowledging an exception (``moving=False``: "someone has it") is open to all who may
    see the order, so that everyone an exception push reaches can press its Ack button;
    moving the order or resolving the exception is for those who may move its node.
    """
    order = await find_order(ctx, ref)
    if order is None or not staff_may_see(ctx.staff, order.sales_owner):
        return ctx.reply("track.not_found_staff", ref=ctx.services.engine.normalize(ref))
    if not moving:
        return order
    target = node or ctx.services.engine.current_node(order)
    if not staff_may_move(ctx.staff, order.sales_owner, target.department if target else None):
        return ctx.reply("staff.not_allowed", order_no=order.order_no)
    return order


def _node(wf: Workflow, word: str) -> Node | None:
    """A node by its key or by its Chinese or English name."""
    low = word.lower()
    return next((n for n in wf.nodes if low in (n.key, n.name_en.lower()) or word == n.name_zh), None)


def _event_id(msg: InboundMessage) -> str:
    """Idempotent per chat message: a platform's retry of the same message is the same event."""
    return f"{msg.channel}:{msg.chat_id}:{msg.message_id}" if msg.message_id else f"bot-{uuid.uuid4().hex}"


@router.command("advance", staff_only=True)
async def advance(msg: InboundMessage, ctx: Context) -> Reply:
    if len(ctx.args) < 2:
        return ctx.reply("staff.usage", usage="/advance ORDER NODE [note]")
    engine = ctx.services.engine
    order = await find_order(ctx, ctx.args[0])
    wf = engine.workflow_of(order) if order else None
    node = _node(wf, ctx.args[1]) if wf else None
    if order is not None and node is None:
        return ctx.reply("staff.refused", reason=f"{ctx.args[1]}? ({', '.join(n.key for n in wf.nodes)})")
    checked = await _order_for(ctx, ctx.args[0], node)
    if isinstance(checked, Reply):
        return checked
    note = " ".join(ctx.args[2:]) or None
    try:
        result = await engine.apply_event(checked.order_no, EventIn(event_id=_event_id(msg), node=node.key, note=note,
                                                                    actor=ctx.staff.code), source="bot")
    except EngineError as e:
        return ctx.reply("staff.refused", reason=e.message)
    e = result.event
    names = {n.key: n.name(ctx.locale) for n in wf.nodes}
    replayed = ctx.t("staff.replayed") if result.replayed else ""
    if e.kind == "update":  # the order stays where it is: no "质检 → 质检"
        return ctx.reply("staff.updated.note" if e.note else "staff.updated", order_no=checked.order_no,
                         node=names.get(e.node, e.node), note=e.note or "", replayed=replayed)
    return ctx.reply("staff.advanced", order_no=checked.order_no, from_node=names.get(e.from_node, e.from_node),
                     to_node=names.get(e.node, e.node), replayed=replayed)


@router.command("exception", staff_only=True)
async def open_exception(msg: InboundMessage, ctx: Context) -> Reply:
    if len(ctx.args) < 2:
        kinds = "|".join(ctx.services.engine.workflows.exception_kinds)
        return ctx.reply("staff.usage", usage=f"/exception ORDER {kinds} [note]")
    checked = await _order_for(ctx, ctx.args[0])
    if isinstance(checked, Reply):
        return checked
    try:
        x = await ctx.services.engine.open_exception(
            checked.order_no, ExceptionIn(kind=ctx.args[1].lower(), note=" ".join(ctx.args[2:]) or None,
                                          actor=ctx.staff.code), source="bot")
    except EngineError as e:
        return ctx.reply("staff.refused", reason=e.message)
    zh, en = ctx.services.engine.workflows.exception_kinds[x.kind]
    return ctx.reply("staff.exception_opened", order_no=checked.order_no, id=x.id,
                     kind=zh if ctx.locale.startswith("zh") else en)


async def _close(ctx: Context, *, resolve: bool) -> Reply:
    name = "resolve" if resolve else "ack"
    if not ctx.args:
        return ctx.reply("staff.usage", usage=f"/{name} ORDER" + (" [note]" if resolve else ""))
    checked = await _order_for(ctx, ctx.args[0], moving=resolve)
    if isinstance(checked, Reply):
        return checked
    statuses = ("open", "acknowledged") if resolve else ("open",)
    pending = await OrderException.filter(order_id=checked.id, status__in=statuses).order_by("id")
    if not pending:
        return ctx.reply("staff.no_open", order_no=checked.order_no)
    engine, note = ctx.services.engine, " ".join(ctx.args[1:]) or None
    for x in pending:
        if resolve:
            await engine.resolve_exception(checked.order_no, x.id, ResolveIn(actor=ctx.staff.code, note=note),
                                           source="bot")
        else:
            await engine.acknowledge_exception(checked.order_no, x.id, AckIn(actor=ctx.staff.code), source="bot")
    return ctx.reply("staff.resolved" if resolve else "staff.acked", order_no=checked.order_no, n=len(pending))


@router.command("ack", staff_only=True)
async def ack(msg: InboundMessage, ctx: Context) -> Reply:
    return await _close(ctx, resolve=False)


@router.command("resolve", staff_only=True)
async def resolve(msg: InboundMessage, ctx: Context) -> Reply:
    return await _close(ctx, resolve=True)


@router.command("late", staff_only=True)
async def late(msg: InboundMessage, ctx: Context) -> Reply:
    engine = ctx.services.engine
    total, first = await queries.late_in_scope(engine.workflows, engine.today(), ctx.staff, MAX_LATE)
    if not total:
        return ctx.reply("staff.late_none")
    lines = [ctx.t("staff.late_header", n=total)]
    for o in first:
        node = engine.node_name(o, ctx.locale)
        lines.append(f"· {o.order_no}  {node}  {o.promised_date}" + (f"  {o.sales_owner}" if o.sales_owner else ""))
        await audit.shown(msg.channel, msg.chat_id, o.order_no, ("order_no", "status", "promised_date"),
                          actor_kind="staff", actor_id=ctx.staff.code, verified_by="staff")
    if total > MAX_LATE:
        lines.append(f"… +{total - MAX_LATE}")
    return Reply("\n".join(lines))
