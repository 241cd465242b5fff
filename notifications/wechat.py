"""How a notice reaches a WeChat follower: the 48-hour window, then templates, then consent.

WeChat lets an Official Account send customer-service messages only within 48 hours of
the person's last message to it. Outside that window a template message goes out when
``[wechat] templates`` names one for the notice's kind (verified service accounts), else
a subscribe message when ``[wechat] subscribe_templates`` names one and the person gave
a consent we have not used yet (each consent allows one send). Otherwise the answer is
``unreachable`` and the dispatcher falls back to the person's next channel.

Template data fields: ``first`` (the notice's first line), ``keyword1`` (the order
number), ``keyword2`` (the rest), ``remark``. Subscribe data fields:
``character_string1`` (the order number), ``thing2`` (the first line, cut to 20
characters, WeChat's limit for ``thing`` fields).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from adapters.base import Delivery
from bot.config import WeChatSettings
from models.messages import Reply, Target
from models.platforms import take_consent

# A little inside WeChat's 48 hours: our record of the last message may lag by a minute.
WINDOW = timedelta(hours=47, minutes=50)
THING_CHARS = 20


class WeChatRoute:
    """Chooses customer-service, template or subscribe message for one notice."""

    def __init__(self, settings: WeChatSettings, clock: Callable[[], datetime]) -> None:
        self.settings, self.clock = settings, clock

    async def send(self, adapter: Any, target: Target, reply: Reply, kind: str, payload: dict[str, Any],
                   last_inbound: datetime | None) -> Delivery:
        if last_inbound is not None and self.clock() - last_inbound < WINDOW:
            delivery = await adapter.send(target, reply)
            if delivery.ok or not delivery.unreachable:
                return delivery
        first, _, rest = reply.text.partition("\n")
        order_no = payload.get("order_no", "")
        template = self.settings.templates.get(kind)
        if template:
            return await adapter.send_template(target, template, {
                "first": first, "keyword1": order_no, "keyword2": rest or first, "remark": ""})
        template = self.settings.subscribe_templates.get(kind)
        if template and await take_consent(target, template):
            return await adapter.send_subscribe(target, template, {
                "character_string1": order_no, "thing2": first[:THING_CHARS]})
        return Delivery.failed("wechat: outside the 48-hour window, and no template or consent for this notice",
                               retryable=False, unreachable=True)
