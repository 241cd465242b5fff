"""The router end to end: who sees what, groups, staff commands, requests, subscriptions, audit."""
from __future__ import annotations

import asyncio
import re

import pytest

from bot.conversation.cards import order_card
from bot.conversation.inbound import Inbound
from bot.conversation.policy import Audience, fields_for
from bot.conversation.texts import TEXTS, placeholders
from models.audit import AuditLog
from models.inputs import CustomerIn, EventIn, ExceptionIn, OrderIn
from models.messages import InboundMessage
from models.orders import NodeEvent, Order, OrderException
from models.outbox import Outbox
from models.people import add_staff
from models.recipients import Subscription
from models.requests import CustomerRequest
from tests.kit.base import Bot
from tests.kit.story import EMAIL, NO, STOCKING, order_at

SECRETS = {"amount": "12,345.67", "cost": "8,000.00", "supplier": "宁波海天", "phone": "13812345678",
           "email": EMAIL, "address": "浦东新区张江路"}


async def rich_order(bot: Bot, no: str = NO, sales_owner: str | None = "S001") -> None:
    await bot.engine.create_order(OrderIn(
        order_no=no, customer=CustomerIn(name="张三", email=EMAIL, phone="13812345678"), amount="12345.67",
        cost="8000", supplier="宁波海天贸易", ship_to="上海市浦东新区张江路 88 号", sales_owner=sales_owner,
        items=[{"name": "法兰", "qty": 100, "unit_price": "123.45"}]))
    for i, n in enumerate(["approved", "paid", "stocking"]):
        await bot.engine.apply_event(no, EventIn(event_id=f"e{i}", node=n))


# (audience, fields it sees)
TABLE = [
    (Audience.CUSTOMER, set()),
    (Audience.GROUP, set()),
    (Audience.SALES, {"amount", "phone", "email", "address"}),
    (Audience.OPERATOR, {"phone", "email", "address"}),
    (Audience.MANAGER, {"amount", "cost", "supplier", "phone", "email", "address"}),
]


@pytest.mark.parametrize("audience, sees", TABLE, ids=[a.value for a, _ in TABLE])
async def test_what_each_audience_sees(bot: Bot, audience: Audience, sees: set[str]):
    await rich_order(bot)
    card = await order_card(bot.engine, await Order.get(order_no=NO), audience, "zh")
    assert STOCKING.search(card.text)
    for name, value in SECRETS.items():
        assert (value in card.text) == (name in sees), f"{audience.value} and {name}"
    assert set(card.fields) >= {"order_no", "status"}
    assert {f for f in card.fields if f in SECRETS} == sees


def test_fields_that_reveal_each_other_go_together():
    for audience in Audience:
        shown = fields_for(audience)
        assert ("amount" in shown) == ("unit_prices" in shown)
        assert ("cost" in shown) == ("profit" in shown)
    assert "profit" not in fields_for(Audience.SALES), "amount with profit would give the cost away"


async def test_group_lookups_are_redacted_for_staff_and_refused_to_strangers(bot: Bot):
    await rich_order(bot)
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    manager = bot.flow("2001", chat="-100500", group=True)
    card = await manager.say(f"@order_test_bot {NO}")
    assert STOCKING.search(card)
    assert not any(v in card for v in SECRETS.values())
    stranger = bot.flow("3001", chat="-100500", group=True)
    reply = await stranger.say(f"@order_test_bot {NO}")
    assert not STOCKING.search(reply) and "私聊" in reply
    assert await manager.say(f"{NO} 到哪了", mentioned=False) == "", "not addressed: the bot keeps quiet"


async def test_sales_see_their_own_orders_only(bot: Bot):
    await add_staff("王销售", "sales", "S001", "sales", {"telegram": "2002"}, None)
    await add_staff("赵销售", "sales", "S002", "sales", {"telegram": "2003"}, None)
    await rich_order(bot, sales_owner="S001")
    own = await bot.flow("2002", chat="-100600", group=True).say(f"@bot 客户问{NO}到哪了")
    assert STOCKING.search(own) and "12,345.67" not in own
    other = await bot.flow("2003", chat="-100600", group=True).say(f"@bot {NO}")
    assert not STOCKING.search(other)
    private = await bot.flow("2002").say(f"/order {NO}")
    assert "12,345.67" in private and "8,000.00" not in private


