"""Work that runs after the reply (sending a code mail), tracked so that none is dropped silently."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


class Background:
    """Starts coroutines as tasks, logs their failures, and waits for them at shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def __call__(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed: %r", task.exception(), exc_info=task.exception())

    async def drain(self, timeout: float = 30) -> None:
        """Wait for what is still running (at shutdown, at the end of `orderbot chat`)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


async def with_retries(make: Callable[[], Awaitable[Any]], *, tries: int = 3, first_delay: float = 2.0,
                       what: str = "work") -> None:
    """Try ``make()`` a few times with growing pauses; the last failure is raised (and logged)."""
    delay = first_delay
    for attempt in range(1, tries + 1):
        try:
            await make()
            return
        except Exception as e:  # noqa: BLE001 - retried, then raised
            if attempt == tries:
                raise
            log.warning("%s failed (%s), trying again in %.0f s", what, e, delay)
            await asyncio.sleep(delay)
            delay *= 3
