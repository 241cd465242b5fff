"""Assembly: settings → workflows → engine → conversation → channels → web application, and
the server's lifetime.

The top floor: the only module that knows every part. Everything the service runs is put
together here, explicitly: the engine's change hooks, the conversation's handlers in the
order they are asked, the channels registered in ``bot/channels.py`` (made with what they
need, their routes mounted), the API and the notifications.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from adapters.base import Adapter, Host, OnMessage
from adapters.webhook import WebhookSender
from bot.api import routes
from bot.api.auth import KeyChecker
from bot.api.middleware import json_errors
from bot.api.state import ENGINE, KEYS, LINKS, MOUNTED
from bot.api.views import LinkMaker
from bot import console
from bot.channels import CHANNELS
from bot.console.common import Console
from bot.config import Settings
from bot.conversation.inbound import Inbound
from bot.conversation.limits import RateLimiter
from bot.conversation.nlu import Parser
from bot.conversation.router import Conversation, Services
from bot.conversation.sessions import Sessions
from bot.conversation.texts import t
from bot.db import database, ensure_schema
from handlers import basics, customer_requests, handover, staff, subscriptions, tracking, verification
from models import progress, sql
from models.engine import ProgressEngine
from models.numbers import OrderNumberPolicy
from models.workflows import load_workflows
from notifications.service import Notifications
from notifications.triggers import Triggers
from notifications.webhooks import WebhookTriggers

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024


def build_engine(settings: Settings) -> ProgressEngine:
    """The progress engine for these settings (raises WorkflowError for a bad workflows file)."""
    workflows = load_workflows(settings.workflows.file)
    engine = ProgressEngine(workflows, OrderNumberPolicy(settings.orders.number_pattern), settings.server.tz)
    # Notices are written in the transaction of every change, whichever way it came in.
    engine.add_hook(Triggers(engine, settings.notifications))
    engine.add_hook(WebhookTriggers(engine))  # other systems hear of the same changes, in the same transaction
    return engine


def build_conversation(settings: Settings, engine: ProgressEngine) -> Conversation:
    """The conversation: every handler's router, in the order they are asked."""
    services = Services(
        engine=engine, parser=Parser(settings.orders.number_pattern, settings.orders.default_prefix),
        sessions=Sessions(engine.clock), limiter=RateLimiter(engine.clock),
        secret_key=settings.security.secret_key.get_secret_value(), console_url=console_url(settings),
        progress_link=card_link(settings, engine),
    )
    return Conversation(services, [
        handover.router,  # a chat a person has taken: its words are theirs to answer, not a lookup
        verification.router,  # /start, codes, logout: before anything reads the text as a lookup
        basics.router,
        staff.router,
        tracking.router,  # also keeps strangers in groups from looking anything up
        subscriptions.router,
        customer_requests.router,
        basics.fallback_router,
    ])


def console_url(settings: Settings) -> str:
    """Where staff open the console: the public address, else the one the service listens on."""
    if settings.server.public_url:
        return settings.server.public_url.rstrip("/")
    server = settings.server
    listen = f"[{server.host}]" if ":" in server.host else server.host
    return f"http://{listen}:{server.port}"


def host(settings: Settings, on_message: OnMessage | None = None) -> Host:
    """What every channel is handed: where the service is, the conversation, the bot's words."""
    server = settings.server
    listen = f"[{server.host}]" if ":" in server.host else server.host
    return Host(secret_key=settings.security.secret_key.get_secret_value(), public_url=server.public_url,
                listen_url=f"http://{listen}:{server.port}", on_message=on_message, words=t,
                brand=settings.brand.brand())


def make_channel(name: str, settings: Settings, on_message: OnMessage | None = None) -> Adapter:
    """One registered channel, made from its settings section (whatever its ``enabled``)."""
    channel = next(c for c in CHANNELS if c.name == name)
    return channel.make(getattr(settings, channel.name), host(settings, on_message))


def build_channels(settings: Settings, on_message: OnMessage | None = None) -> list[Adapter]:
    """The adapters of every channel that is on and configured; the others say once why not."""
    made = []
    for channel in CHANNELS:
        problem = channel.problem(getattr(settings, channel.name))
        if problem:
            log.info("%s: not started (%s)", channel.name, problem)
        else:
            made.append(make_channel(channel.name, settings, on_message))
    return made


