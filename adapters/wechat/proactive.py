"""How a notice reaches a WeChat follower: the 48-hour window, then templates, then consent.

WeChat lets an Official Account send customer-service messages only within 48 hours of
the person's last message to it. Outside that window a template message goes out when
``[wechat] templates`` names one for the notice's kind (verified service accounts), else
a subscribe message when ``[wechat] subscribe_templates`` names one and the person gave
a consent we have not used yet (each consent allows one send). Otherwise the answer is
``unreachable`` and the notifications fall back to the person's next channel.

Template data fields: ``first`` (the notice's first line), ``keyword1`` (the order
number), ``keyword2`` (the rest), ``remark``. Subscribe data fields:
``character_string1`` (the order number), ``thing2`` (the first line, cut to 20
characters, WeChat's limit for ``thing`` fields).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from adapters.base import Occasion
from adapters.wechat.config import WeChatSettings
from models.messages import Delivery, Reply, Target
from models.platforms import take_consent
from models.recipients import last_inbound
from models.schedule import utcnow

# A little inside WeChat's 48 hours: our record of the last message may lag by a minute.
WINDOW = timedelta(hours=47, minutes=50)
THING_CHARS = 20

Send = Callable[[Target, Reply], Awaitable[Delivery]]
SendTemplate = Callable[[Target, str, dict[str, Any]], Awaitable[Delivery]]


async def notice(settings: WeChatSettings, target: Target, reply: Reply, occasion: Occasion, *, text: Send,
                 template: SendTemplate, subscribe: SendTemplate) -> Delivery:
    """Send a notice the way WeChat allows it now (see the module docstring)."""
    seen = await last_inbound(target)
    now = occasion.at or utcnow()
    if seen is not None and now - seen < WINDOW:
        delivery = await text(target, reply)
        if delivery.ok or not delivery.unreachable:
            return delivery
    first, _, rest = reply.text.partition("\n")
    order_no = occasion.order_no or ""
    template_id = settings.templates.get(occasion.kind)
    if template_id:
        return await template(target, template_id, {"first": first, "keyword1": order_no, "keyword2": rest or first,
                                                    "remark": ""})
    template_id = settings.subscribe_templates.get(occasion.kind)
    if template_id and await take_consent(target, template_id):
        return await subscribe(target, template_id, {"character_string1": order_no, "thing2": first[:THING_CHARS]})
    return Delivery.failed("wechat: outside the 48-hour window, and no template or consent for this notice",
                           retryable=False, unreachable=True)