async def test_one_audit_row_per_order_shown(bot: Bot):
    await rich_order(bot)
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    flow = bot.flow("2001")
    await flow.say(f"/order {NO}")
    [row] = await AuditLog.all()
    assert (row.actor_kind, row.actor_id, row.order_no, row.channel, row.verified_by) == (
        "staff", "M001", NO, "telegram", "staff")
    assert {"amount", "cost", "phone"} <= set(row.fields_shown)
    await flow.say("你好")
    assert await AuditLog.all().count() == 1, "a greeting shows no order"
    await bot.flow("1001").say(NO)  # asks for a code: shows nothing
    assert await AuditLog.all().count() == 1


async def test_an_update_delivered_twice_at_once_is_answered_once(bot: Bot):
    """A platform's retry racing the original: one answer, one audit row; a later copy gets nothing."""
    await rich_order(bot)
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    inbound = Inbound(bot.conversation)
    msg = InboundMessage(channel="telegram", sender_id="2001", chat_id="2001", text=f"/order {NO}",
                         message_id="u42", mentioned=True)
    first, second = await asyncio.gather(inbound(msg), inbound(msg))
    assert sorted([len(first), len(second)]) == [0, 1] and STOCKING.search((first or second)[0].text)
    assert await inbound(msg) == []
    assert await AuditLog.all().count() == 1


async def test_a_mistyped_number_is_matched_only_among_the_askers_orders(bot: Bot):
    await order_at(bot)
    flow = bot.flow()
    await flow.say(NO)
    await flow.say(bot.mail.codes(EMAIL)[0])
    typo = NO[:-2] + "24"  # one digit off
    reply = await flow.say(typo)
    assert NO in reply and ("是想查" in reply)
    stranger = await bot.flow("1009").say(typo)
    assert NO not in stranger, "a stranger gets no suggestion from other people's orders"


async def test_customer_requests_are_recorded_and_handed_to_the_owner(bot: Bot):
    owner = await add_staff("王销售", "sales", "S001", "sales", {"telegram": "2002"}, None)
    await order_at(bot, sales_owner=owner.code)
    flow = bot.flow()
    await flow.say(f"{NO} 麻烦加急一下")  # not verified yet: the request waits for the code
    assert await CustomerRequest.all().count() == 0
    reply = await flow.say(bot.mail.codes(EMAIL)[0])
    assert STOCKING.search(reply) and "王销售" in reply
    [req] = await CustomerRequest.all()
    assert (req.kind, req.assigned_to, req.status) == ("expedite", "S001", "open")
    [push] = await Outbox.filter(kind="customer_request")
    assert (push.channel, push.address, push.payload["order_no"]) == ("telegram", "2002", NO)
    reply = await flow.say("我要退货")  # about the order just shown
    assert "售后" in reply and await CustomerRequest.filter(kind="after_sales").count() == 1


async def test_customer_subscriptions(bot: Bot):
    await order_at(bot)
    flow = bot.flow()
    assert "验证" in await flow.say(f"订阅{NO}的进度")
    await flow.say(NO)
    await flow.say(bot.mail.codes(EMAIL)[-1])
    assert await Subscription.filter(scope="order", channel="telegram", address="1001").count() == 1, \
        "a chat that proved itself for an order hears of it"
    assert NO in await flow.say(f"订阅{NO}的进度")
    assert NO in await flow.say("发货了通知我一下"), "the order just shown"
    assert await Subscription.filter(scope="order", channel="telegram", address="1001").count() == 1
    assert await Subscription.filter(scope="customer").count() == 0, "all the customer's orders need their own chat"
    assert "1" in await flow.say("取消订阅")
    assert await Subscription.all().count() == 0