def build_app(settings: Settings, engine: ProgressEngine, *, channels: Sequence[Adapter] = ()) -> web.Application:
    """The aiohttp application with every route; the database must already be open.

    Channels' routes are mounted and documented here, and the channels start and stop with
    the application.
    """
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY)
    app[ENGINE] = engine
    app[KEYS] = KeyChecker()
    app[LINKS] = LinkMaker(settings.server.public_url, lambda: settings.telegram.bot_username, engine.clock)
    app[MOUNTED] = tuple(r for c in channels for r in c.routes)
    routes.register(app)
    console.setup(app, Console(engine, settings.security.secret_key.get_secret_value(), settings.server.public_url,
                               settings.server.tz, brand=settings.brand.brand(),
                               progress_link_days=settings.web.progress_link_days, chat_enabled=settings.web.enabled))
    for r in app[MOUNTED]:
        app.router.add_route(r.method, r.path, r.handler)

    async def start_channels(app: web.Application) -> None:
        for channel in channels:
            await channel.startup()

    async def stop_channels(app: web.Application) -> None:
        for channel in reversed(channels):
            await channel.shutdown()

    app.on_startup.append(start_channels)
    app.on_shutdown.append(stop_channels)  # before aiohttp waits for open handlers (web sockets)
    return app


def notice_link(settings: Settings, engine: ProgressEngine) -> Callable[[str], Awaitable[str | None]]:
    """The link in customers' notices: the order's progress page (``/t/<token>``)."""
    base, secret = console_url(settings), settings.security.secret_key.get_secret_value()

    async def link(order_no: str) -> str | None:
        token = await progress.link_for_number(secret, order_no, engine.clock(), days=settings.web.progress_link_days,
                                               made_for="notice")
        return f"{base}/t/{token}" if token else None

    return link


def card_link(settings: Settings, engine: ProgressEngine) -> Callable[[int], Awaitable[str]]:
    """The link under an order's card in chat: the same progress page."""
    base, secret = console_url(settings), settings.security.secret_key.get_secret_value()

    async def link(order_id: int) -> str:
        token = await progress.link_for(secret, order_id, engine.clock(), days=settings.web.progress_link_days)
        return f"{base}/t/{token}"

    return link


async def serve(
    settings: Settings,
    *,
    prepare: Callable[[ProgressEngine], Awaitable[None]] | None = None,
    on_ready: Callable[[str], None] | None = None,
    companion: Callable[[ProgressEngine], Awaitable[None]] | None = None,
) -> None:
    """Open the database, check the schema, serve HTTP until SIGINT or SIGTERM.

    SQLite databases are migrated on the spot; PostgreSQL must be migrated beforehand
    (``orderbot migrate``) so that several processes never race to change the schema.
    ``prepare`` runs once the port is bound and the schema current (the demo seeds its
    data there); ``on_ready`` is told the URL after that.
    """
    engine = build_engine(settings)
    async with database(settings.database.url):
        await ensure_schema(auto_migrate=settings.database.is_sqlite)
        channels = build_channels(settings, Inbound(build_conversation(settings, engine)))
        app = build_app(settings, engine, channels=channels)
        webhook = WebhookSender()
        notices = Notifications(settings.notifications, engine, {**{c.name: c for c in channels}, "webhook": webhook},
                                link=notice_link(settings, engine))
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()  # starts the channels
        await notices.start()
        beside: asyncio.Task | None = None
        try:
            site = web.TCPSite(runner, settings.server.host, settings.server.port, reuse_address=True)
            await site.start()
            if prepare is not None:
                await prepare(engine)
            # Start-up's objects live as long as the process: out of the collector's full passes,
            # which held the event loop; young ones collected less often (bench/README.md).
            gc.collect()
            gc.freeze()
            gc.set_threshold(20_000)
            url = f"http://{settings.server.host}:{settings.server.port}"
            log.info("orderbot serving on %s", url)
            if on_ready is not None:
                on_ready(url)
            beside = asyncio.create_task(companion(engine)) if companion is not None else None
            await _until_stopped()
        finally:
            log.info("orderbot stopping")
            if beside is not None:
                beside.cancel()
                await asyncio.gather(beside, return_exceptions=True)
            await notices.stop()
            await webhook.shutdown()
            await runner.cleanup()
            await sql.flush()  # statements still queued are written before the database closes


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
