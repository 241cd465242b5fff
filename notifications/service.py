"""The notifications of one process: the outbox sender and the scanner, started and stopped together.

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
from models.engine import ProgressEngine
from models.outbox import on_written
from notifications.config import NotificationSettings
from notifications.scanner import Scanner
from notifications.sending import OutboxSender
from notifications.triggers import Triggers

log = logging.getLogger(__name__)


class Notifications:
    """``start()`` runs the outbox sender and the scanner as tasks; ``stop()`` ends both."""

    def __init__(self, settings: NotificationSettings, engine: ProgressEngine, channels: Mapping[str, Adapter],
                 **kw) -> None:
        self.settings = settings
        self.sender = OutboxSender(settings, engine, channels, **kw)
        self.scanner = Scanner(engine, Triggers(engine, settings))
        self._tasks: list[asyncio.Task] = []
        self._unlisten = lambda: None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        self._unlisten = on_written(self.sender.nudge)
        self._tasks = [asyncio.create_task(self.sender.run(), name="outbox-sender"),
                       asyncio.create_task(self._scan_loop(), name="notice-scanner")]
        log.info("notifications: outbox sender and scanner running (scan every %.0f s)",
                 self.settings.scan_interval_seconds)

    async def _scan_loop(self) -> None:
        while not self._stop.is_set():
            try:
                written = await self.scanner.scan()
                if written:
                    log.info("notifications: the scan wrote %d notices", written)
            except Exception:  # noqa: BLE001 - the next scan tries again
                log.exception("notifications: scan failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.scan_interval_seconds)

    async def stop(self) -> None:
        self._unlisten()
        self._stop.set()
        await self.sender.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