async def test_staff_commands(bot: Bot):
    await order_at(bot, node="stocking")
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    await add_staff("孙质检", "operator", "O001", "qc", {"telegram": "2004"}, None)
    boss, qc = bot.flow("2001"), bot.flow("2004")
    assert "生产" in await boss.say(f"/advance {NO} production 开始排产")
    assert (await Order.get(order_no=NO)).current_node == "production"
    assert "无权" in await qc.say(f"/advance {NO} outbound"), "qc may not move an order out of the warehouse"
    assert "质检" in await qc.say(f"/advance {NO} qc")
    assert "#" in await qc.say(f"/exception {NO} qc_fail 外观划伤")
    assert "用法" in await qc.say("/exception")
    assert "1" in await boss.say(f"/ack {NO}")
    assert (await OrderException.get()).status == "acknowledged"
    assert "1" in await boss.say(f"/resolve {NO} 已返工")
    assert (await OrderException.get()).status == "resolved"
    assert "异常推送" in await boss.say("/subscribe exceptions qc")
    [sub] = await Subscription.all()
    assert (sub.scope, sub.node, sub.channel, sub.address) == ("exceptions", "qc", "telegram", "2001")
    assert "1" in await boss.say("/unsubscribe exceptions qc")
    assert "/late" in await boss.say("/help")
    assert "不认识" in await boss.say("/frobnicate")


async def test_anyone_an_exception_push_reaches_may_ack_it_but_only_the_node_may_resolve_it(bot: Bot):
    await order_at(bot, node="stocking")
    await add_staff("孙质检", "operator", "O001", "qc", {"telegram": "2004"}, None)
    await bot.engine.open_exception(NO, ExceptionIn(kind="stockout", note="缺料"))
    qc = bot.flow("2004")
    assert "无权" in await qc.say(f"/resolve {NO}"), "stocking is the warehouse's, not QC's"
    assert (await OrderException.get()).status == "open"
    assert "1" in await qc.say(f"/ack {NO}")  # the Ack button of the push QC was subscribed to
    assert (await OrderException.get()).status == "acknowledged"


async def _opened(bot: Bot, *kinds: str) -> list[int]:
    return [(await bot.engine.open_exception(NO, ExceptionIn(kind=k, note=f"{k}!"))).exception.id for k in kinds]


async def _statuses() -> list[str]:
    return [x.status for x in await OrderException.all().order_by("id")]


async def test_ack_with_two_open_exceptions_asks_which(bot: Bot):
    await order_at(bot, node="stocking")
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    first, second = await _opened(bot, "stockout", "delay")
    bot.clock.advance(days=2, hours=3)
    boss = bot.flow("2001")
    asked = await boss.say(f"/ack {NO}")
    assert await _statuses() == ["open", "open"], "nothing is acknowledged until one is named"
    assert f"1. 缺料 · 备货 · 2天3小时前 · #{first}" in asked and f"2. 延误 · 备货 · 2天3小时前 · #{second}" in asked
    assert f"/ack {NO} 全部" in asked
    assert [b.data for b in boss.last_reply.buttons] == [f"/ack {NO} #{first}", f"/ack {NO} #{second}",
                                                         f"/ack {NO} all"]
    done = await boss.say(boss.last_reply.buttons[1].data)  # tapping the second
    assert f"#{second}" in done and "延误" in done
    assert await _statuses() == ["open", "acknowledged"]
    assert f"#{first}" in await boss.say(f"/ack {NO}"), "one left: it is the one"
    assert await _statuses() == ["acknowledged", "acknowledged"]
    assert "没有" in await boss.say(f"/ack {NO}")


async def test_ack_by_number_in_the_list_or_by_id(bot: Bot):
    await order_at(bot, node="stocking")
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    ids = await _opened(bot, "stockout", "delay", "payment")
    boss = bot.flow("2001")
    assert f"#{ids[1]}" in await boss.say(f"/ack {NO} 2")
    assert await _statuses() == ["open", "acknowledged", "open"]
    assert f"#{ids[2]}" in await boss.say(f"/ack {NO} {ids[2]}")  # not a number of the list of two: the id
    assert await _statuses() == ["open", "acknowledged", "acknowledged"]
    refused = await boss.say(f"/ack {NO} #{ids[1]}")
    assert f"#{ids[1]}" in refused and f"1. 缺料" in refused, "already acknowledged: the ones left are listed"
    assert await _statuses() == ["open", "acknowledged", "acknowledged"]


async def test_ack_all_acknowledges_every_one(bot: Bot):
    await order_at(bot, node="stocking")
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    await _opened(bot, "stockout", "delay", "payment")
    boss = bot.flow("2001")
    assert "3" in await boss.say(f"/ack {NO} all")
    assert await _statuses() == ["acknowledged"] * 3
    assert "2" in await boss.say(f"/resolve {NO} 1 到货了")
    assert await _statuses() == ["resolved", "acknowledged", "acknowledged"]
    assert "2" in await boss.say(f"/resolve {NO} 全部 已处理")
    assert [(x.status, x.resolution_note) for x in await OrderException.all().order_by("id")] == [
        ("resolved", "到货了"), ("resolved", "已处理"), ("resolved", "已处理")]


