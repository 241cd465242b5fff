"""The shared story: one order of customer 张三, and what the bot says about it."""
from __future__ import annotations

import re

from models.inputs import CustomerIn, EventIn, OrderIn
from tests.kit.base import Bot

NO = "SO202611240042"
EMAIL = "zhang@buyer.example"
STOCKING = re.compile(r"备货|Stocking")
ASKS_CODE = re.compile(r"验证码|code", re.IGNORECASE)


async def order_at(bot: Bot, no: str = NO, email: str | None = EMAIL, node: str = "stocking", **extra):
    """The order ``no``, created and moved on to ``node``."""
    await bot.engine.create_order(OrderIn(order_no=no, customer=CustomerIn(name="张三", email=email, locale="zh",
                                                                           phone="13812345678"),
                                          amount="12345.67", **extra))
    for i, n in enumerate(["approved", "paid", "stocking", "production", "qc", "outbound"]):
        await bot.engine.apply_event(no, EventIn(event_id=f"{no}-{i}", node=n))
        if n == node:
            break


async def opened(channel: str, external_id: str) -> list[str]:
    """The orders a chat proved itself for (with a code or a bind token), by number."""
    from models.access import OrderAccess
    from models.people import Identity

    identity = await Identity.get_or_none(channel=channel, external_id=external_id)
    if identity is None:
        return []
    return [a.order.order_no for a in await OrderAccess.filter(identity_id=identity.id).prefetch_related("order")]
