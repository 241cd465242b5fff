"""Subscriptions from chat: customers follow an order or all their orders; staff follow
exceptions (all, a department's or a node's), an order, or everything (managers)."""
from __future__ import annotations

from bot.conversation.policy import staff_may_see
from bot.conversation.router import Context, Router
from handlers.common import find_order, sees
from handlers.verification import challenge
from models import access, recipients
from models.messages import InboundMessage, Reply
from models.people import Role

router = Router("subscriptions")


async def _subscribe(ctx: Context, scope: str, key: str, **about) -> None:
    await recipients.subscribe(ctx.msg.reply_target, scope, key, **about)


async def _unsubscribe(ctx: Context, *, key: str | None = None, prefix: str | None = None) -> int:
    """Remove this chat's subscriptions: one (``key``), a family (``prefix``) or all."""
    return await recipients.unsubscribe(ctx.msg.reply_target, key=key, prefix=prefix)


@router.intent("subscribe")
async def customer_subscribe(msg: InboundMessage, ctx: Context) -> Reply | None:
    """A customer follows one order they may see, or (from the customer's own chat) all their orders."""
    if ctx.staff is not None:
        return None
    refs = ctx.parse.order_refs
    last = ctx.session.data.get("last_order")
    found = await find_order(ctx, refs[0] if refs else last) if refs or last else None
    order = found if found is not None and await sees(ctx, found) else None
    if not msg.authenticated and (refs or order is not None):
        # Mail no server vouched for may come from anyone: a code to the order's address on file first
        # (and, as for any stranger, the same answer whether or not the order exists).
        ctx.session.data["pending_request"] = {"kind": "subscribe", "text": msg.text}
        no = found.order_no if found else ctx.services.engine.normalize(refs[0])
        return await challenge(ctx, no, found, prefix=ctx.t("verify.confirm_change"))
    if refs and order is None:
        return ctx.reply("track.ask_order") if ctx.customer or await access.granted_orders(ctx.identity.id) \
            else ctx.reply("sub.need_bind")
    if not msg.authenticated:
        return ctx.reply("sub.need_bind")
    if ctx.customer is not None and not refs:
        await _subscribe(ctx, "customer", f"customer:{ctx.customer.id}", customer=ctx.customer)
        return ctx.reply("sub.all")
    if order is None:
        return ctx.reply("sub.need_bind")
    await _subscribe(ctx, "order", f"order:{order.id}", order=order, customer_id=order.customer_id)
    return ctx.reply("sub.order", order_no=order.order_no)


@router.intent("unsubscribe")
async def customer_unsubscribe(msg: InboundMessage, ctx: Context) -> Reply | None:
    if ctx.staff is not None:
        return None
    refs = ctx.parse.order_refs
    removed = 0
    if refs:
        order = await find_order(ctx, refs[0])
        if order is not None:
            removed = await _unsubscribe(ctx, key=f"order:{order.id}")
    else:
        removed = await _unsubscribe(ctx)
    return ctx.reply("unsub.done", n=removed) if removed else ctx.reply("unsub.none")


def _exception_scope(ctx: Context, arg: str | None) -> tuple[str, dict, str]:
    """``/subscribe exceptions [department|node]``: a node (by key, Chinese or English name) of a
    workflow, else a department; with the scope as the reader calls it."""
    if not arg:
        return "exceptions:*", {}, ctx.t("sub.scope.all")
    node = next((n for wf in ctx.services.engine.workflows.workflows.values() if (n := wf.find(arg))), None)
    if node is not None:
        return f"exceptions:node:{node.key}", {"node": node.key}, ctx.t("sub.scope.node", node=node.name(ctx.locale))
    return f"exceptions:department:{arg}", {"department": arg}, ctx.t("sub.scope.department", department=arg)


@router.command("subscribe", staff_only=True)
async def staff_subscribe(msg: InboundMessage, ctx: Context) -> Reply:
    if not ctx.args:
        return ctx.reply("staff.usage", usage=ctx.t("usage.subscribe"))
    what = ctx.args[0].lower()
    if what == "exceptions":  # the rest names a node or a department; node names may have spaces
        key, fields, scope = _exception_scope(ctx, " ".join(ctx.args[1:]) or None)
        await _subscribe(ctx, "exceptions", key, staff=ctx.staff, **fields)
        return ctx.reply("sub.exceptions", scope=scope)
    if len(ctx.args) > 1:
        return ctx.reply("staff.usage", usage=ctx.t("usage.subscribe"))
    if what == "all" and ctx.staff.role in (Role.MANAGER, Role.ADMIN):
        await _subscribe(ctx, "all", "all", staff=ctx.staff)
        return ctx.reply("sub.exceptions", scope=ctx.t("sub.scope.all"))
    order = await find_order(ctx, ctx.args[0]) if len(ctx.args) == 1 else None
    if order is None or not staff_may_see(ctx.staff, order.sales_owner):
        return ctx.reply("track.not_found_staff", ref=ctx.services.engine.normalize(ctx.args[0]))
    await _subscribe(ctx, "order", f"order:{order.id}", order=order, staff=ctx.staff)
    return ctx.reply("sub.order", order_no=order.order_no)


@router.command("unsubscribe", staff_only=True)
async def staff_unsubscribe(msg: InboundMessage, ctx: Context) -> Reply:
    if not ctx.args:
        removed = await _unsubscribe(ctx)
    elif ctx.args[0].lower() == "exceptions":
        key, _, _ = _exception_scope(ctx, " ".join(ctx.args[1:]) or None)
        removed = await (_unsubscribe(ctx, key=key) if len(ctx.args) > 1 else _unsubscribe(ctx, prefix="exceptions:"))
    elif ctx.args[0].lower() == "all":
        removed = await _unsubscribe(ctx, key="all")
    else:
        order = await find_order(ctx, ctx.args[0])
        removed = await _unsubscribe(ctx, key=f"order:{order.id}") if order else 0
    return ctx.reply("unsub.done", n=removed) if removed else ctx.reply("unsub.none")
