"""Conversation state held by one handler at a time, across processes; rate limits in the database."""
from __future__ import annotations

import asyncio

from bot.conversation.limits import Limit, RateLimiter
from bot.conversation.sessions import Sessions
from models.chats import ConversationState


async def test_a_second_process_waits_for_the_conversation(db):
    first, second = Sessions(), Sessions()  # two processes: two owners, no shared lock
    order: list[str] = []

    async def hold(sessions: Sessions, name: str, pause: float) -> None:
        async with sessions.hold("telegram:42") as session:
            order.append(f"{name} in")
            session.data[name] = True
            await asyncio.sleep(pause)
            order.append(f"{name} out")

    await asyncio.gather(hold(first, "a", 0.3), hold(second, "b", 0))
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
    row = await ConversationState.get(session_key="telegram:42")
    assert row.data == {"a": True, "b": True} and row.lease_owner is None


async def test_a_failed_handler_keeps_the_old_state(db):
    sessions = Sessions()
    async with sessions.hold("k") as s:
        s.data["step"] = 1
    try:
        async with sessions.hold("k") as s:
            s.data["step"] = 2
            raise RuntimeError("handler broke")
    except RuntimeError:
        pass
    async with sessions.hold("k") as s:
        assert s.data == {"step": 1}


async def test_a_lease_left_by_a_dead_process_runs_out(db):
    from datetime import datetime, timedelta, timezone

    await ConversationState.create(session_key="k", data={}, lease_owner="dead:1",
                                   lease_until=datetime.now(timezone.utc) + timedelta(seconds=0.3))
    async with Sessions(wait_seconds=5).hold("k") as s:
        assert s.key == "k"


async def test_rate_limits_count_across_limiters(db):
    limit = Limit("test", 3, 60)
    a, b = RateLimiter(), RateLimiter()  # as two processes would
    results = [await a.allow(limit, "chat-1"), await b.allow(limit, "chat-1"), await a.allow(limit, "chat-1"),
               await b.allow(limit, "chat-1")]
    assert results == [True, True, True, False]
    assert await a.allow(limit, "chat-2")


async def test_a_lease_is_held_by_one_owner_at_a_time(db):
    from models import leases

    assert await leases.take("refresh", 30, owner="a")
    assert not await leases.take("refresh", 30, owner="b")
    assert await leases.take("refresh", 30, owner="a"), "renewing one's own lease"
    await leases.give_back("refresh", owner="a")
    assert await leases.take("refresh", 30, owner="b")
