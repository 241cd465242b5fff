"""Verification by code, deep links and unbinding, as a customer meets them in a chat."""
from __future__ import annotations

import asyncio
import re

from models.access import OrderAccess
from models.chats import Challenge
from models.orders import Order
from models.outbox import Outbox
from models.people import Identity, StaffMember, add_staff
from tests.kit.base import Bot, free_port
from tests.kit.story import ASKS_CODE, EMAIL, NO, STOCKING, order_at


async def test_the_whole_code_flow(bot: Bot):
    await order_at(bot)
    flow = bot.flow("1001")
    asked = await flow.say(f"查一下订单{NO}")
    assert ASKS_CODE.search(asked) and not STOCKING.search(asked)
    [code] = bot.mail.codes(EMAIL)
    [mail] = bot.mail.to(EMAIL)
    assert mail["Auto-Submitted"] == "auto-generated" and mail["From"] == "orders@factory.example"
    shown = await flow.say(code)
    assert STOCKING.search(shown) and not ASKS_CODE.search(shown.replace("验证成功", ""))
    assert "12345.67" not in shown and "13812345678" not in shown and EMAIL not in shown
    again = await flow.say("我的订单到哪了")
    assert STOCKING.search(again)
    assert len(bot.mail.to(EMAIL)) == 1, "a bound chat needs no second code"
    identity = await Identity.get(channel="telegram", external_id="1001")
    assert identity.customer_id is None, "a code opens the order it was asked for, not the customer's others"
    assert [a.order_id for a in await OrderAccess.filter(identity_id=identity.id)] == [
        (await Order.get(order_no=NO)).id]


async def test_a_wrong_code_shows_nothing_and_says_how_many_tries_are_left(bot: Bot):
    await order_at(bot)
    flow = bot.flow()
    await flow.say(NO)
    [code] = bot.mail.codes(EMAIL)
    wrong = "000000" if code != "000000" else "111111"
    reply = await flow.say(wrong)
    assert "4" in reply and not STOCKING.search(reply)
    assert STOCKING.search(await flow.say(code))


async def test_a_code_expires_after_ten_minutes(bot: Bot):
    await order_at(bot)
    flow = bot.flow()
    await flow.say(NO)
    [code] = bot.mail.codes(EMAIL)
    bot.clock.advance(minutes=11)
    reply = await flow.say(code)
    assert "过期" in reply and not STOCKING.search(reply)


async def test_five_wrong_codes_lock_the_chat_and_tell_the_owner(bot: Bot):
    owner = await add_staff("王销售", "sales", "S001", "sales", {"telegram": "2002"}, None)
    await order_at(bot, sales_owner=owner.code)
    flow = bot.flow("1003")
    await flow.say(NO)
    [code] = bot.mail.codes(EMAIL)
    for i in range(5):
        reply = await flow.say(f"{(int(code) + 1 + i) % 1_000_000:06d}")
    assert "锁定" in reply
    refused = await flow.say(code)
    assert "锁定" in refused and not STOCKING.search(refused), "even the right code is refused while locked"
    asked_again = await flow.say(f"查一下订单{NO}")
    assert "锁定" in asked_again and len(bot.mail.codes(EMAIL)) == 1, "every lookup is locked"
    [notice] = await Outbox.filter(kind="verification_locked")
    assert (notice.channel, notice.address, notice.order_no) == ("telegram", "2002", NO)
    bot.clock.advance(minutes=16)
    await flow.say(NO)
    fresh = bot.mail.codes(EMAIL)[-1]
    assert STOCKING.search(await flow.say(fresh))


async def test_the_reply_is_the_same_whether_or_not_the_order_exists(bot: Bot):
    await order_at(bot)
    real = await bot.flow("1001").say(f"查一下订单{NO}")
    ghost = await bot.flow("1002").say("查一下订单SO209912310077")
    mask = lambda text: re.sub(r"SO\d+", "#", text)
    assert mask(real) == mask(ghost)
    # what follows is alike too: a wrong code to the ghost counts down the same way
    assert mask(await bot.flow("1001").say("000001")) == mask(await bot.flow("1002").say("000001"))
    assert len(bot.mail.codes(EMAIL)) == 1 and len(bot.mail.messages) == 1


async def test_an_order_without_a_contact_answers_alike_and_mails_nobody(bot: Bot):
    await order_at(bot, email=None)
    reply = await bot.flow().say(NO)
    assert ASKS_CODE.search(reply) and bot.mail.messages == []


async def test_a_deep_link_binds_without_a_code_and_logout_unbinds(bot: Bot, api):
    status, created = await api.create("SO202611240043")
    assert status == 201 and created["links"]["wechat_scene"] == "bind_" + created["bind_token"]
    flow = bot.flow("1005")
    opened = await flow.say(f"/start {created['bind_token']}")
    assert "已绑定订单 SO202611240043" in opened
    assert "SO202611240043" in await flow.say("我的订单")
    assert bot.mail.messages == []
    assert "解除" in await flow.say("退出")
    assert ASKS_CODE.search(await flow.say("SO202611240043"))
    assert "无效" in await flow.say("/start not-a-real-token")


async def test_mail_from_the_contact_address_is_answered_directly(bot: Bot):
    await order_at(bot)
    reply = await bot.flow(EMAIL, channel="email").say(f"Where is {NO}?")
    assert STOCKING.search(reply) and bot.mail.messages == []
    stranger = await bot.flow("someone@else.example", channel="email").say(f"Where is {NO}?")
    assert ASKS_CODE.search(stranger)


async def test_two_messages_at_once_from_one_chat_cannot_both_use_the_code(bot: Bot):
    await order_at(bot)
    flow = bot.flow()
    await flow.say(NO)
    [code] = bot.mail.codes(EMAIL)
    first, second = await asyncio.gather(flow.say(code), flow.say(code))
    assert sum(bool(STOCKING.search(r)) for r in (first, second)) == 1
    assert await Challenge.filter(consumed_at__isnull=False).count() == 1


async def test_two_wrong_codes_at_once_both_count(bot: Bot):
    await order_at(bot)
    flow = bot.flow()
    await flow.say(NO)
    [code] = bot.mail.codes(EMAIL)
    wrong = [f"{(int(code) + d) % 1_000_000:06d}" for d in (1, 2)]
    await asyncio.gather(*(flow.say(w) for w in wrong))
    assert (await Challenge.get(session_key="telegram:1001")).attempts == 2


async def test_staff_are_never_asked_for_a_code(bot: Bot):
    await order_at(bot)
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    reply = await bot.flow("2001").say(NO)
    assert STOCKING.search(reply) and "12,345.67" in reply and bot.mail.messages == []
    assert await StaffMember.filter(code="M001").exists()


async def test_a_code_that_could_not_be_mailed_in_time_is_never_mailed(bot: Bot, settings):
    await order_at(bot)
    up = settings.email.smtp_port
    settings.email.smtp_port = free_port()  # the mail server is down
    assert ASKS_CODE.search(await bot.flow().say(NO))
    [row] = await Outbox.filter(kind="verification_code")
    assert row.status == "pending" and row.attempts == 1 and bot.mail.codes(EMAIL) == [], "kept to try again"
    settings.email.smtp_port = up
    bot.clock.advance(minutes=11)  # past the code's 10 minutes
    await bot.sender.run_once()
    row = await Outbox.get(id=row.id)
    assert (row.status, row.last_error, row.payload) == ("failed", "expired before it could be sent", {})
    assert bot.mail.codes(EMAIL) == [], "a dead code is not mailed"
