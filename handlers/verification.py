"""Verification: a one-time code mailed to the order's contact (through the outbox), deep links, unbinding.

A chat proves itself for one order at a time: a correct code, or the first use of that
order's bind token, lets it see that order (``models.access``), not the customer's others.
The answer to a lookup from a stranger is the same whether or not the order exists, and
takes as long: an unknown order gets a challenge too, with a code nobody knows, so that
what follows (wrong code, tries left, codes stopping) looks the same as well.

Codes are stored as keyed hashes and live 10 minutes. Wrong codes are counted three ways:
per code (the fifth locks the chat for 15 minutes), and per order number and per customer
over a rolling day across every chat and channel (``limits.GUESS_BUDGET``): past those,
codes stop until staff or the customer's own chat sends ``/reopen ORDER``, and the order's
owner is told.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from datetime import timedelta

from bot.conversation.durations import span
from bot.conversation.limits import CODES_PER_ASKER, CODES_PER_ORDER, GUESS_BUDGET, GUESS_WINDOW, STRANGER_FLOOR
from bot.conversation.policy import staff_may_see
from bot.conversation.router import Context, Router
from handlers.common import find_order, sees, show
from models import access, outbox, recipients
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
# Digits alone, a few off six (typed in groups or not), while a code is awaited: a code mistyped, not an order.
NEAR_CODE = re.compile(r"^\s*\d(?:[\s-]?\d){3,7}\s*$")


def _hash(ctx: Context, code: str) -> str:
    secret = ctx.services.secret_key.encode()
    return hmac.new(secret, f"{ctx.msg.session_key}:{code}".encode(), hashlib.sha256).hexdigest()


def locked(ctx: Context) -> bool:
    until = ctx.session.locked_until
    return until is not None and until > ctx.services.engine.clock()


def locked_reply(ctx: Context) -> Reply:
    left = ctx.session.locked_until - ctx.services.engine.clock()
    minutes = max(1, round(left.total_seconds() / 60))
    return ctx.reply("verify.locked", wait=span(timedelta(minutes=minutes), ctx.locale))


async def challenge(ctx: Context, no: str, order: Order | None, *, prefix: str | None = None) -> Reply:
    """Send a code to the order's contact (if there is such an order and contact); answer alike.

    ``no`` is the normalized number asked for. Nothing here may answer differently for a
    real order than for a made-up one, in words or in time.
    """
    s = ctx.services
    ctx.floor = STRANGER_FLOOR
    customer = await order.customer if order else None
    order_subject, *customer_subject = access.subjects(no, customer.id if customer else None)
    stopped, customer_stopped = await asyncio.gather(access.stopped([order_subject]),
                                                     access.stopped(customer_subject))
    if stopped:
        return ctx.reply("verify.stopped", order_no=no)
    # One after the other: a chat past its own share must not spend the order's.
    if not (await s.limiter.allow(CODES_PER_ASKER, f"{no}:{ctx.msg.session_key}")
            and await s.limiter.allow(CODES_PER_ORDER, no)):
        return ctx.reply("verify.too_many_codes")
    code = f"{secrets.randbelow(10**6):06d}"
    now = s.engine.clock()
    # A customer whose codes stopped gets none, and the asker is answered as for an unknown order:
    # "stopped" here would tell that this order belongs to the same customer as another.
    mailed = customer is not None and bool(customer.email) and not customer_stopped
    challenge_id = await new_challenge(ctx.msg.session_key, no, order, customer,
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
    sent = ctx.t("verify.code_sent", order_no=no)
    return Reply(f"{prefix}\n\n{sent}" if prefix else sent)


def _code_of_wrong_length(ctx: Context) -> bool:
    if ctx.staff is not None or ctx.msg.is_group or ctx.command is not None or "pending_order" not in ctx.session.data:
        return False
    text = ctx.msg.text
    return bool(NEAR_CODE.match(text)) and sum(ch.isdigit() for ch in text) != 6


@router.when(_code_of_wrong_length)
async def code_of_wrong_length(msg: InboundMessage, ctx: Context) -> Reply | None:
    """"12345" while a code is awaited: says how long a code is, and costs no try."""
    if locked(ctx):
        return locked_reply(ctx)
    ch = await Challenge.filter(session_key=msg.session_key, consumed_at__isnull=True).order_by("-id").first()
    if ch is None or ch.expires_at < ctx.services.engine.clock():
        return None  # no code awaited after all: the digits are read as anything else would be
    return ctx.reply("verify.code_length")


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
    ctx.floor = STRANGER_FLOOR
    if ch.expires_at < now:
        ch.consumed_at = now
        await ch.save()
        return ctx.reply("verify.expired")
    subjects = access.subjects(ch.order_ref, ch.customer_id)
    if await access.stopped(subjects[:1]):
        ch.consumed_at = now
        await ch.save()
        return ctx.reply("verify.stopped", order_no=ch.order_ref)
    ch.attempts += 1
    # A customer whose codes stopped has no right code (see ``challenge``): every try is wrong.
    if hmac.compare_digest(ch.code_hash, _hash(ctx, ctx.parse.code or "")) and not await access.stopped(subjects[1:]):
        ch.consumed_at = now
        await ch.save()
        return await _verified(ctx, ch)
    counts = await access.count_wrong(subjects, msg.session_key, now, GUESS_WINDOW)
    spent = [name for name, n in counts.items() if n >= GUESS_BUDGET[name.split(":", 1)[0]]]
    if spent and await access.stop(spent, now):
        await _tell_owner(ctx, ch, "verification_stopped", {"tries": max(counts[name] for name in spent)})
    if subjects[0] in spent:
        ch.consumed_at = now
        await ch.save()
        return ctx.reply("verify.stopped", order_no=ch.order_ref)
    if ch.attempts >= MAX_TRIES:
        ch.consumed_at = now
        await ch.save()
        ctx.session.locked_until = now + LOCK_FOR
        await _tell_owner(ctx, ch, "verification_locked",
                          {"tries": MAX_TRIES, "minutes": int(LOCK_FOR.total_seconds() // 60)})
        return locked_reply(ctx)
    await ch.save()
    left = min(MAX_TRIES - ch.attempts, GUESS_BUDGET["order"] - counts[subjects[0]])
    return ctx.reply("verify.wrong.one" if left == 1 else "verify.wrong", left=left)


async def _verified(ctx: Context, ch: Challenge) -> Reply:
    order = await Order.get_or_none(id=ch.order_id) if ch.order_id else None
    ctx.session.data.pop("pending_order", None)
    if order is None:
        return ctx.reply("verify.ok")
    await grant(ctx, order, "code")
    return await show(ctx, order, verified_by="code", prefix=ctx.t("verify.ok"))


async def grant(ctx: Context, order: Order, via: str) -> None:
    """This chat proved itself for ``order``: it sees it from now on, and hears of it."""
    now = ctx.services.engine.clock()
    await access.grant(ctx.identity.id, order.id, via, now)
    await recipients.subscribe(ctx.msg.reply_target, "order", f"order:{order.id}", order=order,
                               customer_id=order.customer_id)


async def bind(ctx: Context, customer: Customer) -> None:
    """Make this chat ``customer``'s own (all their orders, no code): only for proof of the
    customer's own account, such as authenticated mail from the address on file."""
    ctx.identity.customer_id = customer.id
    ctx.identity.locale = ctx.identity.locale or customer.locale
    await ctx.identity.save(update_fields=["customer_id", "locale"])
    ctx.customer, ctx.locale = customer, ctx.identity.locale


