"""Notifications end to end: a change comes in through the API (or the chat), the engine's hook
writes outbox rows in the change's transaction, the outbox sender sends them to the Telegram and
WeChat API stand-ins and to a real SMTP server (aiosmtpd), and the outbox says what happened.

Time is the engine's clock (a ``Clock`` the tests move); the Telegram limiter and 429 waits
run on the event loop's real clock. The defaults of ``[notifications]`` are kept unless a
test is about one of them: notices of progress wait ``digest_seconds`` (20) for company, and
customers are not woken between 22:00 and 08:00.
"""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from models.orders import OrderException
from models.outbox import Outbox
from models.people import add_staff
from models.platforms import ChannelToken
from models.recipients import Subscription
from models.schedule import utcnow
from tests.kit.base import free_port
from tests.kit.notices import CHAT, DIGEST, EMAIL, NO, OPENID, Notices, texts, utc
from tests.kit.wechat_api import APP_ID


# ---------------------------------------------------------------- 1. exactly once
@pytest.mark.parametrize("replay", ["one after another", "all at once"])
async def test_a_replayed_event_is_told_once(h: Notices, replay):
    customer = await h.order(at="approved")
    await h.bind(customer)
    event = {"event_id": "wms-7781", "node": "paid"}

    def post():
        return h.api.call("POST", f"/api/v1/orders/{NO}/events", event)

    if replay == "all at once":
        answers = await asyncio.gather(post(), post(), post())
    else:
        answers = [await post() for _ in range(3)]
    assert [status for status, _ in answers] == [201, 201, 201]

    assert await h.deliver() == 0, "progress notices wait digest_seconds for company"
    h.clock.advance(seconds=DIGEST)
    # Two processes look at the same moment: each row goes to one of them.
    await asyncio.gather(h.sender.run_once(), h.sender_as("other-process").run_once())

    [told] = texts(h)
    assert NO in told and "付款" in told
    [row] = await h.rows(recipient=f"customer:{customer}")
    assert (row.event_key, row.kind, row.status, row.sent_via) == (f"node:{NO}:wms-7781", "node_entered", "sent",
                                                                   f"telegram:{CHAT}")
    assert row.lease_owner is None and row.sent_at is not None

    status, _ = await post()  # the ERP tries once more, after the notice went out
    assert status == 201
    assert await h.deliver(after=3600) == 0
    assert len(texts(h)) == 1 and await Outbox.filter(recipient=f"customer:{customer}").count() == 1


# ---------------------------------------------------------------- 2. Telegram's 429
async def test_429_retry_after_is_waited_out_and_the_notice_sent_once(h: Notices):
    customer = await h.order(at="approved")
    await h.bind(customer)
    h.botapi.too_many, h.botapi.retry_after = 1, 1
    await h.advance(NO, "paid")
    await h.deliver(after=DIGEST)

    tries = [(method, at) for method, params, at in h.botapi.calls if str(params.get("chat_id")) == str(CHAT)]
    assert [m for m, _ in tries] == ["429", "sendMessage"]
    assert tries[1][1] - tries[0][1] >= 0.99, "Telegram asked for 1 s"
    assert len(texts(h)) == 1
    [row] = await h.rows(recipient=f"customer:{customer}")
    assert (row.status, row.sent_via) == ("sent", f"telegram:{CHAT}")


# ---------------------------------------------------------------- 3. WeChat's 48 hours
@pytest.mark.parametrize("case, hours_ago, errors, templates, via, custom_calls, template_calls", [
    ("inside the window", 1, [], {}, f"wechat:{OPENID}", 1, 0),
    ("45015: the window closed early", 1, [45015], {}, f"email:{EMAIL}", 1, 0),
    ("outside the window, no template", 49, [], {}, f"email:{EMAIL}", 0, 0),
    ("outside the window, a template", 49, [], {"node_entered": "TPL"}, f"wechat:{OPENID}", 0, 1),
])
async def test_wechat_window_template_and_email(h: Notices, case, hours_ago, errors, templates, via, custom_calls,
                                                template_calls):
    h.settings.wechat.templates = templates
    customer = await h.order(at="approved")
    await h.bind(customer, "wechat", OPENID, hours_ago=hours_ago)
    h.wx_api.errors["message/custom/send"] = list(errors)
    await h.advance(NO, "paid")
    await h.deliver(after=DIGEST)

    [row] = await h.rows(recipient=f"customer:{customer}")
    assert (row.status, row.sent_via) == ("sent", via), row.last_error
    assert len(h.wx_api.bodies("message/custom/send")) == custom_calls
    assert len(h.wx_api.bodies("message/template/send")) == template_calls
    mails = h.mail.to(EMAIL)
    if via.startswith("email:"):
        [mail] = mails
        assert NO in mail["Subject"] and mail["Auto-Submitted"] == "auto-generated"
        assert "付款" in mail.get_body(preferencelist=("plain",)).get_content()
    else:
        assert mails == []
    if template_calls:
        [tpl] = h.wx_api.bodies("message/template/send")
        assert tpl["touser"] == OPENID and tpl["template_id"] == "TPL"
        assert tpl["data"]["keyword1"] == {"value": NO} and "付款" in tpl["data"]["first"]["value"]
    if custom_calls and via.startswith("wechat:"):
        [text] = h.wx_api.texts_to(OPENID)
        assert NO in text


