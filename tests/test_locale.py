"""Language is kept per identity: what a customer writes on one channel is how that channel is answered."""
from __future__ import annotations

from datetime import timedelta

from models.people import Identity
from tests.kit.notices import CHAT, DIGEST, EMAIL, NO, Notices, texts


async def _last_used(h: Notices, channel: str) -> None:
    """``channel`` is the one the customer wrote on most recently (notices go there first)."""
    for ident in await Identity.filter(customer_id__isnull=False):
        ago = 1 if ident.channel == channel else 5
        await Identity.filter(id=ident.id).update(last_inbound_at=h.clock() - timedelta(hours=ago))


async def test_chinese_on_telegram_and_english_by_mail_each_get_notices_in_their_own_language(h: Notices):
    customer = await h.order(at="approved")
    await h.bind(customer)
    await h.bind(customer, "email", EMAIL)
    telegram = h.bot.flow(str(CHAT))
    mail = h.bot.flow(EMAIL, channel="email")
    assert "订单" in await telegram.say(f"我的订单 {NO} 到哪了")
    assert "Order" in await mail.say(f"where is my order {NO}?")
    # English mail does not flip the Telegram chat: a bare number there is still answered in Chinese.
    assert "订单" in await telegram.say(NO)

    await _last_used(h, "telegram")
    await h.advance(NO, "paid")
    await h.deliver(after=DIGEST)
    assert any("付款" in text for text in texts(h))

    await _last_used(h, "email")
    await h.advance(NO, "stocking", "production")
    await h.deliver(after=DIGEST)
    bodies = [m.get_body(("plain",)).get_content() for m in h.mail.to(EMAIL)]
    [notice] = [body for body in bodies if "In production" in body]
    assert "Your order" in notice
    assert not [t for t in texts(h) if "In production" in t], "the Telegram chat is never told in English"
