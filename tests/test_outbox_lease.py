"""A send slower than the lease (a group chat at 20 a minute) is not taken over by another process."""
from __future__ import annotations

import asyncio

from models.messages import Target
from models.outbox import Outbox, enqueue
from models.recipients import Recipient
from notifications.sending import OutboxSender
from tests.kit.fakes import Recorder


async def test_a_live_senders_lease_is_renewed_so_nobody_sends_it_twice(settings, engine):
    settings.notifications.quiet_hours, settings.notifications.digest_seconds = "", 0
    group = Target("telegram", "-1001234")
    await enqueue("exception:1:opened", "exception_opened", [Recipient(str(group), "staff", group, "zh")],
                  {"order_no": "SO202611240001", "workflow": "standard", "node": "stocking", "kind": "stockout",
                   "note": "缺料"}, order_no="SO202611240001", due=engine.clock())
    slow = Recorder("telegram", delay=2.0)  # a group chat's pace makes every send wait
    first = OutboxSender(settings.notifications, engine, {"telegram": slow}, owner="first", lease_seconds=0.6,
                         poll_seconds=0.05)
    second = OutboxSender(settings.notifications, engine, {"telegram": slow}, owner="second", lease_seconds=0.6,
                          poll_seconds=0.05)
    running = [asyncio.create_task(first.run())]
    await asyncio.sleep(0.2)  # the first has claimed the row and is sending
    running.append(asyncio.create_task(second.run()))
    await asyncio.sleep(2.5)  # well past the 0.6 s lease the first took
    for d in (first, second):
        await d.stop()
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    assert len(slow.sent) == 1 and "SO202611240001" in slow.texts()[0]
    row = await Outbox.get()
    assert (row.status, row.sent_via, row.lease_owner) == ("sent", str(group), None)
