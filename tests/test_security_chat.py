"""What an attacker found in the conversation (issue 12), each as the user would notice it.

Strangers must not lock an order's owner out, guesses are budgeted per order and per
customer rather than per code, a code opens one order, a lookup's time says nothing of
whether the order exists, bind tokens are the first chat's, and mail nobody vouched for
asks for a code before it changes anything.
"""
from __future__ import annotations

import random
import re
import statistics
import time

from models import progress
from models.messages import InboundMessage
from models.outbox import Outbox
from models.people import add_staff
from models.requests import CustomerRequest
from models.recipients import Subscription
from tests.kit.base import Bot
from tests.kit.story import ASKS_CODE, EMAIL, NO, STOCKING, opened, order_at

LIMITED = "太频繁"
STOPPED = "已暂停"


def wrong(code: str, i: int = 1) -> str:
    return f"{(int(code) + i) % 1_000_000:06d}"


async def verified(bot: Bot, sender: str, no: str = NO, email: str = EMAIL) -> None:
    flow = bot.flow(sender)
    await flow.say(no)
    assert STOCKING.search(await flow.say(bot.mail.codes(email)[-1]))


# ---------------------------------------------------------------- 1. strangers cannot block the owner
async def test_strangers_looking_an_order_up_never_limit_its_owner(bot: Bot):
    """Failed before: 31 strangers left the owner's own chat with "请求太频繁"."""
    await order_at(bot)
    await verified(bot, "owner")
    await add_staff("李主管", "manager", "M001", None, {"telegram": "boss"}, None)
    replies = [await bot.flow(f"stranger-{i}").say(NO) for i in range(31)]
    assert LIMITED in replies[-1] and not any(STOCKING.search(r) for r in replies)
    assert STOCKING.search(await bot.flow("owner").say(f"{NO}到哪了")), "the owner's chat is never limited by others"
    assert STOCKING.search(await bot.flow("boss").say(NO)), "nor is the staff"
    assert STOCKING.search(await bot.flow(EMAIL, channel="email").say(f"Where is {NO}?")), \
        "nor the customer's own mailbox"


async def test_code_mails_are_limited_per_asker_and_in_total_without_touching_the_owner(bot: Bot):
    """Failed before: 5 strangers used up every code mail the order's customer could get in an hour."""
    await order_at(bot)
    await verified(bot, "owner")
    pest = bot.flow("pest")
    for _ in range(5):
        last = await pest.say(NO)
    assert "最新的一封" in last and len(bot.mail.codes(EMAIL)) == 1 + 3, "one chat has at most 3 codes an hour"
    for i in range(10):
        await bot.flow(f"stranger-{i}").say(NO)
    assert len(bot.mail.codes(EMAIL)) == 10, "10 code mails an hour for one order, whoever asks"
    assert STOCKING.search(await bot.flow("owner").say(NO))
    assert STOCKING.search(await bot.flow(EMAIL, channel="email").say(f"Where is {NO}?"))


# ---------------------------------------------------------------- 2. the guess budget
async def test_ten_wrong_codes_from_any_chats_stop_codes_for_the_order_until_reopened(bot: Bot):
    """Failed before: each new code (or chat) started its count over."""
    owner = await add_staff("王销售", "sales", "S001", None, {"telegram": "sales"}, None)
    await order_at(bot, sales_owner=owner.code)
    for chat in ("a", "b", "c"):  # a new code, and a new chat, for every four guesses
        flow = bot.flow(f"guesser-{chat}")
        await flow.say(NO)
        code = bot.mail.codes(EMAIL)[-1]
        for i in range(4 if chat != "c" else 2):
            reply = await flow.say(wrong(code, i + 1))
    assert STOPPED in reply and NO in reply
    mails = len(bot.mail.messages)
    asked = await bot.flow("newcomer").say(NO)
    assert STOPPED in asked and len(bot.mail.messages) == mails, "no code is mailed while codes are stopped"
    [told] = await Outbox.filter(kind="verification_stopped")
    assert (told.address, told.order_no, told.payload["tries"]) == ("sales", NO, 10)
    assert STOCKING.search(await bot.flow("sales").say(NO)), "staff still see it"
    assert "已恢复" in await bot.flow("sales").say(f"/reopen {NO}")
    flow = bot.flow("newcomer")
    await flow.say(NO)
    assert STOCKING.search(await flow.say(bot.mail.codes(EMAIL)[-1])), "codes work again, counting from the reopen"