# ---------------------------------------------------------------- 4. fallback order, undeliverable
NO_EMAIL = {"customer": {"name": "李四", "phone": "13900000001", "locale": "zh"}}


@pytest.mark.parametrize("case, identities, with_email, blocked, wx_errors, status, via, reason", [
    ("last used first", [("wechat", OPENID, 2), ("telegram", str(CHAT), 1)], True, False, [],
     "sent", f"telegram:{CHAT}", None),
    ("blocked on Telegram: WeChat next", [("telegram", str(CHAT), 1), ("wechat", OPENID, 2)], True, True, [],
     "sent", f"wechat:{OPENID}", None),
    ("blocked and 45015: e-mail last", [("telegram", str(CHAT), 1), ("wechat", OPENID, 2)], True, True, [45015],
     "sent", f"email:{EMAIL}", None),
    ("WeChat window closed: Telegram", [("wechat", OPENID, 50), ("telegram", str(CHAT), 60)], False, False, [],
     "sent", f"telegram:{CHAT}", None),
    ("blocked, no e-mail", [("telegram", str(CHAT), 1)], False, True, [],
     "undeliverable", None, "blocked"),
    ("window closed, no template, no e-mail", [("wechat", OPENID, 49)], False, False, [],
     "undeliverable", None, "48-hour"),
    ("only a channel that is not running", [("web", "visitor-9", 1)], False, False, [],
     "undeliverable", None, "not running"),
])
async def test_fallback_order_and_undeliverable(h: Notices, case, identities, with_email, blocked, wx_errors,
                                                status, via, reason):
    customer = await h.order(at="approved", **({} if with_email else NO_EMAIL))
    for channel, external_id, hours_ago in identities:
        await h.bind(customer, channel, external_id, hours_ago=hours_ago)
    if blocked:
        h.botapi.blocked.add(str(CHAT))
    h.wx_api.errors["message/custom/send"] = list(wx_errors)
    await h.advance(NO, "paid")
    await h.deliver(after=DIGEST)

    [row] = await h.rows(recipient=f"customer:{customer}")
    assert (row.status, row.sent_via) == (status, via), row.last_error
    if reason:
        assert reason in row.last_error
    assert await h.deliver(after=3600) == 0, "an undeliverable notice is not tried again by itself"


# ---------------------------------------------------------------- 5. quiet hours
@pytest.mark.parametrize("now, tz, held_until", [
    # 23:00 in Shanghai (the server's zone): held until 08:00 there
    (datetime(2026, 11, 24, 15, 0, tzinfo=UTC), None, datetime(2026, 11, 25, 0, 0, tzinfo=UTC)),
    # the same moment is 16:00 in Berlin: the Berlin customer hears at once
    (datetime(2026, 11, 24, 15, 0, tzinfo=UTC), "Europe/Berlin", None),
    # 10:00 in Shanghai is 03:00 in Berlin: held until 08:00 Berlin time
    (datetime(2026, 11, 24, 2, 0, tzinfo=UTC), "Europe/Berlin", datetime(2026, 11, 24, 7, 0, tzinfo=UTC)),
])
async def test_quiet_hours_hold_customer_notices_until_morning(h: Notices, now, tz, held_until):
    h.clock.now = now
    customer = await h.order(at="approved")
    await h.bind(customer, tz=tz)
    await h.advance(NO, "paid")
    await h.deliver(after=DIGEST)

    [row] = await h.rows(recipient=f"customer:{customer}")
    if held_until is None:
        assert row.status == "sent" and len(texts(h)) == 1
        return
    assert texts(h) == []
    assert (row.status, row.attempts, utc(row.next_attempt_at)) == ("pending", 0, held_until)
    h.clock.now = held_until - timedelta(minutes=1)
    assert await h.deliver() == 0
    h.clock.now = held_until + timedelta(minutes=1)
    await h.deliver()
    assert len(texts(h)) == 1
    assert (await Outbox.get(id=row.id)).status == "sent"


