"""The router every channel feeds: identity, rate limits, conversation state, then a handler.

Handlers register on a ``Router`` (one per module in ``handlers/``) for slash commands,
intents or a predicate; the application includes the routers in order and the first
route that matches and whose permissions fit wins. A handler returns a ``Reply`` (or
None to let the next route try, ``SILENT`` when it took the message and nothing is said); it does
not raise to finish a conversation.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.conversation.cards import zone
from bot.conversation.limits import PER_CHAT, PER_SOURCE, RateLimiter
from bot.conversation.nlu import Parse, Parser
from bot.conversation.sessions import Session, SessionBusy, Sessions
from bot.conversation.texts import t
from models import chats, sql
from models.engine import ProgressEngine
from models.messages import InboundMessage, Reply
from models.people import Customer, Identity, StaffMember
from models.schedule import utcnow

log = logging.getLogger(__name__)
DEFAULT_LOCALE = "zh"
MAX_TEXT = 4000  # longer messages are cut before parsing: nobody asks about an order in a novel
MISSED = "missed"  # the conversation state's key for the messages not understood in a row
TOUCH_EVERY = timedelta(minutes=1)


@dataclass
class Services:
    """What handlers use; built once by the application."""

    engine: ProgressEngine
    parser: Parser
    sessions: Sessions
    limiter: RateLimiter
    secret_key: str  # keys the code hashes and checks bind tokens
    console_url: str | None = None  # where the staff console is served (public, else listening, address)
    progress_link: Callable[[int], Awaitable[str]] | None = None  # an order's progress page, by order id


@dataclass
class Context:
    """One message being handled: who sent it, in which language, what the conversation holds."""

    msg: InboundMessage
    services: Services
    identity: Identity
    staff: StaffMember | None
    customer: Customer | None
    session: Session
    locale: str
    parse: Parse | None = None
    command: str | None = None
    args: tuple[str, ...] = ()
    floor: float = 0.0  # the answer takes at least this many seconds (see limits.STRANGER_FLOOR)
    written: str | None = None  # the language this message is written in, when it says
    # The messages not understood in a row just before this one; kept in the conversation's state,
    # and forgotten unless the fallback hands them back (any message understood starts again).
    missed: list[str] = field(default_factory=list)

    def t(self, key: str, **values: object) -> str:
        return t(key, self.locale, **values)

    @property
    def tz(self) -> ZoneInfo:
        """The zone this person reads times in: their identity's (/timezone), else the server's."""
        return zone(self.identity.timezone, self.services.engine.tz)

    def reply(self, key: str, **values: object) -> Reply:
        return Reply(self.t(key, **values))


Handler = Callable[[InboundMessage, Context], Awaitable[Reply | None]]
# A handler's answer when the message is taken care of and the bot says nothing (a person answers it).
SILENT = Reply("")


@dataclass(frozen=True)
class Route:
    handler: Handler
    command: str | None = None
    intents: frozenset[str] = frozenset()
    when: Callable[[Context], bool] | None = None
    staff_only: bool = False
    roles: frozenset[str] = frozenset()

    def matches(self, ctx: Context) -> bool:
        if self.staff_only and ctx.staff is None:
            return False
        if self.roles and (ctx.staff is None or ctx.staff.role.value not in self.roles):
            return False
        if self.command is not None:
            return ctx.command == self.command
        if self.when is not None:
            return self.when(ctx)  # sees commands too (ctx.command), and plain text (ctx.parse)
        return ctx.parse is not None and ctx.parse.intent in self.intents


@dataclass
class Router:
    """The routes of one handler module, in the order they were registered."""

    name: str
    routes: list[Route] = field(default_factory=list)

    def _add(self, **kw: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(handler, **kw))
            return handler
        return register

    def command(self, name: str, *, staff_only: bool = False, roles: Sequence[str] = ()):
        return self._add(command=name, staff_only=staff_only, roles=frozenset(roles))

    def intent(self, *names: str, staff_only: bool = False, roles: Sequence[str] = ()):
        return self._add(intents=frozenset(names), staff_only=staff_only, roles=frozenset(roles))

    def when(self, predicate: Callable[[Context], bool], *, staff_only: bool = False):
        return self._add(when=predicate, staff_only=staff_only)


def split_command(text: str) -> tuple[str, tuple[str, ...]] | None:
    """``/order@my_bot SO1 note`` → ("order", ("SO1", "note")); None for plain text."""
    text = text.strip()
    if not text.startswith("/") or len(text) < 2:
        return None
    head, *rest = text.split()
    return head[1:].split("@", 1)[0].lower(), tuple(rest)


class Conversation:
    """Turns one inbound message into the replies to send back (usually one)."""

    def __init__(self, services: Services, routers: Sequence[Router]) -> None:
        self.services = services
        self.routes = [r for router in routers for r in router.routes]

    async def handle(self, msg: InboundMessage) -> list[Reply]:
        if msg.is_group and not msg.mentioned:
            return []  # privacy: in groups the bot answers only when addressed
        started = time.monotonic()
        msg = _trimmed(msg)
        ctx: Context | None = None
        replies: list[Reply] = []
        # The rate limits and the sender's identity are asked for alongside the conversation's
        # lease: on SQLite their statements then share one trip to the database (models.batch).
        checks = asyncio.gather(self._allowed(msg), _who(msg))
        try:
            # Audit rows are written alongside the conversation's release, and committed before the reply.
            async with sql.unit(), self.services.sessions.hold(msg.session_key) as session:
                allowed, (identity, staff, customer) = await checks
                if not allowed:
                    return [Reply(t("rate_limited", _guess_locale(msg.text)))]
                if identity is None:
                    identity = await _first_contact(msg)
                ctx = self._context(msg, identity, staff, customer, session)
                ctx.missed = session.data.pop(MISSED, [])
                if ctx.written and ctx.written != identity.locale:
                    # Kept on this identity alone: English mail leaves the customer's Chinese Telegram chat be.
                    await chats.remember_locale(identity.id, ctx.written)
                    identity.locale = ctx.written
                for route in self.routes:
                    if route.matches(ctx):
                        reply = await route.handler(msg, ctx)
                        if reply is not None:
                            replies = [] if reply is SILENT else [reply]
                            break
        except SessionBusy:
            log.warning("conversation %s stayed busy; message dropped", msg.session_key)
            return [Reply(t("rate_limited", _guess_locale(msg.text)))]
        finally:
            _forget(checks)
        if ctx is not None and ctx.floor:
            await asyncio.sleep(max(0.0, started + ctx.floor - time.monotonic()))
        return replies

    async def _allowed(self, msg: InboundMessage) -> bool:
        """Within the chat's limit, and the network source's when there is one."""
        limiter = self.services.limiter
        chat = limiter.allow(PER_CHAT, msg.session_key)
        if not msg.source:
            return await chat
        return all(await asyncio.gather(chat, limiter.allow(PER_SOURCE, msg.source)))

    def _context(self, msg: InboundMessage, identity: Identity, staff: StaffMember | None,
                 customer: Customer | None, session: Session) -> Context:
        cmd = split_command(msg.text)
        parse = None if cmd else self.services.parser.parse(msg.text)
        written = None if cmd else _written_language(msg.text, parse)  # "/start xyz" says nothing of it
        if written:
            session.data["lang"] = written  # a bare code or number keeps the conversation's language
        # What this identity writes in wins; the person's own setting only until it has written words.
        locale = written or identity.locale or session.data.get("lang") or (staff.locale if staff else None) \
            or (customer.locale if customer else None) or DEFAULT_LOCALE
        return Context(msg, self.services, identity, staff, customer, session, locale, parse,
                       cmd[0] if cmd else None, cmd[1] if cmd else (), written=written)


def _trimmed(msg: InboundMessage) -> InboundMessage:
    """At most MAX_TEXT characters, and no NUL (PostgreSQL text cannot hold one)."""
    if len(msg.text) <= MAX_TEXT and "\x00" not in msg.text:
        return msg
    return replace(msg, text=msg.text[:MAX_TEXT].replace("\x00", ""))


def _guess_locale(text: str) -> str:
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"


def _written_language(text: str, parse: Parse | None) -> str | None:
    """The language a message is written in; None when it is only numbers and signs."""
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return "zh"
    words = text
    for ref in parse.order_refs if parse else ():
        words = words.upper().replace(ref, " ")
    return "en" if re.search(r"[A-Za-z]{2,}", re.sub(r"@\w+", " ", words)) else None


async def _who(msg: InboundMessage) -> tuple[Identity | None, StaffMember | None, Customer | None]:
    """The sender's identity (None on first contact) and the staff member or customer behind it."""
    return await chats.who(msg.channel, msg.sender_id, utcnow(), TOUCH_EVERY)


async def _first_contact(msg: InboundMessage) -> Identity:
    """The identity of someone writing for the first time."""
    locale = ("zh" if msg.language.lower().startswith("zh") else "en") if msg.language else None
    return await chats.first_contact(msg.channel, msg.sender_id, locale, utcnow())


def _forget(future: asyncio.Future) -> None:
    """A gathered future nobody will await any more: stopped, or its error marked as seen."""
    if not future.done():
        future.cancel()
    elif not future.cancelled():
        future.exception()