async def guess_ten_times(bot: Bot, no: str, chats: tuple[str, str]) -> str:
    """Two chats guess five wrong codes each for ``no`` (the fifth locks a chat): the last answer."""
    for chat in chats:
        flow = bot.flow(chat)
        await flow.say(no)
        code = bot.mail.codes(EMAIL)[-1]
        for i in range(5):
            reply = await flow.say(wrong(code, i + 1))
    return reply


async def test_the_customers_own_chat_reopens_codes_and_a_stranger_cannot(bot: Bot):
    await order_at(bot)
    await verified(bot, "owner")
    assert STOPPED in await guess_ten_times(bot, NO, ("x", "y"))
    assert "已恢复" not in await bot.flow("stranger").say(f"/reopen {NO}")
    assert STOPPED in await bot.flow("newcomer").say(NO)
    assert "已恢复" in await bot.flow("owner").say(f"/reopen {NO}")
    flow = bot.flow("newcomer")
    await flow.say(NO)
    assert STOCKING.search(await flow.say(bot.mail.codes(EMAIL)[-1]))


async def test_the_budget_is_per_customer_too_and_says_nothing_of_which_orders_are_theirs(bot: Bot):
    """20 wrong codes over a customer's orders stop codes for all of them, while the answer to a
    stranger stays the one any order number gets."""
    await add_staff("王销售", "sales", "S001", None, {"telegram": "sales"}, None)
    a, b, c = (f"SO2026112400{n}" for n in (51, 52, 53))
    for no in (a, b, c):
        await order_at(bot, no=no, sales_owner="S001")
    assert STOPPED in await guess_ten_times(bot, a, ("a1", "a2"))
    assert STOPPED in await guess_ten_times(bot, b, ("b1", "b2"))
    mails = len(bot.mail.messages)
    asked = await bot.flow("newcomer").say(c)
    ghost = await bot.flow("newcomer-2").say("SO209912310077")
    assert asked.replace(c, "#") == ghost.replace("SO209912310077", "#") and ASKS_CODE.search(asked)
    assert len(bot.mail.messages) == mails, "the customer's codes stopped: none is mailed, and the asker cannot tell"
    assert "不正确" in await bot.flow("newcomer").say("123456")
    assert await Outbox.filter(kind="verification_stopped").count() == 2


async def test_a_correct_code_opens_only_the_order_it_was_asked_for(bot: Bot):
    """Failed before: one code bound the chat to all of that customer's orders."""
    await order_at(bot)
    await order_at(bot, no="SO202611240099")
    await verified(bot, "1001")
    flow = bot.flow("1001")
    other = await flow.say("SO202611240099")
    assert ASKS_CODE.search(other) and not STOCKING.search(other), "another order needs its own proof"
    assert await opened("telegram", "1001") == [NO]
    listed = await flow.say("我的订单")
    assert NO in listed and "SO202611240099" not in listed


# ---------------------------------------------------------------- 3. timing
async def test_lookups_of_real_and_made_up_orders_take_the_same_time(bot: Bot):
    """Failed before: real orders took about 2 ms longer (the code mail's row)."""
    real = [f"SO2026113{n:05d}" for n in range(100)]
    for no in real:
        await order_at(bot, no=no, node="approved")
    ghosts = [f"SO2099123{n:05d}" for n in range(100)]
    asks = [(no, True) for no in real] + [(no, False) for no in ghosts]
    random.Random(12).shuffle(asks)
    took: dict[bool, list[float]] = {True: [], False: []}
    for i, (no, exists) in enumerate(asks):
        msg = InboundMessage(channel="telegram", sender_id=f"t{i}", chat_id=f"t{i}", text=f"查一下订单{no}",
                             message_id=f"t{i}")
        start = time.perf_counter()
        [reply] = await bot.conversation.handle(msg)
        took[exists].append(time.perf_counter() - start)
        assert ASKS_CODE.search(reply.text)
    gap = abs(statistics.median(took[True]) - statistics.median(took[False]))
    print(f"medians: real {statistics.median(took[True]) * 1000:.2f} ms, made-up {statistics.median(took[False]) * 1000:.2f} ms")
    assert gap < 0.001, f"medians differ by {gap * 1000:.2f} ms"