async def test_staff_hear_of_an_exception_at_night_at_once(h: Notices):
    h.clock.now = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    member = await add_staff("仓库小王", "operator", None, "warehouse", {"telegram": "3001"}, None)
    await h.order(at="stocking")
    await h.open_exception()
    await h.deliver()
    [row] = await h.rows(recipient=f"staff:{member.id}")
    assert (row.kind, row.status) == ("exception_opened", "sent")
    [told] = texts(h, 3001)
    assert NO in told and "缺料" in told


# ---------------------------------------------------------------- 6. digest
async def poll(h: Notices, looks: str, seconds: int) -> None:
    """The sender's loop looks every second; or it was away (busy, restarting) for a while."""
    if looks == "every second":
        for _ in range(seconds):
            await h.deliver(after=1)
    else:
        await h.deliver(after=seconds)


@pytest.mark.parametrize("looks", ["every second", "once, after a while"])
async def test_changes_close_together_go_out_as_one_message(h: Notices, looks):
    customer = await h.order(at="outbound")
    await h.bind(customer)
    await h.advance(NO, "in_transit")
    for _ in range(5):
        assert await h.deliver(after=1) == 0, "nothing is due before digest_seconds"
    await h.advance(NO, "delivered")
    await poll(h, looks, DIGEST + 5)

    assert len(texts(h)) == 1, texts(h)
    [digest] = texts(h)
    assert NO in digest and "运输中" in digest and "签收" in digest and "2 条更新" in digest
    rows = await h.rows(recipient=f"customer:{customer}")
    assert [(r.kind, r.status) for r in rows] == [("node_entered", "sent")] * 2
    assert rows[0].digest_of is None and rows[1].digest_of == rows[0].id

    h.clock.advance(seconds=60)
    await h.advance(NO, "after_sales")
    await poll(h, looks, DIGEST + 1)
    assert len(texts(h)) == 2
    later = texts(h)[-1]
    assert "售后" in later and "运输中" not in later and "签收" not in later


@pytest.mark.parametrize("looks", ["every second", "once, after a while"])
async def test_a_node_and_the_eta_it_moves_are_one_message(h: Notices, looks):
    """Entering production and, 5 s later, outbound each move the ETA by days: still one message."""
    customer = await h.order(at="stocking")
    await h.bind(customer)
    await h.advance(NO, "production")
    h.clock.advance(seconds=5)
    await h.advance(NO, "outbound")  # qc is skipped
    await poll(h, looks, DIGEST + 5)

    assert len(texts(h)) == 1, texts(h)
    [digest] = texts(h)
    assert "生产" in digest and "出库" in digest
    rows = await h.rows(recipient=f"customer:{customer}")
    assert sorted(r.kind for r in rows) == ["eta_changed", "eta_changed", "node_entered", "node_entered"]
    assert {r.status for r in rows} == {"sent"}
    assert [r.digest_of for r in rows] == [None] + [rows[0].id] * 3


# ---------------------------------------------------------------- 9. retries and the dead letter
@pytest.mark.parametrize("case", ["WeChat is busy (errcode -1)", "WeChat answers HTTP 502", "the SMTP server is down"])
async def test_a_failing_channel_is_retried_with_backoff_then_dead_lettered(h: Notices, case):
    h.sender.max_attempts = 3
    if case.startswith("WeChat"):
        customer = await h.order(at="approved", **NO_EMAIL)
        await h.bind(customer, "wechat", OPENID)
        await ChannelToken.create(name=f"wechat:{APP_ID}", value=h.wx_api.rotate(),
                                  expires_at=utcnow() + timedelta(hours=2))
        if "502" in case:
            h.wx_api.status = 502
        else:
            h.wx_api.errors["message/custom/send"] = [-1] * 10
    else:
        customer = await h.order(at="approved")
        await h.bind(customer, "wechat", OPENID, hours_ago=49)  # out of the window: e-mail it is
        h.settings.email.smtp_port = free_port()  # nobody listens there
    await h.advance(NO, "paid")
    await h.deliver(after=DIGEST)

    [row] = await h.rows(recipient=f"customer:{customer}")
    assert (row.status, row.attempts) == ("pending", 1) and row.last_error
    first_gap = utc(row.next_attempt_at) - h.clock()
    assert timedelta(seconds=5) <= first_gap <= timedelta(seconds=15), "10 s, give or take half"
    assert await h.deliver(after=first_gap.total_seconds() - 1) == 0, "not before its time"

    await h.deliver(after=2)
    row = await Outbox.get(id=row.id)
    assert (row.status, row.attempts) == ("pending", 2)
    second_gap = utc(row.next_attempt_at) - h.clock()
    assert timedelta(seconds=10) <= second_gap <= timedelta(seconds=30), "the wait doubles"

    await h.deliver(after=second_gap.total_seconds() + 1)
    row = await Outbox.get(id=row.id)
    assert (row.status, row.attempts) == ("failed", 3) and row.last_error
    assert await h.deliver(after=86400) == 0, "a dead letter stays put"
    if case.startswith("WeChat"):
        assert len(h.wx_api.bodies("message/custom/send")) == 3 and h.wx_api.texts_to(OPENID) == []
        assert ("502" if "502" in case else "busy") in row.last_error
    else:
        assert "SMTP" in row.last_error and h.mail.messages == []


