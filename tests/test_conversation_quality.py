"""What customers wrote that the bot once missed, through the real conversation (issue 13):
the ways people ask, codes typed almost right, and what a message not understood leads to."""
from __future__ import annotations

import pytest

from bot.app import build_conversation
from bot.conversation.texts import TEXTS
from models.outbox import Outbox
from models.people import add_staff
from models.requests import CustomerRequest
from tests.kit.base import Bot
from tests.kit.fakes import Flow
from tests.kit.story import ASKS_CODE, EMAIL, NO, STOCKING, order_at
from tests.kit.web_client import serve_site
from tests.kit.wechat_api import WeChatSide

OTHER = "SO202611180007"
OFFER_ZH = TEXTS["fallback.offer"]["zh"]
OFFER_EN = TEXTS["fallback.offer"]["en"]
HANDOVER_ZH = TEXTS["fallback.handover"]["zh"]
CHOICES_ZH = ["查订单", "我的订单", "转人工", "帮助"]
CHOICES_EN = ["Track an order", "My orders", "Talk to a person", "Help"]


def wrong(code: str, k: int = 1) -> str:
    """A six-digit code that is not ``code``."""
    return f"{(int(code) + k) % 1_000_000:06d}"


async def verified(bot: Bot, flow: Flow, no: str = NO) -> None:
    """The chat asks for ``no`` and types the code it was mailed."""
    assert ASKS_CODE.search(await flow.say(no))
    shown = await flow.say(bot.mail.codes(EMAIL)[-1])
    assert shown.startswith((TEXTS["verify.ok"]["zh"], TEXTS["verify.ok"]["en"])) and no in shown


# ---------------------------------------------------------------- ways of asking
async def test_a_customer_asking_which_orders_they_placed_sees_them_listed(bot: Bot):
    await order_at(bot)
    await order_at(bot, OTHER, node="outbound")
    flow = bot.flow()
    await verified(bot, flow)
    await verified(bot, flow, OTHER)
    listed = await flow.say("我下过哪些单")
    assert listed.startswith("您的订单") and NO in listed and OTHER in listed
    english = await flow.say("list everything I ordered this month")
    assert english.startswith("Your orders") and NO in english and OTHER in english


@pytest.mark.parametrize("words, says", [("别让机器人回我", "王销售 跟进"),
                                         ("I'd like someone to phone me", "王销售 has it")])
async def test_a_customer_asking_for_a_person_in_other_words_is_handed_to_one(bot: Bot, words, says):
    owner = await add_staff("王销售", "sales", "S001", "sales", {"telegram": "2002"}, None)
    await order_at(bot, sales_owner=owner.code)
    flow = bot.flow()
    await verified(bot, flow)
    assert says in await flow.say(words)
    [req] = await CustomerRequest.all()
    assert (req.kind, req.assigned_to, req.text) == ("human_agent", "S001", words)


@pytest.mark.parametrize("words", [
    "我的訂單出貨了嗎",  # traditional characters
    "你好，我想问下我前几天下的单怎么样了",  # a greeting in front of the question
    "我上周下的那个单子现在怎么样了",  # the order described, not numbered
])
async def test_a_customer_asking_about_their_order_in_their_own_words_sees_it(bot: Bot, words):
    await order_at(bot)
    flow = bot.flow()
    await verified(bot, flow)
    shown = await flow.say(words)
    assert STOCKING.search(shown) and NO in shown
    assert TEXTS["greeting"]["zh"] not in shown and OFFER_ZH not in shown


async def test_no_need_to_rush_just_show_me_is_a_lookup_and_no_rush_is_recorded(bot: Bot):
    await order_at(bot)
    flow = bot.flow()
    await verified(bot, flow)
    shown = await flow.say(f"不用催，我就想看看{NO}现在在哪")
    assert STOCKING.search(shown) and "催单" not in shown
    assert await CustomerRequest.all().count() == 0


async def test_question_marks_alone_get_what_the_bot_can_do(bot: Bot):
    assert await bot.flow().say("？？") == TEXTS["help.customer"]["zh"]


# ---------------------------------------------------------------- codes typed almost right
async def test_a_code_typed_in_groups_of_two_is_accepted(bot: Bot):
    await order_at(bot)
    flow = bot.flow()
    await flow.say(NO)
    [code] = bot.mail.codes(EMAIL)
    shown = await flow.say(f"{code[:2]} {code[2:4]} {code[4:]}")
    assert shown.startswith("验证成功") and STOCKING.search(shown)


async def test_a_code_with_too_few_or_too_many_digits_is_told_six_and_costs_no_try(bot: Bot):
    await order_at(bot)
    flow = bot.flow()
    await flow.say(NO)
    [code] = bot.mail.codes(EMAIL)
    assert await flow.say(code[:5]) == TEXTS["verify.code_length"]["zh"]
    assert await flow.say(code + "1") == TEXTS["verify.code_length"]["zh"]
    assert await flow.say("12 345") == TEXTS["verify.code_length"]["zh"]
    assert "还可以再试 4 次" in await flow.say(wrong(code)), "the short and long codes were not counted"
    assert STOCKING.search(await flow.say(code))


async def test_an_english_chat_hears_codes_have_six_digits(bot: Bot):
    await order_at(bot)
    flow = bot.flow()
    await flow.say(f"where is {NO}")
    assert (await flow.say("12345")).startswith("Codes have 6 digits")


