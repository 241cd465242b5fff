"""What staff read in chat: refusals, owners, usage lines and lists in their own language, with names."""
from __future__ import annotations

import re

import pytest

from bot.conversation.texts import TEXTS, placeholders
from models.inputs import CustomerIn, OrderIn
from models.orders import Order
from models.people import StaffMember, add_staff
from models.recipients import Subscription
from tests.kit.base import ROOT, Bot
from tests.kit.story import NO, order_at

LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _words(reply: str) -> list[str]:
    """The Latin words of a reply besides order numbers and commands (a Chinese reply has none)."""
    return LATIN_WORD.findall(re.sub(r"SO\d+|/\w+", " ", reply))


async def _english(code: str) -> None:
    await StaffMember.filter(code=code).update(locale="en")


async def test_a_refused_move_reads_in_chinese_with_node_names(bot: Bot):
    await order_at(bot, node="outbound")
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    boss = bot.flow("2001")
    reply = await boss.say(f"/advance {NO} qc")
    assert "已在「出库」" in reply and "「质检」" in reply and "返工" in reply, reply
    assert not _words(reply), reply
    assert (await Order.get(order_no=NO)).current_node == "outbound", "a refusal changes nothing"


async def test_a_move_that_skips_a_step_names_the_steps_in_chinese(bot: Bot):
    await order_at(bot, node="paid")
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    reply = await bot.flow("2001").say(f"/advance {NO} 出库")
    assert "不能跳过「备货」直接到「出库」" in reply, reply
    assert not _words(reply), reply


async def test_an_unknown_node_lists_the_nodes_by_name(bot: Bot):
    await order_at(bot, node="paid")
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    reply = await bot.flow("2001").say(f"/advance {NO} 打包")
    assert "打包" in reply and "备货、生产、质检" in reply, reply
    assert not _words(reply), reply


async def test_an_english_speaker_reads_the_refusal_in_english_with_english_names(bot: Bot):
    await order_at(bot, node="outbound")
    await add_staff("Li Boss", "manager", "M001", None, {"telegram": "2001"}, None)
    await _english("M001")
    reply = await bot.flow("2001").say(f"/advance {NO} qc")
    assert "already at Outbound" in reply and "Quality check" in reply, reply
    assert not HAN.search(reply), reply


async def test_an_unknown_exception_kind_reads_in_chinese_with_the_kinds_named(bot: Bot):
    await order_at(bot, node="stocking")
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    reply = await bot.flow("2001").say(f"/exception {NO} broken 坏了")
    assert "没有“broken”这种异常类型" in reply and "缺料（stockout）" in reply, reply


async def test_the_order_card_names_the_sales_owner(bot: Bot):
    await order_at(bot, node="stocking", sales_owner="S002")
    await add_staff("王芳", "sales", "S002", "sales", {"telegram": "2002"}, None)
    await add_staff("Li Boss", "manager", "M001", None, {"telegram": "2001"}, None)
    await _english("M001")
    assert "销售：王芳（S002）" in await bot.flow("2002").say(f"/order {NO}")
    assert "Sales: 王芳 (S002)" in await bot.flow("2001").say(f"/order {NO}")


async def test_an_owner_nobody_has_is_shown_by_code(bot: Bot):
    await order_at(bot, node="stocking", sales_owner="S009")
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    assert "销售：S009" in await bot.flow("2001").say(f"/order {NO}")


def test_every_reason_the_engine_gives_has_words_in_both_languages():
    said = set()
    for path in (ROOT / "models").glob("*.py"):
        said |= set(re.findall(r'reason="(\w+)"', path.read_text(encoding="utf-8")))
    assert {"already_at", "not_skippable", "unknown_order", "unknown_node"} <= said
    for reason in said:
        assert f"refusal.{reason}" in TEXTS, reason
    assert placeholders(TEXTS["refusal.not_skippable"]["zh"]) == {"order_no", "at", "skipped", "to"}


async def _late_orders(bot: Bot, n: int, owner: str = "S002") -> list[str]:
    numbers = [f"SO2026112400{i:02d}" for i in range(n)]
    for i, no in enumerate(numbers):
        await bot.engine.create_order(OrderIn(order_no=no, customer=CustomerIn(name="甲"), sales_owner=owner,
                                              promised_date=f"2020-01-{1 + i % 28:02d}"))
    return numbers


