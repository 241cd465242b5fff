"""A sending process for the crash tests (``tests/test_outbox_crash.py`` starts it with
``python -c``, kills it, races two of them)."""
from __future__ import annotations

import asyncio
import sys

from bot.app import build_engine, make_channel
from bot.config import load_settings
from bot.db import database
from models.outbox import Outbox
from notifications.sending import OutboxSender


async def work(config: str, mode: str, owner: str, lease: str) -> None:
    """One sending process, as ``orderbot serve`` builds it (engine, Telegram channel, outbox sender).

    ``crash``: claim one row, say ``claimed <id>``, then hang before sending it (the test kills
    it there). ``race``: say ``ready``, wait for a line on stdin, run the sender until no row
    is pending or being sent, say ``done``.
    """
    settings = load_settings(config)
    engine = build_engine(settings)
    async with database(settings.database.url):
        channel = make_channel("telegram", settings)
        await channel.startup()
        if mode == "crash":
            sender = OutboxSender(settings.notifications, engine, {"telegram": channel}, owner=owner,
                                      lease_seconds=float(lease))
            rows = await sender.claim(1)
            print("claimed", *[r["id"] for r in rows], flush=True)
            await asyncio.Event().wait()  # SIGKILL lands here, after the claim, before the send
            await sender.deliver(rows)  # never reached: a one-row claim is one message
            return
        sender = OutboxSender(settings.notifications, engine, {"telegram": channel}, owner=owner, concurrency=16,
                                  poll_seconds=0.1)
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        running = asyncio.create_task(sender.run())
        while await Outbox.filter(status__in=["pending", "sending"]).exists():
            await asyncio.sleep(0.1)
        await sender.stop()
        await running
        await channel.shutdown()
        print("done", flush=True)
