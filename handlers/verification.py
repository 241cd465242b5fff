"""Verification: a one-time code mailed to the order's contact (through the outbox), deep links, unbinding.

The answer to a lookup from an unbound chat is the same whether or not the order exists:
an unknown order gets a challenge too, with a code nobody knows, so that what follows
(wrong code, tries left, lock-out) looks the same as well. Codes are stored as keyed
hashes, live 10 minutes and allow 5 tries; the fifth wrong one locks the conversation for
15 minutes for every lookup and tells the order's owner.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from datetime import timedelta

from bot.conversation.limits import CODES_PER_ORDER
from bot.conversation.router import Context, Router
from bot.conversation.tokens import read_bind_token
from handlers.common import show
from models import outbox
from models.chats import Challenge, new_challenge
from models.messages import InboundMessage, Reply, Target
from models.orders import Order
from models.outbox import DIRECT, VERIFICATION_CODE, Notice, enqueue
from models.people import Customer
from models.recipients import Recipient, owner_of, staff_recipient

log = logging.getLogger(__name__)
router = Router("verification")

CODE_TTL = timedelta(minutes=10)
MAX_TRIES = 5
LOCK_FOR = timedelta(minutes=15)
UNBIND_WORDS = {"退出", "退出登录", "解绑", "解除绑定", "logout", "log out", "unbind", "sign out"}
BARE_CODE = re.compile(r"^\s*\d{6}\s*$")


def _hash(ctx: Context, code: str) -> str:
    secret = ctx.services.secret_key.encode()
    return hmac.new(secret, f"{ctx.msg.session_key}:{code}".encode(), hashlib.sha256).hexdigest()


def locked(ctx: Context) -> bool:
    until = ctx.session.locked_until
    return until is not None and until > ctx.services.engine.clock()


def locked_reply(ctx: Context) -> Reply:
    left = ctx.session.locked_until - ctx.services.engine.clock()
    return ctx.reply("verify.locked", minutes=max(1, round(left.total_seconds() / 60)))


async def challenge(ctx: Context, ref: str, order: Order | None) -> Reply:
    """Send a code to the order's contact (if there is such an order and contact); answer alike."""
    s, no = ctx.services, ctx.services.engine.normalize(ref)
    if not await s.limiter.allow(CODES_PER_ORDER, no):
        return ctx.reply("rate_limited")
    customer = await order.customer if order else None
    code = f"{secrets.randbelow(10**6):06d}"
    now = s.engine.clock()
    mailed = customer is not None and bool(customer.email)
    challenge_id = await new_challenge(ctx.msg.session_key, order, customer,
                                       _hash(ctx, code if mailed else secrets.token_hex(8)), now + CODE_TTL, now)
    ctx.session.data["pending_order"] = no
    if mailed:
        # Through the outbox, committed with the reply: how long mail takes must not tell whether
        # the order exists, and a mail server that is down is tried again.
        to = Target("email", customer.email)
        await outbox.post([Notice(f"code:{challenge_id}", VERIFICATION_CODE,
                                  Recipient(str(to), DIRECT, to, customer.locale or ctx.locale),
                                  {"code": code, "order_no": no, "expires_at": (now + CODE_TTL).isoformat()}, no,
                                  now)])
    return ctx.reply("verify.code_sent", order_no=no)


def _expects_code(ctx: Context) -> bool:
    if ctx.staff is not None or ctx.msg.is_group or ctx.parse is None:
        return False
    return ctx.parse.intent == "provide_code" or (bool(BARE_CODE.match(ctx.msg.text)) and bool(ctx.parse.code))


@router.when(_expects_code)
async def check_code(msg: InboundMessage, ctx: Context) -> Reply:
    if locked(ctx):
        return locked_reply(ctx)
    now = ctx.services.engine.clock()
    ch = await Challenge.filter(session_key=msg.session_key, consumed_at__isnull=True).order_by("-id").first()
    if ch is None:
        return ctx.reply("verify.unexpected")
    if ch.expires_at < now:
        ch.consumed_at = now
        await ch.save()
        return ctx.reply("verify.expired")
    ch.attempts += 1
    if hmac.compare_digest(ch.code_hash, _hash(ctx, ctx.parse.code or "")):
        ch.consumed_at = now
        await ch.save()
        return await _verified(ctx, ch)
    if ch.attempts >= MAX_TRIES:
        ch.consumed_at = now
        await ch.save()
        ctx.session.locked_until = now + LOCK_FOR
        await _tell_owner(ctx, ch)
        return locked_reply(ctx)
    await ch.save()
    return ctx.reply("verify.wrong", left=MAX_TRIES - ch.attempts)


async def _verified(ctx: Context, ch: Challenge) -> Reply:
    customer = await Customer.get(id=ch.customer_id)
    await bind(ctx, customer)
    order = await Order.get_or_none(id=ch.order_id) if ch.order_id else None
    ctx.session.data.pop("pending_order", None)
    if order is None:
        return ctx.reply("verify.ok")
    return await show(ctx, order, verified_by="code", prefix=ctx.t("verify.ok"))


async def bind(ctx: Context, customer: Customer) -> None:
    """Link this chat's identity to ``customer``: their orders need no code here afterwards."""
    ctx.identity.customer_id = customer.id
    ctx.identity.locale = ctx.identity.locale or customer.locale
    await ctx.identity.save(update_fields=["customer_id", "locale"])
    ctx.customer, ctx.locale = customer, ctx.identity.locale


async def _tell_owner(ctx: Context, ch: Challenge) -> None:
    order = await Order.get_or_none(id=ch.order_id) if ch.order_id else None
    if order is None:
        log.warning("conversation %s locked after %d wrong codes for an unknown order", ctx.msg.session_key,
                    MAX_TRIES)
        return
    owner = await owner_of(order, ctx.services.engine.department_of(order))
    if owner is None:
        return
    await enqueue(f"lockout:{ctx.msg.session_key}:{ch.id}", "verification_locked", [await staff_recipient(owner)],
                  {"order_no": order.order_no, "channel": ctx.msg.channel, "chat": ctx.msg.chat_id,
                   "tries": MAX_TRIES, "minutes": int(LOCK_FOR.total_seconds() // 60)},
                  order_no=order.order_no)


@router.command("start")
async def start(msg: InboundMessage, ctx: Context) -> Reply:
    """``/start`` greets; ``/start <token>`` (a deep link, a QR scene) binds without a code."""
    if not ctx.args:
        return ctx.reply("greeting")
    customer_id = read_bind_token(ctx.services.secret_key, ctx.args[0].removeprefix("bind_"), ctx.services.engine.today())
    customer = await Customer.get_or_none(id=customer_id) if customer_id else None
    if customer is None or ctx.staff is not None:
        return ctx.reply("bind.invalid")
    await bind(ctx, customer)
    return ctx.reply("bind.ok", name=customer.name)


def _wants_unbind(ctx: Context) -> bool:
    return ctx.msg.text.strip().lower().rstrip("!！。.") in UNBIND_WORDS


@router.when(_wants_unbind)
async def unbind(msg: InboundMessage, ctx: Context) -> Reply:
    if ctx.identity.customer_id is None:
        return ctx.reply("unbind.none")
    ctx.identity.customer_id = None
    await ctx.identity.save(update_fields=["customer_id"])
    ctx.session.data.clear()
    return ctx.reply("unbind.ok")


@router.command("logout")
async def logout(msg: InboundMessage, ctx: Context) -> Reply:
    return await unbind(msg, ctx)
