"""Staff slash commands, parsed exactly: move orders on, flag and close exceptions, late orders."""
from __future__ import annotations

import uuid

from bot.conversation.policy import staff_may_move, staff_may_see
from bot.conversation.durations import span
from bot.conversation.router import Context, Router
from bot.conversation.texts import person, refusal
from handlers.common import find_order
from models import audit, console, queries
from models.errors import EngineError
from models.inputs import AckIn, EventIn, ExceptionIn, ResolveIn
from models.messages import Button, InboundMessage, Reply
from models.orders import Order, OrderException
from models.people import staff_names
from models.workflows import Node

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


CONSOLE_WORDS = ("后台", "console", "控制台")


@router.command("console", staff_only=True)
@router.command("后台", staff_only=True)
@router.when(lambda ctx: ctx.msg.text.strip().lower() in CONSOLE_WORDS, staff_only=True)
async def console_link(msg: InboundMessage, ctx: Context) -> Reply:
    """A one-time sign-in link to the console, the answer's only URL; never into a group."""
    if msg.is_group:
        return ctx.reply("console.in_group")
    token = await console.issue_link(ctx.staff, msg.channel, ctx.services.engine.clock())
    base = (ctx.services.console_url or "").rstrip("/")
    return ctx.reply("console.link", url=f"{base}/console/signin/{token}")


def _event_id(msg: InboundMessage) -> str:
    """Idempotent per chat message: a platform's retry of the same message is the same event."""
    return f"{msg.channel}:{msg.chat_id}:{msg.message_id}" if msg.message_id else f"bot-{uuid.uuid4().hex}"


@router.command("advance", staff_only=True)
async def advance(msg: InboundMessage, ctx: Context) -> Reply:
    if len(ctx.args) < 2:
        return ctx.reply("staff.usage", usage=ctx.t("usage.advance"))
    engine = ctx.services.engine
    order = await find_order(ctx, ctx.args[0])
    wf = engine.workflow_of(order) if order else None
    node = wf.find(ctx.args[1]) if wf else None
    if order is not None and node is None:
        nodes = ("、" if ctx.locale.startswith("zh") else ", ").join(n.name(ctx.locale) for n in wf.nodes)
        return ctx.reply("staff.refused", reason=ctx.t("refusal.unknown_node", word=ctx.args[1], nodes=nodes))
    checked = await _order_for(ctx, ctx.args[0], node)
    if isinstance(checked, Reply):
        return checked
    note = " ".join(ctx.args[2:]) or None
    try:
        result = await engine.apply_event(checked.order_no, EventIn(event_id=_event_id(msg), node=node.key, note=note,
                                                                    actor=ctx.staff.code), source="bot")
    except EngineError as e:
        return ctx.reply("staff.refused", reason=refusal(e, ctx.locale, wf))
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
        return ctx.reply("staff.usage", usage=ctx.t("usage.exception", kinds=kinds))
    checked = await _order_for(ctx, ctx.args[0])
    if isinstance(checked, Reply):
        return checked
    try:
        x = (await ctx.services.engine.open_exception(
            checked.order_no, ExceptionIn(kind=ctx.args[1].lower(), note=" ".join(ctx.args[2:]) or None,
                                          actor=ctx.staff.code), source="bot")).exception
    except EngineError as e:
        kinds = ctx.services.engine.workflows.exception_kinds
        return ctx.reply("staff.refused", reason=refusal(e, ctx.locale, kinds=kinds))
    return ctx.reply("staff.exception_opened", order_no=checked.order_no, id=x.id, kind=_kind(ctx, x.kind))


ALL = ("all", "全部")


def _which(word: str, pending: list[OrderException]) -> list[OrderException] | None:
    """The exceptions ``word`` picks among ``pending``: all, the n-th of the list, or ``#id`` (or the id);
    [] when it picks none of them, None when it is no choice at all (a resolve's note, say)."""
    low = word.lower()
    if low in ALL:
        return list(pending)
    digits = low.removeprefix("#")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        return None
    n = int(digits)
    if not low.startswith("#") and 1 <= n <= len(pending):
        return [pending[n - 1]]
    return [x for x in pending if x.id == n]


def _kind(ctx: Context, kind: str) -> str:
    zh, en = ctx.services.engine.workflows.exception_kinds.get(kind, (kind, kind))
    return zh if ctx.locale.startswith("zh") else en


def _pick(ctx: Context, name: str, order: Order, pending: list[OrderException], key: str, **values: str) -> Reply:
    """The order's exceptions, numbered, to pick one from (or all): nothing is done yet."""
    engine, no = ctx.services.engine, order.order_no
    lines = [ctx.t("staff.pick.line", i=i, kind=_kind(ctx, x.kind), node=engine.node_name(order, ctx.locale, x.node),
                   age=span(ctx.services.engine.clock() - x.opened_at, ctx.locale), id=x.id) for i, x in enumerate(pending, 1)]
    text = ctx.t(key, order_no=no, n=len(pending), lines="\n".join(lines), command=name, **values)
    buttons = [Button(f"{i}. {_kind(ctx, x.kind)} #{x.id}", f"/{name} {no} #{x.id}") for i, x in enumerate(pending, 1)]
    return Reply(text, buttons=(*buttons, Button(ctx.t("staff.pick.all"), f"/{name} {no} all")))


