"""Customer requests: rush (催单), change or cancel, after-sales, talk to a person.

Each is recorded against an order and handed to the person who owns it; the customer is
told who has it. Without a verified order in sight the request waits in the conversation
until one is shown (after a code, say) and is recorded then.
"""
from __future__ import annotations

from bot.conversation.router import Context, Router
from handlers.common import find_order, record_request, sees
from handlers.tracking import lookup, my_orders
from handlers.verification import challenge, locked, locked_reply
from models import access
from models.messages import InboundMessage, Reply
from models.orders import Order

router = Router("requests")
KINDS = ("expedite", "change_request", "after_sales", "human_agent")


async def _order_in_sight(ctx: Context) -> Order | None:
    """The order this is about, if this chat may see it: one they named, else the last one shown."""
    refs = ctx.parse.order_refs
    if refs:
        order = await find_order(ctx, refs[0])
    else:
        last = ctx.session.data.get("last_order")
        order = await Order.filter(order_no=last).first() if last else None
    return order if order is not None and await sees(ctx, order) else None


@router.intent(*KINDS)
async def customer_request(msg: InboundMessage, ctx: Context) -> Reply | None:
    if ctx.staff is not None:
        return None  # staff have commands; their words fall through to the fallback
    if locked(ctx):
        return locked_reply(ctx)
    order = await _order_in_sight(ctx)
    if order is not None and msg.authenticated:
        return Reply(await record_request(ctx, order, ctx.parse.intent, msg.text))
    ctx.session.data["pending_request"] = {"kind": ctx.parse.intent, "text": msg.text}
    refs = ctx.parse.order_refs
    if not msg.authenticated and (order is not None or refs):
        # Mail no server vouched for may come from anyone: a change waits for a code to the address on file.
        no = order.order_no if order else ctx.services.engine.normalize(refs[0])
        return await challenge(ctx, no, order or await find_order(ctx, refs[0]),
                               prefix=ctx.t("verify.confirm_change"))
    if refs:
        return await lookup(ctx, refs[0])
    if ctx.customer is not None or await access.granted_orders(ctx.identity.id):
        return await my_orders(ctx, listing=False)
    return ctx.reply("request.ask_order")