async def test_five_digits_with_no_code_awaited_are_not_called_a_code(bot: Bot):
    reply = await bot.flow().say("12345")
    assert reply == OFFER_ZH and "6 位" not in reply


async def test_the_last_try_is_one_try_left(bot: Bot):
    await order_at(bot)
    flow = bot.flow()
    await flow.say(f"where is {NO}")
    [code] = bot.mail.codes(EMAIL)
    said = [await flow.say(wrong(code, k)) for k in range(1, 5)]
    assert said == [f"That code is not right; {n}" for n in ("4 tries left.", "3 tries left.", "2 tries left.",
                                                             "1 try left.")]


# ---------------------------------------------------------------- not understood
async def test_a_message_not_understood_offers_what_the_bot_can_do_as_buttons(bot: Bot):
    flow = bot.flow()
    assert await flow.say("今天天气不错") == OFFER_ZH
    buttons = flow.replies[-1].buttons
    assert [b.label for b in buttons] == CHOICES_ZH
    # each choice, tapped, is understood: none of them is a second miss
    assert await flow.say(buttons[0].data) == TEXTS["track.ask_order"]["zh"]
    assert await flow.say(buttons[3].data) == TEXTS["help.customer"]["zh"]
    english = bot.flow("1002")
    assert await english.say("blah blah") == OFFER_EN
    assert [b.label for b in english.replies[-1].buttons] == CHOICES_EN
    assert await english.say(english.replies[-1].buttons[1].data) == TEXTS["track.ask_order"]["en"]


async def test_the_web_chat_shows_the_choices_as_buttons(bot: Bot, settings, engine):
    async with serve_site(bot, settings, engine) as site:
        _, data = await site.visitor().post({"text": "今天天气不错", "id": "m1"})
    [reply] = data["replies"]
    assert reply["text"] == OFFER_ZH
    assert reply["buttons"] == [{"label": c, "data": c} for c in CHOICES_ZH]


async def test_wechat_shows_the_choices_as_lines_to_send(wx: WeChatSide):
    answer = await wx.say("o_lost_1", "今天天气不错")
    assert answer.text.splitlines() == [OFFER_ZH] + [f"[{c}]" for c in CHOICES_ZH]


async def test_the_second_miss_in_a_row_brings_a_person(bot: Bot):
    owner = await add_staff("王销售", "sales", "S001", "sales", {"telegram": "2002"}, None)
    await order_at(bot, sales_owner=owner.code)
    flow = bot.flow()
    await verified(bot, flow)
    assert await flow.say("今天天气不错") == OFFER_ZH
    handed = await flow.say("你们老板是谁")
    assert handed.startswith(HANDOVER_ZH) and "人工客服请求，由 王销售 跟进" in handed
    [req] = await CustomerRequest.all()
    assert (req.kind, req.assigned_to) == ("human_agent", "S001")
    assert req.text == "今天天气不错\n你们老板是谁", "the person sees what the bot did not understand"
    assert await Outbox.filter(kind="customer_request", address="2002").count() == 1
    assert await flow.say("blah blah") == OFFER_EN, "after the hand-over the count starts again"


async def test_a_miss_an_answer_and_a_miss_bring_no_person(bot: Bot):
    await order_at(bot)
    flow = bot.flow()
    await verified(bot, flow)
    assert await flow.say("今天天气不错") == OFFER_ZH
    assert STOCKING.search(await flow.say("我的订单到哪了"))
    assert await flow.say("你们老板是谁") == OFFER_ZH
    assert await CustomerRequest.all().count() == 0


async def test_the_misses_are_counted_across_processes(bot: Bot, settings):
    owner = await add_staff("王销售", "sales", "S001", "sales", {"telegram": "2002"}, None)
    await order_at(bot, sales_owner=owner.code)
    await verified(bot, bot.flow())
    assert await bot.flow().say("今天天气不错") == OFFER_ZH
    other_process = Flow(build_conversation(settings, bot.engine), bot.sender, sender="1001")
    assert (await other_process.say("你们老板是谁")).startswith(HANDOVER_ZH)
    assert await CustomerRequest.filter(kind="human_agent").count() == 1


async def test_a_stranger_missed_twice_is_asked_for_the_order_and_the_person_gets_it_after_the_code(bot: Bot):
    owner = await add_staff("王销售", "sales", "S001", "sales", {"telegram": "2002"}, None)
    await order_at(bot, sales_owner=owner.code)
    flow = bot.flow()
    await flow.say("今天天气不错")
    handed = await flow.say("你们老板是谁")
    assert handed == f"{HANDOVER_ZH}\n\n{TEXTS['request.ask_order']['zh']}"
    await flow.say(NO)
    shown = await flow.say(bot.mail.codes(EMAIL)[-1])
    assert STOCKING.search(shown) and "由 王销售 跟进" in shown
    [req] = await CustomerRequest.all()
    assert req.kind == "human_agent"


async def test_staff_who_are_not_understood_are_pointed_to_the_commands_not_to_a_person(bot: Bot):
    await add_staff("李主管", "manager", "M001", None, {"telegram": "2001"}, None)
    flow = bot.flow("2001")
    for words in ("今天天气不错", "你们老板是谁", "blah"):
        assert await flow.say(words) in (TEXTS["fallback"]["zh"], TEXTS["fallback"]["en"])
    assert [b.label for b in flow.replies[-1].buttons] == ["Help"]
    assert await CustomerRequest.all().count() == 0
