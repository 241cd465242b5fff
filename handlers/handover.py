"""A person has the conversation: while a staff member has claimed a request from this chat, what
the customer writes goes into the request's thread for them, and the bot keeps quiet.

Registered first, so that no lookup or code check answers in the person's place; slash
commands still reach the bot (they are asked of it by name), and so does e-mail whose sender no
server vouched for. The first message after the
person took over gets one short line saying who has it; the rest get nothing from the bot.
The person hears of each message through the outbox (``models.requests.from_customer``).
"""
from __future__ import annotations

from bot.conversation.router import SILENT, Context, Router
from models import requests
from models.messages import InboundMessage, Reply

router = Router("handover")
NOTED = "handover_noted"  # the request whose person the chat was last told has its messages


def _customer_words(ctx: Context) -> bool:
    # Mail nobody vouched for may not be the customer's: it is not put before the person as theirs.
    return ctx.staff is None and not ctx.msg.is_group and ctx.command is None and ctx.msg.authenticated


@router.when(_customer_words)
async def into_thread(msg: InboundMessage, ctx: Context) -> Reply | None:
    text = msg.text.strip() or f"[{msg.kind}]"  # a picture or a voice note: the person sees that one came
    found = await requests.from_customer(msg.reply_target, text, ctx.services.engine.clock())
    if found is None:
        return None
    req, person = found
    if ctx.session.data.get(NOTED) == req.id:
        return SILENT
    ctx.session.data[NOTED] = req.id
    return ctx.reply("handover.passed", name=person.name if person else ctx.t("request.owner.team"))