async def _tell_owner(ctx: Context, ch: Challenge, kind: str, about: dict) -> None:
    order = await Order.get_or_none(id=ch.order_id) if ch.order_id else None
    if order is None:
        log.warning("%s for an unknown order (%s) from %s", kind, ch.order_ref, ctx.msg.session_key)
        return
    owner = await owner_of(order, ctx.services.engine.department_of(order))
    if owner is None:
        return
    await enqueue(f"{kind}:{ctx.msg.session_key}:{ch.id}", kind, [await staff_recipient(owner)],
                  {"order_no": order.order_no, "channel": ctx.msg.channel, "chat": ctx.msg.chat_id, **about},
                  order_no=order.order_no)


@router.command("start")
async def start(msg: InboundMessage, ctx: Context) -> Reply:
    """``/start`` greets; ``/start <token>`` (a deep link, a QR scene) opens that one order without a code.

    A token binds the first chat that uses it; any other chat gets the code flow for its order.
    """
    if not ctx.args:
        return ctx.reply("greeting")
    if ctx.staff is not None or msg.is_group:
        return ctx.reply("bind.invalid")
    now = ctx.services.engine.clock()
    outcome, order_id = await access.use_token(ctx.args[0].removeprefix("bind_"), ctx.identity.id, now)
    order = await Order.get_or_none(id=order_id) if order_id else None
    if order is None:
        return ctx.reply("bind.invalid")
    if outcome == "taken":
        return await challenge(ctx, order.order_no, order, prefix=ctx.t("bind.taken"))
    await grant(ctx, order, "token")
    return await show(ctx, order, verified_by="token", prefix=ctx.t("bind.ok", order_no=order.order_no))


@router.command("reopen")
async def reopen(msg: InboundMessage, ctx: Context) -> Reply:
    """``/reopen ORDER``: codes for an order work again, from staff who may see it or the customer's own chat."""
    if len(ctx.args) != 1:
        return ctx.reply("staff.usage", usage=ctx.t("usage.reopen"))
    no = ctx.services.engine.normalize(ctx.args[0])
    order = await find_order(ctx, ctx.args[0])
    if ctx.staff is not None:
        allowed, by = order is not None and staff_may_see(ctx.staff, order.sales_owner), f"staff:{ctx.staff.code}"
    else:
        allowed, by = order is not None and await sees(ctx, order) is not None, f"chat:{msg.session_key}"
    if not allowed:
        return ctx.reply("track.not_found_staff" if ctx.staff else "track.ask_order", ref=no)
    names = access.subjects(order.order_no, order.customer_id)
    if not await access.reopen(names, ctx.services.engine.clock(), by):
        return ctx.reply("reopen.none", order_no=order.order_no)
    return ctx.reply("reopen.ok", order_no=order.order_no)


def _wants_unbind(ctx: Context) -> bool:
    return ctx.msg.text.strip().lower().rstrip("!！。.") in UNBIND_WORDS


@router.when(_wants_unbind)
async def unbind(msg: InboundMessage, ctx: Context) -> Reply:
    """The chat lets go of everything it was linked to: the customer, its orders, the tokens it used,
    and the news it followed as a customer."""
    now = ctx.services.engine.clock()
    had = ctx.identity.customer_id is not None or bool(await access.granted_orders(ctx.identity.id))
    if not had:
        return ctx.reply("unbind.none")
    if ctx.identity.customer_id is not None:
        ctx.identity.customer_id = None
        await ctx.identity.save(update_fields=["customer_id"])
        ctx.customer = None
    await access.revoke_all(ctx.identity.id, now)
    await recipients.unsubscribe(ctx.msg.reply_target)
    ctx.session.data.clear()
    return ctx.reply("unbind.ok")


@router.command("logout")
async def logout(msg: InboundMessage, ctx: Context) -> Reply:
    return await unbind(msg, ctx)
