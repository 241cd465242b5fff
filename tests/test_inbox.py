"""A person takes a customer's conversation: claim, reply, the customer's next words in the thread,
close and the bot again — through the real conversation, the outbox sender and the Telegram stand-in."""
from __future__ import annotations

import asyncio

from models import requests
from models.audit import ActionLog
from models.messages import InboundMessage
from models.outbox import Outbox
from models.people import add_staff
from models.requests import CustomerRequest, RequestMessage
from tests.kit.fakes import Flow
from tests.kit.notices import CHAT, EMAIL, NO, Notices, texts

STAFF_CHAT = 2002


async def rushed(h: Notices, words: str = f"{NO} 麻烦催一下，很急") -> tuple[Flow, CustomerRequest]:
    """王芳's order; its customer, bound on Telegram chat 1001, asks for it to be rushed."""
    customer = await h.order(NO, at="stocking", sales_owner="S002")
    await h.bind(customer)
    flow = Flow(h.bot.conversation, h.sender, sender=str(CHAT))
    answer = await flow.say(words)
    assert "王芳" in answer, answer
    [req] = await CustomerRequest.all()
    return flow, req


async def staff(h: Notices):
    wang = await add_staff("王芳", "sales", "S002", "sales", {"telegram": str(STAFF_CHAT)}, None)
    boss = await add_staff("李经理", "manager", "M001", None, {"telegram": "2001"}, None)
    return wang, boss


async def test_a_person_takes_the_chat_answers_and_hands_it_back(h: Notices):
    wang, boss = await staff(h)
    flow, req = await rushed(h)
    assert "催单" in texts(h, STAFF_CHAT)[-1], "the owner heard of the request"

    refused, _ = await requests.claim(req.id, wang, h.clock())
    assert refused is None
    await h.deliver()
    assert texts(h)[-1].startswith("客服 王芳 已接手您关于订单"), texts(h)
    refused, _ = await requests.claim(req.id, boss, h.clock())
    assert refused is not None and (refused.reason, refused.by) == ("taken", "S002"), "a second claimer is refused"

    refused, _ = await requests.reply(req.id, wang, "已加急，预计周五发货。", h.clock())
    assert refused is None
    await h.deliver()
    assert texts(h)[-1] == "客服 王芳：已加急，预计周五发货。"

    answer = await flow.say(f"{NO} 到哪了？")
    assert "王芳" in answer and "备货" not in answer, "the bot does not answer it as a lookup"
    assert "到哪了" in texts(h, STAFF_CHAT)[-1] and "张三" in texts(h, STAFF_CHAT)[-1]
    assert await flow.say("好的，谢谢") == "", "after the first note the bot keeps quiet"
    assert "好的，谢谢" in texts(h, STAFF_CHAT)[-1]
    thread = [(m.direction, m.author, m.text) for m in await requests.thread(req.id)]
    assert thread == [("in", "customer", f"{NO} 麻烦催一下，很急"), ("out", "S002", "已加急，预计周五发货。"),
                      ("in", "customer", f"{NO} 到哪了？"), ("in", "customer", "好的，谢谢")]

    refused, _ = await requests.close(req.id, wang, h.clock())
    assert refused is None
    await h.deliver()
    assert "对话已交回订单助手" in texts(h)[-1]
    assert "备货" in await flow.say(NO), "the bot answers again"

    before = len(texts(h))
    await h.deliver(after=3600)
    assert len(texts(h)) == before, "nothing goes twice"
    assert await Outbox.filter(kind="request_reply", status="sent").count() == 1
    actions = await ActionLog.filter(subject=f"request:{req.id}").order_by("id").values_list("action", "actor")
    assert actions == [("request.claim", "S002"), ("request.reply", "S002"), ("request.close", "S002")]