# ---------------------------------------------------------------- 6. bind tokens
async def test_a_bind_token_is_the_first_chats_and_ends_with_its_unbinding(bot: Bot, api):
    """Failed before: one token per customer, reusable from any chat for 30 days, and unbinding kept it."""
    status, created = await api.create("SO202611240043")
    await api.create("SO202611240044")  # the same customer's other order
    token = created["bind_token"]
    first = bot.flow("first")
    assert "已绑定订单 SO202611240043" in await first.say(f"/start {token}")
    other = await first.say("SO202611240044")
    assert ASKS_CODE.search(other), "the token opens its own order only"
    second = await bot.flow("second").say(f"/start {token}")
    assert "另一个聊天" in second and ASKS_CODE.search(second) and await opened("telegram", "second") == []
    assert "解除" in await first.say("退出")
    assert await opened("telegram", "first") == []
    assert "无效" in await first.say(f"/start {token}"), "unbinding revoked the token"
    assert ASKS_CODE.search(await first.say("SO202611240043"))


async def test_a_bind_token_expires(bot: Bot, api):
    from models.access import BindToken

    _, created = await api.create("SO202611240043")
    row = await BindToken.get()
    await BindToken.filter(id=row.id).update(expires_at=bot.clock() - (row.expires_at - row.created_at) / 30)
    assert "无效" in await bot.flow("late").say(f"/start {created['bind_token']}")


async def test_each_created_order_gets_its_own_token(api):
    from models.access import BindToken

    _, a = await api.create("SO202611240043")
    _, b = await api.create("SO202611240044")
    assert a["bind_token"] != b["bind_token"] and await BindToken.all().count() == 2
    assert a["links"]["wechat_scene"] == f"bind_{a['bind_token']}" and len(a["links"]["wechat_scene"]) <= 64


# ---------------------------------------------------------------- 8. mail nobody vouched for
async def test_unauthenticated_mail_from_the_address_on_file_reads_but_must_verify_to_change(bot: Bot):
    """Failed before: a forged From cancelled, rushed and subscribed as the customer."""
    await order_at(bot)
    forged = bot.flow(EMAIL, channel="email", authenticated=False)
    assert STOCKING.search(await forged.say(f"Where is {NO}?")), "lookups are answered (to the address on file)"
    asked = await forged.say(f"请取消订单{NO}")
    assert ASKS_CODE.search(asked) and await CustomerRequest.all().count() == 0
    assert ASKS_CODE.search(await forged.say(f"订阅{NO}的进度"))
    assert await Subscription.filter(channel="email").count() == 0
    assert await CustomerRequest.all().count() == 0
    # the real customer reads the code in their mailbox and replies with it: now it is done
    done = await forged.say(bot.mail.codes(EMAIL)[-1])
    assert STOCKING.search(done) and await Subscription.filter(channel="email", scope="order").count() == 1
    assert "订阅" in done, "the subscription waited for the code, and is confirmed with it"


async def test_authenticated_mail_from_the_address_on_file_acts_at_once(bot: Bot):
    await order_at(bot)
    signed = bot.flow(EMAIL, channel="email", authenticated=True)
    assert STOCKING.search(await signed.say(f"Where is {NO}?"))
    reply = await signed.say(f"请取消订单{NO}")
    assert not ASKS_CODE.search(reply) and await CustomerRequest.filter(kind="change_request").count() == 1


async def test_a_customers_notice_carries_its_orders_progress_link(h):
    """A customer's notice links the order's progress page; the link opens that order and no other."""
    from bot.app import notice_link
    from notifications.sending import OutboxSender
    from tests.kit.notices import DIGEST
    from tests.kit.notices import NO as ORDER
    from tests.kit.notices import texts

    h.settings.server.public_url = "https://orders.factory.example"
    sender = OutboxSender(h.settings.notifications, h.bot.engine, h.channels,
                          link=notice_link(h.settings, h.bot.engine))
    customer = await h.order(at="approved")
    await h.bind(customer)
    await h.advance(ORDER, "paid")
    h.clock.advance(seconds=DIGEST)
    await sender.run_once()
    [told] = texts(h)
    token = re.search(r"查看详情：https://orders\.factory\.example/t/([\w.-]+)", told).group(1)
    link = await progress.opened(h.settings.security.secret_key.get_secret_value(), token, h.clock())
    assert link.order.order_no == ORDER