async def test_late_pages_past_twenty(bot: Bot):
    numbers = set(await _late_orders(bot, 44))
    await add_staff("王芳", "sales", "S002", "sales", {"telegram": "2002"}, None)
    wang = bot.flow("2002")
    seen: list[str] = []
    first = await wang.say("/late")
    assert "延误订单（共 44 个）" in first and "第 1/3 页，发送 /late 2 看下一页" in first, first
    assert "王芳（S002）" in first and "+24" not in first
    assert [b.data for b in wang.replies[-1].buttons] == ["/late 2"], "a button where the channel has them"
    for page in (first, await wang.say("/late 2"), await wang.say("/late 3")):
        seen += re.findall(r"SO\d{12}", page)
    assert len(seen) == 44 and set(seen) == numbers, "every late order once, over three pages"
    assert "第 3/3 页" in wang.last and "/late 4" not in wang.last and not wang.replies[-1].buttons
    assert "只有 3 页" in await wang.say("/late 9")
    assert "用法：/late [页码]" in await wang.say("/late x")


async def test_late_pages_read_in_english_for_an_english_speaker(bot: Bot):
    await _late_orders(bot, 21)
    await add_staff("Wang Fang", "sales", "S002", "sales", {"telegram": "2002"}, None)
    await _english("S002")
    reply = await bot.flow("2002").say("/late")
    assert "Page 1 of 2 — send /late 2 for the next" in reply and "Wang Fang (S002)" in reply, reply
    assert not HAN.search(reply), reply


async def test_twenty_late_orders_are_one_page_without_a_footer(bot: Bot):
    await _late_orders(bot, 20)
    await add_staff("王芳", "sales", "S002", "sales", {"telegram": "2002"}, None)
    reply = await bot.flow("2002").say("/late")
    assert len(re.findall(r"SO\d{12}", reply)) == 20 and "页" not in reply, reply


async def test_subscribe_takes_a_node_by_its_chinese_name(bot: Bot):
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    boss = bot.flow("2001")
    assert "已订阅异常推送（节点「质检」）" in await boss.say("/subscribe exceptions 质检")
    [sub] = await Subscription.all()
    assert (sub.scope, sub.node, sub.department) == ("exceptions", "qc", None)
    assert "1" in await boss.say("/unsubscribe exceptions 质检")
    assert await Subscription.all().count() == 0


async def test_subscribe_takes_a_node_by_its_english_name_in_any_case(bot: Bot):
    await add_staff("Li Boss", "manager", "M001", None, {"telegram": "2001"}, None)
    await _english("M001")
    boss = bot.flow("2001")
    assert "(step Quality check)" in await boss.say("/subscribe exceptions QUALITY CHECK")
    assert "(step Outbound)" in await boss.say("/subscribe exceptions outbound")
    assert sorted(s.node for s in await Subscription.all()) == ["outbound", "qc"]


async def test_subscribe_to_a_department_says_so(bot: Bot):
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    assert "（部门 warehouse）" in await bot.flow("2001").say("/subscribe exceptions warehouse")
    [sub] = await Subscription.all()
    assert (sub.node, sub.department) == (None, "warehouse")


async def test_advance_takes_a_node_by_its_chinese_or_english_name(bot: Bot):
    await order_at(bot, node="stocking")
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    boss = bot.flow("2001")
    assert "备货 → 生产" in await boss.say(f"/advance {NO} 生产")
    assert "生产 → 质检" in await boss.say(f"/advance {NO} ＱＣ")
    assert (await Order.get(order_no=NO)).current_node == "qc"


WRONG_USES = ["/order", "/reopen", "/advance SO202611240042", "/exception", "/ack", "/resolve", "/subscribe",
              "/subscribe SO202611240042 now", "/late x"]
ENGLISH_PLACEHOLDERS = re.compile(r"\b(ORDER|NODE|KIND|PAGE|note|department|node)\b")


@pytest.mark.parametrize("wrong", WRONG_USES)
async def test_a_chinese_staff_member_reads_the_usage_line_in_chinese(bot: Bot, wrong: str):
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    reply = await bot.flow("2001").say(wrong)
    assert reply.startswith("用法：") and ("订单号" in reply or "页码" in reply), reply
    assert not ENGLISH_PLACEHOLDERS.search(reply), reply


@pytest.mark.parametrize("wrong", WRONG_USES)
async def test_an_english_staff_member_reads_the_usage_line_in_english(bot: Bot, wrong: str):
    await add_staff("Li Boss", "manager", "M001", None, {"telegram": "2001"}, None)
    await _english("M001")
    reply = await bot.flow("2001").say(wrong)
    assert reply.startswith("Usage: ") and not HAN.search(reply), reply
