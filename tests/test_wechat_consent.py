"""WeChat subscribe-message consent: a prompt answered "accept" allows one notice outside the window."""
from __future__ import annotations

from datetime import timedelta

from bot.app import make_channel
from models.messages import Target
from models.outbox import Outbox, enqueue
from models.people import Customer, Identity
from models.platforms import MessageConsent
from models.recipients import Recipient
from notifications.sending import OutboxSender
from tests.kit.base import Bot
from tests.kit.wechat_api import WeChatSide, cdata, push_xml

OPENID = "o_consent_1"


def popup_xml(openid: str, created: int, *choices: tuple[str, str]) -> str:
    """A ``subscribe_msg_popup_event`` as WeChat writes it: one <List> per template in the prompt."""
    items = "".join(f"<List><TemplateId>{cdata(t)}</TemplateId><SubscribeStatusString>{cdata(s)}"
                    f"</SubscribeStatusString><PopupScene>2</PopupScene></List>" for t, s in choices)
    return push_xml(openid, "event", created=created, Event="subscribe_msg_popup_event")[:-len("</xml>")] + \
        f"<SubscribeMsgPopupEvent>{items}</SubscribeMsgPopupEvent></xml>"


async def test_an_accepted_prompt_counts_once_however_often_wechat_retries_it(wx: WeChatSide):
    push = popup_xml(OPENID, 1767225600, ("SUB_SHIP", "accept"), ("SUB_LATE", "reject"))
    for _ in range(3):
        assert (await wx.post(push)).success
    rows = {c.template_id: c.remaining for c in await MessageConsent.filter(address=OPENID)}
    assert rows == {"SUB_SHIP": 1}
    assert (await wx.post(popup_xml(OPENID, 1767225700, ("SUB_SHIP", "accept")))).success
    assert (await MessageConsent.get(address=OPENID, template_id="SUB_SHIP")).remaining == 2


async def test_outside_the_window_a_consent_buys_one_subscribe_message_then_email(wx: WeChatSide, bot: Bot, wx_api,
                                                                                   settings):
    wx.channel.config.subscribe_templates = {"node_entered": "SUB_SHIP"}
    settings.notifications.quiet_hours, settings.notifications.digest_seconds = "", 0
    customer = await Customer.create(name="王五", email="wang@buyer.example")
    await Identity.create(channel="wechat", external_id=OPENID, customer=customer,
                          last_inbound_at=bot.clock() - timedelta(days=3))
    assert (await wx.post(popup_xml(OPENID, 1767225600, ("SUB_SHIP", "accept")))).success
    sender = OutboxSender(settings.notifications, bot.engine,
                          {"wechat": wx.channel, "email": make_channel("email", settings)})
    rec = Recipient(f"customer:{customer.id}", "customer", Target("wechat", OPENID), "zh")
    payload = {"order_no": "SO202611240077", "workflow": "standard", "node": "outbound"}
    for key in ("node:SO202611240077:a", "node:SO202611240077:b"):
        await enqueue(key, "node_entered", [rec], payload, order_no="SO202611240077", due=bot.clock())
        await sender.run_once()
    first, second = await Outbox.all().order_by("id")
    assert (first.status, first.sent_via) == ("sent", f"wechat:{OPENID}")
    [sent] = wx_api.bodies("message/subscribe/bizsend")
    assert sent["template_id"] == "SUB_SHIP" and sent["data"]["character_string1"] == {"value": "SO202611240077"}
    assert not wx_api.bodies("message/custom/send")  # outside the window: never tried
    assert (second.status, second.sent_via) == ("sent", "email:wang@buyer.example")
    assert "SO202611240077" in bot.mail.to("wang@buyer.example")[-1]["Subject"]
    assert (await MessageConsent.get(address=OPENID)).remaining == 0
