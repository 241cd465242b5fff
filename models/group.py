"""Group commit: work from many coroutines, written by one task, as much at a time as waits.

A write costs a round trip and a commit whatever it carries, so with many callers in flight
the trips, not the work, set the pace. Here callers queue their items and one task writes
whatever is waiting in one go; each caller hears the outcome of its own item once that
write has finished. Two writers use it: the conversation's small statements on SQLite
(``models.batch``) and node events (``models.writer``).
"""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Write = Callable[[list[T]], Awaitable[Sequence[Any]]]


class Abandoned(Exception):
    """The writer stopped (the event loop is closing) before this item was written."""


class GroupCommit(Generic[T]):
    """Queues items and writes them in batches, in one task started when work arrives.

    ``write(items)`` answers one outcome per item, in order: a value for the caller, or the
    Exception that item failed with (raised to its caller). If ``write`` itself raises, every
    item of the batch fails with that error. ``key`` keeps two items with the same key out of
    one batch (the later waits for the next, so their order holds). ``after`` runs once a
    batch's callers have been told and before the next batch is taken: work the next batch
    must wait for, but this one's callers need not.
    """

    def __init__(self, write: Write[T], *, max_batch: int, key: Callable[[T], Hashable] | None = None,
                 after: Callable[[], Awaitable[None]] | None = None) -> None:
        self.write, self.max_batch, self.key, self.after = write, max_batch, key, after
        self._queue: deque[tuple[T, asyncio.Future]] = deque()
        self._task: asyncio.Task | None = None

    def submit(self, item: T) -> asyncio.Future:
        """Queue ``item``; the future gets its outcome once its batch is written."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None or self._task.done():
            # Started now, it runs after the coroutines already woken, so those get to queue theirs too.
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return future

    async def flush(self) -> None:
        """Wait until everything queued so far has been written (at shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    def _take(self) -> list[tuple[T, asyncio.Future]]:
        """The next batch, in queue order; with a ``key``, at most one item per key."""
        if self.key is None:
            n = min(self.max_batch, len(self._queue))
            return [self._queue.popleft() for _ in range(n)]
        batch: list[tuple[T, asyncio.Future]] = []
        seen: set[Hashable] = set()
        kept: deque[tuple[T, asyncio.Future]] = deque()
        while self._queue and len(batch) < self.max_batch:
            entry = self._queue.popleft()
            k = self.key(entry[0])
            (kept if k in seen else batch).append(entry)
            seen.add(k)
        self._queue.extendleft(reversed(kept))
        return batch

    async def _drain(self) -> None:
        while self._queue:
            batch = self._take()
            try:
                outcomes = list(await self.write([item for item, _ in batch]))
            except Exception as e:  # noqa: BLE001 - the whole batch failed: each caller hears it
                outcomes = [e] * len(batch)
            except BaseException:  # cancelled (the loop is closing): nobody may wait for ever
                self._abandon(batch)
                raise
            for (_, future), outcome in zip(batch, outcomes):
                if future.done():
                    continue  # its caller was cancelled
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
            if self.after is not None:
                try:
                    await self.after()
                except BaseException:
                    self._abandon([])
                    raise

    def _abandon(self, batch: list[tuple[T, asyncio.Future]]) -> None:
        for _, future in [*batch, *self._queue]:
            if not future.done():
                future.set_exception(Abandoned("the writer stopped before this was written"))
        self._queue.clear()
