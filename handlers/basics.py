"""Greeting, help, the zone times are shown in, and what is left when nothing else understood the message."""
from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from bot.conversation.cards import when, zone_named
from bot.conversation.router import MISSED, Context, Router
from handlers.customer_requests import customer_request
from models import chats
from models.messages import Button, InboundMessage, Reply

router = Router("basics")
fallback_router = Router("fallback")
CHOICES = ("button.track", "button.my_orders", "button.human", "button.help")
MISSES_BEFORE_A_PERSON = 2
MISSED_CHARS = 500  # of each missed message, kept for the person who takes over


@router.when(lambda ctx: ctx.msg.kind != "text")
async def not_text(msg: InboundMessage, ctx: Context) -> Reply:
    """A picture, voice, a sticker...: the bot reads words only, and says so on every channel."""
    return ctx.reply("text_only")


@router.command("help")
@router.intent("help")
async def help_(msg: InboundMessage, ctx: Context) -> Reply:
    return ctx.reply("help.staff" if ctx.staff else "help.customer")


@router.command("timezone")
async def timezone(msg: InboundMessage, ctx: Context) -> Reply:
    """``/timezone`` says which zone times are shown in; ``/timezone Asia/Shanghai`` sets this chat's."""
    if ctx.args:
        name = zone_named(ctx.args[0])
        if name is None:
            return ctx.reply("timezone.unknown", zone=ctx.args[0][:64])
        await chats.set_timezone(ctx.identity.id, name)
        ctx.identity.timezone = name
        return ctx.reply("timezone.set", zone=name, time=when(ctx.services.engine.clock(), ctx.locale, ZoneInfo(name)))
    return ctx.reply("timezone.now", zone=str(ctx.tz), time=when(ctx.services.engine.clock(), ctx.locale, ctx.tz))


@router.intent("greeting")
async def greeting(msg: InboundMessage, ctx: Context) -> Reply:
    return ctx.reply("greeting")


@fallback_router.when(lambda ctx: ctx.command is None)
async def fallback(msg: InboundMessage, ctx: Context) -> Reply:
    """Not understood: the customer is shown what the bot can do, and the second miss in a row
    in a private chat goes to a person, as "转人工" does."""
    if ctx.staff is not None:
        return Reply(ctx.t("fallback"), buttons=(_choice(ctx, "button.help"),))
    missed = [*ctx.missed, msg.text[:MISSED_CHARS]]
    if len(missed) >= MISSES_BEFORE_A_PERSON and not msg.is_group:
        return await _hand_over(msg, ctx, missed)
    ctx.session.data[MISSED] = missed
    return Reply(ctx.t("fallback.offer"), buttons=tuple(_choice(ctx, key) for key in CHOICES))


def _choice(ctx: Context, key: str) -> Button:
    """A button whose words, tapped or typed, say what it offers."""
    label = ctx.t(key)
    return Button(label, label)


async def _hand_over(msg: InboundMessage, ctx: Context, missed: list[str]) -> Reply:
    """What "talk to a person" does, with the messages the bot missed as the request's words."""
    ctx.parse = replace(ctx.parse, intent="human_agent")
    answer = await customer_request(replace(msg, text="\n".join(missed)), ctx)
    text = ctx.t("fallback.handover")
    return Reply(f"{text}\n\n{answer.text}", buttons=answer.buttons) if answer else Reply(text)


@fallback_router.when(lambda ctx: True)
async def unknown_command(msg: InboundMessage, ctx: Context) -> Reply:
    return ctx.reply("staff.unknown_command", command=f"/{ctx.command}")
