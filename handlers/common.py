"""What several handlers need: finding an order, showing it (with its audit row), its owner."""
from __future__ import annotations

from bot.conversation.cards import order_card
from bot.conversation.policy import Audience, audience, staff_may_see
from bot.conversation.router import Context
from models import access, audit, fuzzy, orders, queries, requests
from models.messages import Button, Reply
from models.orders import Order
from models.people import StaffMember
from models.recipients import owner_of



async def find_order(ctx: Context, ref: str) -> Order | None:
    """The order with this number, or with this courier tracking number."""
    return await orders.find_order(ctx.services.engine.normalize(ref))


async def sees(ctx: Context, order: Order) -> str | None:
    """How this customer's chat may see ``order``: "bound" (the customer's own chat), "granted"
    (it proved itself for this order with a code or a token), or None."""
    if ctx.customer is not None and order.customer_id == ctx.customer.id:
        return "bound"
    if await access.granted(ctx.identity.id, order.id):
        return "granted"
    return None


async def show(ctx: Context, order: Order, *, verified_by: str, prefix: str | None = None) -> Reply:
    """The order's card for whoever asked, written to the audit log."""
    view = audience(ctx.staff, in_group=ctx.msg.is_group)
    card = await order_card(ctx.services.engine, order, view, ctx.locale, ctx.tz)
    if ctx.staff:
        kind, who = "staff", ctx.staff.code
    else:
        kind, who = "customer", str(ctx.customer.id) if ctx.customer else f"{ctx.msg.channel}:{ctx.msg.sender_id}"
    await audit.shown(ctx.msg.channel, ctx.msg.chat_id, order.order_no, card.fields, actor_kind=kind, actor_id=who,
                      verified_by=verified_by)
    text = f"{prefix}\n\n{card.text}" if prefix else card.text
    if ctx.services.progress_link is not None:  # the card's whole story, on a page the reader can pass on
        text += "\n" + ctx.t("notice.open", url=await ctx.services.progress_link(order.id))
    if view == Audience.CUSTOMER:
        ctx.session.data["last_order"] = order.order_no
        # A request waits for proof: mail nobody vouched for needs the code first.
        if ctx.session.data.get("pending_request") and (ctx.msg.authenticated or verified_by == "code"):
            pending = ctx.session.data.pop("pending_request")
            if pending["kind"] == "subscribe":  # the code subscribed the chat to the order already
                text += "\n\n" + ctx.t("sub.order", order_no=order.order_no)
            else:
                text += "\n\n" + await record_request(ctx, order, pending["kind"], pending["text"])
        no = order.order_no
        return Reply(text, buttons=(Button(ctx.t("button.subscribe"), ctx.t("button.subscribe.data", order_no=no)),
                                    Button(ctx.t("button.human"), ctx.t("button.human.data", order_no=no))))
    return Reply(text)


def suggest(ref: str, numbers: list[str]) -> str | None:
    """The closest number among ``numbers`` (those the asker may see already), if close enough."""
    return fuzzy.closest(ref, numbers)


async def staff_visible_numbers(member: StaffMember) -> list[str]:
    return await queries.visible_numbers(member)


async def staff_lookup(ctx: Context, ref: str) -> Reply:
    """A staff member asks for an order: their view of it, or "not found / not yours"."""
    no = ctx.services.engine.normalize(ref)
    order = await find_order(ctx, ref)
    if order is not None and staff_may_see(ctx.staff, order.sales_owner):
        return await show(ctx, order, verified_by="staff")
    guess = suggest(no, await staff_visible_numbers(ctx.staff)) if order is None else None
    if guess:
        return Reply(ctx.t("track.did_you_mean", ref=no, suggestion=guess), buttons=(Button(guess, guess),))
    return ctx.reply("track.not_found_staff", ref=no)


async def record_request(ctx: Context, order: Order, kind: str, text: str) -> str:
    """Record a customer's request against ``order``, hand it to its owner; the sentence to tell them."""
    owner = await owner_of(order, ctx.services.engine.department_of(order))
    await requests.record(order, kind, text, ctx.msg.reply_target, owner, ctx.services.engine.clock())
    who = owner.name if owner else ctx.t("request.owner.team")
    return ctx.t("request.recorded", kind=ctx.t(f"request.kind.{kind}"), order_no=order.order_no, owner=who)