async def test_resolve_with_several_open_lists_them_in_english_and_changes_nothing(bot: Bot):
    await order_at(bot, node="stocking")
    member = await add_staff("Li", "manager", "M001", None, {"telegram": "2001"}, None)
    member.locale = "en"
    await member.save()
    ids = await _opened(bot, "stockout", "delay")
    boss = bot.flow("2001")
    asked = await boss.say(f"/resolve {NO} restocked")
    assert "Which one?" in asked and f"1. Out of stock · Stocking · under a minute ago · #{ids[0]}" in asked
    assert f"/resolve {NO} all" in asked and [b.data for b in boss.last_reply.buttons][-1] == f"/resolve {NO} all"
    assert "no pending exception 7" in await boss.say(f"/resolve {NO} 7")
    assert await _statuses() == ["open", "open"]


async def test_staff_rework_from_chat_needs_a_reason(bot: Bot):
    await order_at(bot, node="qc")
    await add_staff("孙质检", "operator", "O001", "qc", {"telegram": "2004"}, None)
    await add_staff("王仓库", "operator", "O002", "warehouse", {"telegram": "2005"}, None)
    qc, warehouse = bot.flow("2004"), bot.flow("2005")
    asked = await qc.say(f"/rework {NO} production")
    assert "原因" in asked and (await Order.get(order_no=NO)).current_node == "qc"
    assert "之前" in await qc.say(f"/rework {NO} outbound 错了"), "rework goes back, not on"
    assert "之前" in await qc.say(f"/rework {NO} teleporter 错了")
    assert "无权" in await warehouse.say(f"/rework {NO} production 焊点不良"), "the order is QC's to send back"
    assert (await Order.get(order_no=NO)).current_node == "qc"
    done = await qc.say(f"/rework {NO} 生产 焊点不良 需返修")
    assert "质检 → 生产" in done and "焊点不良 需返修" in done
    order = await Order.get(order_no=NO)
    [event] = await NodeEvent.filter(order_id=order.id, kind="rework")
    assert (order.current_node, event.from_node, event.note, event.actor) == ("production", "qc", "焊点不良 需返修", "O001")
    await qc.say(f"/advance {NO} qc")
    assert "生产" in await qc.say(f"/返工 {NO} Production 复检仍不合格")
    assert (await Order.get(order_no=NO)).current_node == "production"
    assert "/rework" in await qc.say("/help")


async def test_help_tells_customers_and_staff_of_timezone(bot: Bot):
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    assert "/timezone" in await bot.flow("1001").say("帮助")
    assert "/timezone" in await bot.flow("2001").say("/help")
    assert "/timezone" in await bot.flow("1002").say("/help")


async def test_late_orders_in_scope(bot: Bot):
    await add_staff("王销售", "sales", "S001", "sales", {"telegram": "2002"}, None)
    await bot.engine.create_order(OrderIn(order_no="SO202611240001", customer=CustomerIn(name="甲"),
                                          promised_date="2020-01-01", sales_owner="S001"))
    await bot.engine.create_order(OrderIn(order_no="SO202611240002", customer=CustomerIn(name="乙"),
                                          promised_date="2020-01-01", sales_owner="S002"))
    reply = await bot.flow("2002").say("/late")
    assert "SO202611240001" in reply and "SO202611240002" not in reply
    assert await AuditLog.filter(order_no="SO202611240001").count() == 1


async def test_english_speakers_get_english(bot: Bot):
    await order_at(bot)
    reply = await bot.flow("1010").say(f"where is my order {NO}?")
    assert "code" in reply and not re.search(r"[\u4e00-\u9fff]", reply)


async def test_too_many_messages_are_refused_politely(bot: Bot):
    flow = bot.flow("1011")
    for _ in range(30):
        await flow.say("hi")
    assert "Too many" in await flow.say("hi")


def test_every_text_exists_in_both_languages_with_the_same_values():
    for key, langs in TEXTS.items():
        assert set(langs) == {"zh", "en"}, key
        assert placeholders(langs["zh"]) == placeholders(langs["en"]), key
