"""The demo keeps moving: every so often an order goes on to its next node.

Orders a chat follows go first, so a newcomer who verifies in the web chat
(or `orderbot chat`) sees a notice arrive within a minute or so; another order moves
too, so the API's lists change. Moves are ordinary node events through the engine, so
they write their notices like any ERP's would.
"""
from __future__ import annotations

import asyncio
import logging
import random

from bot.demo.seed import event
from models.access import OrderAccess
from models.engine import ProgressEngine
from models.errors import EngineError
from models.orders import Order, OrderException
from models.people import Identity

log = logging.getLogger(__name__)
EVERY_SECONDS = 20.0


async def next_move(engine: ProgressEngine, order: Order) -> str | None:
    """The node ``order`` can go to next, or None (done, or held up by an open exception)."""
    wf = engine.workflows.get(order.workflow)
    if wf is None or not wf.has(order.current_node) or wf.index(order.current_node) >= wf.done_index:
        return None
    if await OrderException.filter(order_id=order.id, status__in=("open", "acknowledged")).exists():
        return None
    return wf.nodes[wf.index(order.current_node) + 1].key


async def candidates(engine: ProgressEngine, rng: random.Random) -> list[Order]:
    """An order someone's chat follows that can move (if any), then one other at random."""
    bound = set(await Identity.filter(customer_id__isnull=False).values_list("customer_id", flat=True))
    opened = set(await OrderAccess.all().values_list("order_id", flat=True))
    picked: list[Order] = []
    if bound or opened:
        mine = [*await Order.filter(id__in=opened).order_by("-id").limit(50),
                *await Order.filter(customer_id__in=bound).order_by("-id").limit(50)]
        picked += [o for o in mine if await next_move(engine, o)][:1]
    recent = await Order.all().order_by("-id").limit(200)
    if recent:
        picked.append(rng.choice(recent))
    return picked


async def keep_moving(engine: ProgressEngine, every: float = EVERY_SECONDS, seed: int | None = None) -> None:
    """Move an order or two every ``every`` seconds, until cancelled."""
    rng = random.Random(seed)
    while True:
        await asyncio.sleep(every)
        for order in await candidates(engine, rng):
            node = await next_move(engine, order)
            if node is None:
                continue
            ev = event(rng, engine.workflow_of(order).node(node), engine.clock(), "demo")
            try:
                await engine.apply_event(order.order_no, ev, source="demo")
                log.info("demo: %s moved on to %s", order.order_no, node)
            except EngineError as e:
                log.info("demo: %s stays where it is (%s)", order.order_no, e)