async def _close(ctx: Context, *, resolve: bool) -> Reply:
    """``/ack ORDER`` acts on the order's one open exception; with several it lists them and does nothing
    until one is named (its number in the list, ``#id``) or all are (``all``, 全部)."""
    name = "resolve" if resolve else "ack"
    if not ctx.args:
        return ctx.reply("staff.usage", usage=ctx.t(f"usage.{name}"))
    checked = await _order_for(ctx, ctx.args[0], moving=resolve)
    if isinstance(checked, Reply):
        return checked
    statuses = ("open", "acknowledged") if resolve else ("open",)
    pending = await OrderException.filter(order_id=checked.id, status__in=statuses).order_by("id")
    if not pending:
        return ctx.reply("staff.no_open", order_no=checked.order_no)
    picked = _which(ctx.args[1], pending) if len(ctx.args) > 1 else None
    if picked == []:
        return _pick(ctx, name, checked, pending, "staff.pick.none", which=ctx.args[1][:20])
    if picked is None and len(pending) > 1:
        return _pick(ctx, name, checked, pending, f"staff.pick.{name}")
    chosen = picked or pending
    engine, note = ctx.services.engine, " ".join(ctx.args[1 if picked is None else 2:]) or None
    for x in chosen:
        if resolve:
            await engine.resolve_exception(checked.order_no, x.id, ResolveIn(actor=ctx.staff.code, note=note),
                                           source="bot")
        else:
            await engine.acknowledge_exception(checked.order_no, x.id, AckIn(actor=ctx.staff.code), source="bot")
    if len(chosen) == 1:
        return ctx.reply("staff.resolved_one" if resolve else "staff.acked_one", order_no=checked.order_no,
                         id=chosen[0].id, kind=_kind(ctx, chosen[0].kind))
    return ctx.reply("staff.resolved" if resolve else "staff.acked", order_no=checked.order_no, n=len(chosen))


@router.command("ack", staff_only=True)
async def ack(msg: InboundMessage, ctx: Context) -> Reply:
    return await _close(ctx, resolve=False)


@router.command("resolve", staff_only=True)
async def resolve(msg: InboundMessage, ctx: Context) -> Reply:
    return await _close(ctx, resolve=True)


@router.command("rework", staff_only=True)
@router.command("返工", staff_only=True)
async def rework(msg: InboundMessage, ctx: Context) -> Reply:
    """``/rework ORDER NODE reason…``: back to an earlier node, as the API's rework event; a reason is required.

    Whoever may move the order's current node sends it back (QC finding a defect sends it to production).
    """
    if len(ctx.args) < 2:
        return ctx.reply("staff.usage", usage=ctx.t("usage.rework"))
    engine = ctx.services.engine
    checked = await _order_for(ctx, ctx.args[0])
    if isinstance(checked, Reply):
        return checked
    wf = engine.workflows.get(checked.workflow)
    here = engine.node_name(checked, ctx.locale)
    earlier = wf.nodes[:wf.index(checked.current_node)] if wf and wf.has(checked.current_node) else []
    node = wf.find(ctx.args[1]) if wf else None
    if node is None or node not in earlier:
        return ctx.reply("staff.rework_node", order_no=checked.order_no, node=here,
                         nodes=("、" if ctx.locale.startswith("zh") else ", ").join(
                             n.name(ctx.locale) for n in earlier) or "—")
    reason = " ".join(ctx.args[2:])
    if not reason:
        return ctx.reply("staff.rework_reason", order_no=checked.order_no, node=ctx.args[1][:32])
    try:
        result = await engine.apply_event(checked.order_no, EventIn(
            event_id=_event_id(msg), node=node.key, rework=True, reason=reason[:500], actor=ctx.staff.code),
            source="bot")
    except EngineError as e:
        return ctx.reply("staff.refused", reason=refusal(e, ctx.locale, wf))
    return ctx.reply("staff.reworked", order_no=checked.order_no, from_node=here, to_node=node.name(ctx.locale),
                     reason=reason[:500], replayed=ctx.t("staff.replayed") if result.replayed else "")


@router.command("late", staff_only=True)
async def late(msg: InboundMessage, ctx: Context) -> Reply:
    """``/late [page]``: late orders in scope, MAX_LATE a page, with the way to the next page."""
    if len(ctx.args) > 1 or (ctx.args and not (ctx.args[0].isdigit() and int(ctx.args[0]) >= 1)):
        return ctx.reply("staff.usage", usage=ctx.t("usage.late"))
    page = int(ctx.args[0]) if ctx.args else 1
    engine = ctx.services.engine
    total, shown = await queries.late_in_scope(engine.workflows, engine.today(), ctx.staff, MAX_LATE,
                                               (page - 1) * MAX_LATE)
    if not total:
        return ctx.reply("staff.late_none")
    pages = -(-total // MAX_LATE)
    if page > pages:
        return ctx.reply("staff.late_no_page", pages=pages)
    lines = [ctx.t("staff.late_header", n=total)]
    owners = await staff_names(o.sales_owner for o in shown)
    for o in shown:
        node = engine.node_name(o, ctx.locale)
        owner = f"  {person(o.sales_owner, owners, ctx.locale)}" if o.sales_owner else ""
        lines.append(f"· {o.order_no}  {node}  {o.promised_date}{owner}")
        await audit.shown(msg.channel, msg.chat_id, o.order_no, ("order_no", "status", "promised_date"),
                          actor_kind="staff", actor_id=ctx.staff.code, verified_by="staff")
    if page < pages:
        lines.append(ctx.t("staff.late_page_next", page=page, pages=pages, next=page + 1))
        return Reply("\n".join(lines), buttons=(Button(ctx.t("button.next_page"), f"/late {page + 1}"),))
    if pages > 1:
        lines.append(ctx.t("staff.late_page_last", page=page, pages=pages))
    return Reply("\n".join(lines))
