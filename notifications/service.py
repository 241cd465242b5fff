"""The notifications of one process: the dispatcher and the scanner, started and stopped together.

The engine's hook that writes the outbox rows is registered where the engine is built
(``bot.app.build_engine``), so every way of changing an order writes its notices, the
CLI included; this is the part that sends them, in ``orderbot serve``.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from adapters.base import Adapter
from bot.config import Settings
from models.engine import ProgressEngine
from notifications.sending import Dispatcher
from models.outbox import on_written
from notifications.scanner import Scanner
from notifications.triggers import Triggers

log = logging.getLogger(__name__)


class Notifications:
    """``start()`` runs the dispatcher and the scanner as tasks; ``stop()`` ends both."""

    def __init__(self, settings: Settings, engine: ProgressEngine, channels: Mapping[str, Adapter], **kw) -> None:
        self.settings = settings
        self.dispatcher = Dispatcher(settings, engine, channels, **kw)
        self.scanner = Scanner(engine, Triggers(engine, settings.notifications))
        self._tasks: list[asyncio.Task] = []
        self._unlisten = lambda: None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        self._unlisten = on_written(self.dispatcher.nudge)
        self._tasks = [asyncio.create_task(self.dispatcher.run(), name="outbox-dispatcher"),
                       asyncio.create_task(self._scan_loop(), name="notice-scanner")]
        log.info("notifications: dispatcher and scanner running (scan every %.0f s)",
                 self.settings.notifications.scan_interval_seconds)

    async def _scan_loop(self) -> None:
        while not self._stop.is_set():
            try:
                written = await self.scanner.scan()
                if written:
                    log.info("notifications: the scan wrote %d notices", written)
            except Exception:  # noqa: BLE001 - the next scan tries again
                log.exception("notifications: scan failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.notifications.scan_interval_seconds)

    async def stop(self) -> None:
        self._unlisten()
        self._stop.set()
        await self.dispatcher.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