async def test_the_customer_is_told_in_their_language(h: Notices):
    wang, _ = await staff(h)
    flow, req = await rushed(h, f"Could you please rush {NO}?")
    await requests.reply(req.id, wang, "Done, it ships Friday.", h.clock())
    await h.deliver()
    told = texts(h)[-2:]
    assert told[0].startswith("王芳 from our team has taken over"), told
    assert told[1] == "王芳 (our team): Done, it ships Friday.", "replying claims an unclaimed request first"
    assert "王芳" in await flow.say("thanks, and the invoice?")
    await requests.close(req.id, wang, h.clock())
    await h.deliver()
    assert "order assistant again" in texts(h)[-1]


async def test_two_claims_at_once_one_wins(h: Notices):
    wang, boss = await staff(h)
    _, req = await rushed(h)
    results = await asyncio.gather(requests.claim(req.id, wang, h.clock()), requests.claim(req.id, boss, h.clock()))
    assert sorted(r is None for r, _ in results) == [False, True]
    await h.deliver()
    assert sum("已接手" in t for t in texts(h)) == 1, "the customer is told once"


async def test_messages_pending_together_reach_the_person_as_one(h: Notices):
    wang, _ = await staff(h)
    _, req = await rushed(h)
    await requests.claim(req.id, wang, h.clock())
    await h.deliver()
    before = len(texts(h, STAFF_CHAT))
    for i, words in enumerate(["第一条", "第二条", "第三条"]):
        await h.bot.conversation.handle(InboundMessage("telegram", str(CHAT), str(CHAT), words, f"m{i}"))
    await h.deliver()
    got = texts(h, STAFF_CHAT)[before:]
    assert len(got) == 1 and all(w in got[0] for w in ("第一条", "第二条", "第三条")), got
    assert await RequestMessage.filter(request_id=req.id, direction="in").count() == 4


async def test_closing_refused_to_a_colleague_and_replies_refused_on_a_closed_thread(h: Notices):
    wang, boss = await staff(h)
    _, req = await rushed(h)
    other = await add_staff("赵销售", "sales", "S003", "sales", {}, None)
    await requests.claim(req.id, wang, h.clock())
    refused, _ = await requests.close(req.id, other, h.clock())
    assert refused is not None and refused.reason == "taken"
    refused, _ = await requests.close(req.id, boss, h.clock())
    assert refused is None, "a manager may close a colleague's thread"
    refused, _ = await requests.reply(req.id, wang, "还在吗", h.clock())
    assert refused is not None and refused.reason == "closed"
    refused, _ = await requests.reply(req.id, wang, "   ", h.clock())
    assert refused is not None and refused.reason == "empty"


async def test_a_customer_who_wrote_by_mail_is_answered_by_mail(h: Notices):
    wang, _ = await staff(h)
    customer = await h.order(NO, at="stocking", sales_owner="S002")
    await h.bind(customer, "email", EMAIL)
    flow = Flow(h.bot.conversation, h.sender, channel="email", sender=EMAIL)
    assert "王芳" in await flow.say(f"{NO} 请尽快发货，催一下")
    [req] = await CustomerRequest.all()
    assert (req.channel, req.address) == ("email", EMAIL)
    await requests.reply(req.id, wang, "明天发出。", h.clock())
    await h.deliver()
    bodies = [m.get_body(preferencelist=("plain",)).get_content() for m in h.mail.to(EMAIL)]
    assert any("客服 王芳 已接手" in b for b in bodies) and any("客服 王芳：明天发出。" in b for b in bodies), bodies
    assert texts(h) == [], "nothing went to the customer's Telegram chat"


async def test_mail_nobody_vouched_for_does_not_land_in_the_thread(h: Notices):
    wang, _ = await staff(h)
    customer = await h.order(NO, at="stocking", sales_owner="S002")
    await h.bind(customer, "email", EMAIL)
    flow = Flow(h.bot.conversation, h.sender, channel="email", sender=EMAIL)
    await flow.say(f"{NO} 催一下")
    [req] = await CustomerRequest.all()
    await requests.claim(req.id, wang, h.clock())
    forged = Flow(h.bot.conversation, h.sender, channel="email", sender=EMAIL, authenticated=False)
    await forged.say("请把货改发到另一个地址")
    assert await RequestMessage.filter(request_id=req.id).count() == 1
