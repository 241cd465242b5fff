"""Assembly: settings → workflows → engine → web application, and the server's lifetime.

Everything the service runs is put together here, explicitly: the API routes, the engine's
change hooks and (as they arrive) the channel adapters and the notification dispatcher.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web

from adapters.base import Adapter
from adapters.email import EmailChannel
from adapters.telegram import TelegramChannel
from adapters.web import WebChat
from adapters.wechat import WeChatChannel
from bot.api import routes
from bot.api.auth import KeyChecker
from bot.api.middleware import json_errors
from bot.api.state import CHANNELS, ENGINE, KEYS, SETTINGS
from bot.background import Background
from bot.config import Settings
from bot.db import database, ensure_schema
from bot.conversation.inbound import Inbound
from bot.mailer import Mailer
from bot.conversation.nlu import Parser
from bot.conversation.limits import RateLimiter
from bot.conversation.router import Dispatcher, Services
from bot.conversation.sessions import Sessions
from handlers import basics, requests, staff, subscriptions, tracking, verification
from models import sql
from models.engine import ProgressEngine
from models.numbers import OrderNumberPolicy
from models.workflows import load_workflows
from notifications.service import Notifications
from notifications.triggers import Triggers

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024


def build_engine(settings: Settings) -> ProgressEngine:
    """The progress engine for these settings (raises WorkflowError for a bad workflows file)."""
    workflows = load_workflows(settings.workflows.file)
    engine = ProgressEngine(workflows, OrderNumberPolicy(settings.orders.number_pattern), settings.server.tz)
    # Notices are written in the transaction of every change, whichever way it came in.
    engine.add_hook(Triggers(engine, settings.notifications))
    return engine


def build_dispatcher(settings: Settings, engine: ProgressEngine, background: Background) -> Dispatcher:
    """The conversation: every handler's router, in the order they are asked."""
    services = Services(
        settings=settings, engine=engine,
        parser=Parser(settings.orders.number_pattern, settings.orders.default_prefix),
        sessions=Sessions(engine.clock), limiter=RateLimiter(engine.clock), mailer=Mailer(settings.email),
        background=background,
    )
    return Dispatcher(services, [
        verification.router,  # /start, codes, logout: before anything reads the text as a lookup
        basics.router,
        staff.router,
        tracking.router,  # also keeps strangers in groups from looking anything up
        subscriptions.router,
        requests.router,
        basics.fallback_router,
    ])


# The channels, in the order they start. A channel whose section is off or incomplete is
# not started, and says so once.
CHANNEL_TYPES: tuple[type, ...] = (TelegramChannel, WeChatChannel, WebChat, EmailChannel)


def build_channels(settings: Settings) -> list[Adapter]:
    """The adapters of every channel that is on and configured."""
    channels = []
    for kind in CHANNEL_TYPES:
        problem = kind.problem(settings)
        if problem:
            log.info("%s: not started (%s)", kind.name, problem)
        else:
            channels.append(kind(settings))
    return channels


def build_app(settings: Settings, engine: ProgressEngine, *, inbound: Inbound | None = None,
              channels: list[Adapter] = ()) -> web.Application:
    """The aiohttp application with every route; the database must already be open.

    Channels mount their webhooks and pages here and start and stop with the application.
    """
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[KEYS] = KeyChecker()
    app[CHANNELS] = {c.name: c for c in channels}
    routes.register(app)
    for channel in channels:
        channel.mount(app, inbound)

    async def start_channels(app: web.Application) -> None:
        for channel in channels:
            await channel.startup()

    async def stop_channels(app: web.Application) -> None:
        for channel in reversed(channels):
            await channel.shutdown()

    app.on_startup.append(start_channels)
    app.on_shutdown.append(stop_channels)  # before aiohttp waits for open handlers (web sockets)
    return app


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
    background = Background()
    async with database(settings.database.url):
        await ensure_schema(auto_migrate=settings.database.is_sqlite)
        inbound = Inbound(build_dispatcher(settings, engine, background))
        channels = build_channels(settings)
        app = build_app(settings, engine, inbound=inbound, channels=channels)
        notices = Notifications(settings, engine, {c.name: c for c in channels})
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()  # starts the channels
        await notices.start()
        beside: asyncio.Task | None = None
        try:
            site = web.TCPSite(runner, settings.server.host, settings.server.port, reuse_address=True)
            await site.start()
            if prepare is not None:
                await prepare(engine)
            # What start-up made lives as long as the process: kept out of the collector's full
            # passes, which otherwise walk it all and held the event loop for about 60 ms each
            # (bench/inbound.py). Young objects are collected every 20,000 allocations instead of
            # 700: an update makes thousands, nearly all freed at once (8 % less CPU per update).
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
            await runner.cleanup()
            await background.drain()
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
