"""Where an update's CPU goes, in process: the conversation pipeline without HTTP.

Seeds the same database as bench/inbound.py (customers whose Telegram chats are bound to an
order), then hands ``-n`` messages ("SO… 到哪了") straight to the pipeline (``Inbound``: dedupe,
rate limits, identity, conversation lease, intent, order, card, audit) at concurrency ``-c``,
and splits the CPU per update into the SQLite batches' own work (statements, commits, rows
turned into dicts), the intent parser, and everything else (asyncio, model instances, the
card, the view policy): where the time goes that bench/floor_lookup.py, doing only the
database work, does not spend.

    python bench/inbound_parts.py
    python bench/inbound_parts.py -n 8000 -c 32
    python bench/inbound_parts.py --profile       # and where, function by function
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import shutil
import tempfile
import time
from pathlib import Path

from inbound import FIRST_USER, order_no, seed  # noqa: E402 - sibling script

from bot.app import build_conversation, build_engine
from bot.config import Settings
from bot.conversation.inbound import Inbound
from bot.db import database, ensure_schema
from models import batch
from models import sql as road
from models.messages import InboundMessage

WARM = 50


class Timed:
    """Adds up the thread CPU spent inside a function (each runs on the event loop's thread here)."""

    def __init__(self, owner: object, name: str) -> None:
        self.owner, self.name, self.inner, self.seconds, self.calls = owner, name, getattr(owner, name), 0.0, 0

        def timed(*a, **kw):
            started = time.thread_time()
            try:
                return self.inner(*a, **kw)
            finally:
                self.seconds += time.thread_time() - started
                self.calls += 1

        setattr(owner, name, timed)

    def reset(self) -> None:
        self.seconds, self.calls = 0.0, 0


async def measure(n: int, concurrency: int, folder: Path, profile: bool = False) -> None:
    url = f"sqlite://{folder / 'parts.db'}"
    async with database(url):
        await ensure_schema(auto_migrate=True)
    await seed(url, n)
    settings = Settings(database={"url": url}, security={"secret_key": "bench-" * 8})
    engine = build_engine(settings)
    async with database(url):
        inbound = Inbound(build_conversation(settings, engine))
        sql = Timed(batch, "_run")
        nlu = Timed(inbound.conversation.services.parser, "parse")
        messages = [InboundMessage(channel="telegram", sender_id=str(FIRST_USER + i), chat_id=str(FIRST_USER + i),
                                   text=f"{order_no(i)} 到哪了", message_id=f"u{i + 1}", mentioned=True,
                                   language="zh-hans", raw={}) for i in range(n)]
        for msg in messages[:WARM]:
            answer = await inbound(msg)
        assert answer and order_no(WARM - 1) in answer[0].text, answer
        sql.reset(), nlu.reset()
        queue = messages[WARM:]

        async def client() -> None:
            while queue:
                await inbound(queue.pop())

        profiler = cProfile.Profile() if profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        await road.flush()
    done = n - WARM
    per = lambda seconds: seconds / done * 1000  # noqa: E731
    print(f"\nupdates          {done:,} at concurrency {concurrency}, no HTTP")
    print(f"updates/s        {done / wall:,.0f}")
    print(f"CPU              {per(cpu):.3f} ms/update, of which")
    print(f"  SQLite batches {per(sql.seconds):.3f} ms  ({sql.calls / done:.2f} batches/update)")
    print(f"  intent parser  {per(nlu.seconds):.3f} ms")
    print(f"  the rest       {per(cpu - sql.seconds - nlu.seconds):.3f} ms  (asyncio, models, card, policy, audit)")
    if profiler:
        print("\n(figures above are inflated by the profiler)")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--updates", type=int, default=4000)
    p.add_argument("-c", "--concurrency", type=int, default=16)
    p.add_argument("--profile", action="store_true", help="also print cProfile's busiest functions")
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="orderbot-parts-"))
    try:
        asyncio.run(measure(args.updates, args.concurrency, folder, args.profile))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