# ---------------------------------------------------------------- 10. leases
async def test_a_dead_claimers_rows_are_taken_over_live_leases_and_sent_rows_are_not(h: Notices):
    numbers = [f"SO20261124020{i}" for i in range(1, 5)]
    customer = None
    for no in numbers:
        customer = await h.order(no, at="approved")
    await h.bind(customer)
    for no in numbers:
        await h.advance(no, "paid")
    h.clock.advance(seconds=DIGEST)
    rows = {r.order_no: r for r in await h.rows(recipient=f"customer:{customer}")}
    assert sorted(rows) == numbers

    # the first was sent long ago; the second claimed by a process that died (its lease ended);
    # the third is being sent by a live process right now; the fourth set by hand as a dead one
    await Outbox.filter(id=rows[numbers[0]].id).update(status="sent", sent_via=f"telegram:{CHAT}",
                                                       sent_at=h.clock())
    dead = h.sender_as("dead", lease_seconds=30)
    assert [r["order_no"] for r in await dead.claim(1)] == [numbers[1]]
    live = h.sender_as("alive", lease_seconds=600)
    assert [r["order_no"] for r in await live.claim(1)] == [numbers[2]]
    await Outbox.filter(id=rows[numbers[3]].id).update(status="sending", lease_owner="dead",
                                                       lease_until=h.clock() - timedelta(seconds=1))
    assert [r["order_no"] for r in await h.sender.claim(10)] == [numbers[3]], "the dead lease runs 30 s"
    await Outbox.filter(id=rows[numbers[3]].id).update(status="sending", lease_owner="dead",
                                                       lease_until=h.clock() - timedelta(seconds=1))

    h.clock.advance(seconds=31)
    assert await h.deliver() == 2
    after = {r.order_no: r for r in await h.rows(recipient=f"customer:{customer}")}
    assert [after[n].status for n in numbers] == ["sent", "sent", "sending", "sent"]
    assert after[numbers[2]].lease_owner == "alive"
    told = texts(h)
    assert len(told) == 2 and numbers[1] in "".join(told) and numbers[3] in "".join(told)
    assert numbers[0] not in "".join(told) and numbers[2] not in "".join(told)
    await dead.run_once()  # the dead process comes back: its claim is gone, it sends nothing
    assert len(texts(h)) == 2


# ---------------------------------------------------------------- 11. exception pushes with an Ack button
async def test_an_exception_push_to_a_subscriber_has_the_order_and_an_ack_button(h: Notices):
    await add_staff("销售小陈", "sales", "S001", "sales", {"telegram": "3009"}, None)  # answers for the order
    member = await add_staff("仓库小王", "operator", None, "warehouse", {"telegram": "3002"}, None)
    flow = h.bot.flow(sender="3002")
    await flow.say("/subscribe exceptions")
    assert await Subscription.filter(staff_id=member.id, scope_key="exceptions:*").exists()
    await h.order(at="stocking", sales_owner="S001")
    exc_id = await h.open_exception()
    await h.deliver()

    [sent] = h.botapi.sent(3002)
    assert NO in sent["text"] and "缺料" in sent["text"] and "缺螺丝" in sent["text"]
    buttons = [b for row in sent["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["callback_data"] for b in buttons] == [f"/ack {NO} #{exc_id}"], "the button names its exception"
    [row] = await h.rows(recipient=f"staff:{member.id}")
    assert (row.kind, row.status, row.sent_via) == ("exception_opened", "sent", "telegram:3002")
    assert len(h.botapi.sent(3009)) == 1, "the sales owner hears of it too"

    await flow.say(buttons[0]["callback_data"])  # what tapping the button says
    assert (await OrderException.get(order__order_no=NO)).status == "acknowledged"
