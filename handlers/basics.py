"""Greeting, help, the zone times are shown in, and what is left when nothing else understood the message."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.conversation.cards import when, zone_named
from bot.conversation.router import Context, Router
from models import chats
from models.messages import InboundMessage, Reply

router = Router("basics")
fallback_router = Router("fallback")


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
    return ctx.reply("fallback")


@fallback_router.when(lambda ctx: True)
async def unknown_command(msg: InboundMessage, ctx: Context) -> Reply:
    return ctx.reply("staff.unknown_command", command=f"/{ctx.command}")
