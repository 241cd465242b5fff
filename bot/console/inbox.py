"""The inbox: customers' requests (rush, change, after-sales, a person) and the conversation about each.

``/console/inbox`` lists them newest first (open, being handled, closed, all; only mine);
``/console/inbox/<id>`` is one thread with claim, reply and close. Its messages are a fragment
(``/console/inbox/<id>/thread``) the page fetches every 5 seconds, so what the customer writes
shows up while the member reads. Sales see the requests on their own orders only (the view
policy); others are answered as a page that does not exist. Every change is written with its
``action_log`` row in the change's transaction (``models.requests``); the customer hears of it
through the outbox on the chat they wrote from.
"""
from __future__ import annotations

from aiohttp import web

from bot.conversation.durations import span
from bot.conversation.policy import staff_may_see
from bot.conversation.texts import t
from bot.console.common import console, lang, not_found, now, render, staff_action, staff_page
from bot.console.words import add, word
from models import requests
from models.people import Role, StaffMember

FILTERS = {"active": (requests.OPEN, requests.CLAIMED), "open": (requests.OPEN,), "claimed": (requests.CLAIMED,),
           "closed": (requests.CLOSED,), "all": ()}
POLL_SECONDS = 5
CHANNELS = {"telegram": ("Telegram", "Telegram"), "wechat": ("微信", "WeChat"), "email": ("邮件", "E-mail"),
            "web": ("网页聊天", "Web chat"), "terminal": ("终端", "Terminal")}

add({
    "inbox.title": {"zh": "客户请求", "en": "Inbox"},
    "inbox.filter.active": {"zh": "未关闭", "en": "Not closed"},
    "inbox.filter.open": {"zh": "待接手", "en": "Waiting"},
    "inbox.filter.claimed": {"zh": "处理中", "en": "Being handled"},
    "inbox.filter.closed": {"zh": "已关闭", "en": "Closed"},
    "inbox.filter.all": {"zh": "全部", "en": "All"},
    "inbox.mine": {"zh": "只看我的", "en": "Mine only"},
    "inbox.everyone": {"zh": "看所有人的", "en": "Everyone's"},
    "inbox.none": {"zh": "这里没有请求。", "en": "No requests here."},
    "inbox.status.open": {"zh": "待接手", "en": "Waiting"},
    "inbox.status.claimed": {"zh": "{name} 处理中", "en": "{name} has it"},
    "inbox.status.closed": {"zh": "已关闭", "en": "Closed"},
    "inbox.via": {"zh": "来自 {channel}", "en": "via {channel}"},
    "inbox.order": {"zh": "订单 {order_no}", "en": "Order {order_no}"},
    "inbox.customer": {"zh": "客户", "en": "Customer"},
    "inbox.back": {"zh": "← 返回客户请求", "en": "← Back to the inbox"},
    "inbox.thread": {"zh": "对话", "en": "Conversation"},
    "inbox.from_customer": {"zh": "客户 {name}", "en": "{name} (customer)"},
    "inbox.claim": {"zh": "接手对话", "en": "Take this conversation"},
    "inbox.claim_hint": {"zh": "接手后，客户在这个聊天里发的消息会转给您，订单助手不再自动回答。",
                         "en": "Once you take it, what the customer writes on that chat comes to you; the bot stops answering."},
    "inbox.reply": {"zh": "回复客户", "en": "Reply to the customer"},
    "inbox.reply_hint": {"zh": "回复会以“客服 {name}：…”的形式发到客户的 {channel}。",
                         "en": "The reply goes to the customer's {channel} as “{name} (our team): …”."},
    "inbox.send": {"zh": "发送", "en": "Send"},
    "inbox.close": {"zh": "结束对话，交回订单助手", "en": "Close and hand back to the bot"},
    "inbox.close_open": {"zh": "关闭请求", "en": "Close the request"},
    "inbox.closed_note": {"zh": "这个请求已于 {time} 由 {name} 关闭。", "en": "Closed by {name} at {time}."},
    "inbox.polling": {"zh": "新消息每 {n} 秒自动出现", "en": "New messages appear every {n} seconds"},
    "inbox.done.claimed": {"zh": "您已接手，客户已收到通知。", "en": "It is yours; the customer has been told."},
    "inbox.done.replied": {"zh": "回复已发出。", "en": "Your reply is on its way."},
    "inbox.done.closed": {"zh": "请求已关闭。", "en": "The request is closed."},
    "inbox.refused.taken": {"zh": "{name} 已经接手了这个对话。", "en": "{name} has this conversation already."},
    "inbox.refused.closed": {"zh": "这个请求已经关闭。", "en": "This request is closed."},
    "inbox.refused.gone": {"zh": "这个请求已不存在。", "en": "This request no longer exists."},
    "inbox.refused.empty": {"zh": "请先写下回复内容。", "en": "Write something to send first."},
    "inbox.refused.too_long": {"zh": "回复太长了（最多 {n} 字）。", "en": "The reply is too long (at most {n} characters)."},
    "inbox.age": {"zh": "{age}前", "en": "{age} ago"},
    "inbox.nobody": {"zh": "未分配", "en": "nobody"},
    "inbox.assigned": {"zh": "负责人：{name}", "en": "Owner: {name}"},
})


def _channel(name: str, language: str) -> str:
    zh, en = CHANNELS.get(name, (name, name))
    return zh if language == "zh" else en


def _owner_scope(member: StaffMember) -> str | None:
    """Sales read the requests on their own orders only (the view policy's rule for orders)."""
    return member.code if member.role == Role.SALES else None


async def _helpers(request: web.Request, codes: list[str | None]) -> dict:
    language, at, tz = lang(request), now(request), console(request).tz
    names = await requests.names(codes)
    return {
        "kind": lambda k: t(f"request.kind.{k}", language),
        "channel": lambda c: _channel(c, language),
        "age": lambda dt: span(at - dt, language) if dt else "",
        "who": lambda code: names.get((code or "").upper(), code) if code else word("inbox.nobody", language),
        "local": lambda dt: dt.astimezone(tz).strftime("%m-%d %H:%M"),
    }


@staff_page
async def inbox(request: web.Request) -> web.StreamResponse:
    member: StaffMember = request["staff"]
    shown = request.query.get("status", "active")
    shown = shown if shown in FILTERS else "active"
    mine = request.query.get("mine") == "1"
    found = await requests.listing(statuses=FILTERS[shown], mine=member.code if mine else None,
                                   owner=_owner_scope(member))
    found = [r for r in found if staff_may_see(member, r.sales_owner)]
    codes = [r.request.claimed_by for r in found] + [r.request.assigned_to for r in found]
    return render(request, "inbox.html", {"listed": found, "shown": shown, "mine": mine, "filters": list(FILTERS),
                                          **await _helpers(request, codes)})


async def _mine_to_see(request: web.Request) -> requests.Listed | None:
    """The request in the path, if it exists and the signed-in member may see its order."""
    ident = request.match_info["id"]
    found = await requests.one(int(ident)) if len(ident) <= 18 else None  # past a BIGINT: no such request
    if found is None or not staff_may_see(request["staff"], found.sales_owner):
        return None
    return found


async def _page(request: web.Request, found: requests.Listed, *, done: str | None = None,
                refused: requests.Refused | None = None, draft: str = "", status: int = 200) -> web.Response:
    req = found.request
    messages = await requests.thread(req.id)
    helpers = await _helpers(request, [req.claimed_by, req.assigned_to, req.handled_by,
                                       *[m.author for m in messages]])
    return render(request, "inbox_thread.html", {
        "item": found, "req": req, "messages": messages, "done": done, "refused": refused, "draft": draft,
        "poll": POLL_SECONDS, "max_text": requests.MAX_TEXT, "yours": (req.claimed_by or "").upper() ==
        request["staff"].code.upper(), **helpers}, status=status)


@staff_page
async def thread_page(request: web.Request) -> web.StreamResponse:
    found = await _mine_to_see(request)
    if found is None:
        return not_found(request)
    done = request.query.get("done")
    return await _page(request, found, done=done if done in ("claimed", "replied", "closed") else None)


@staff_page
async def thread_fragment(request: web.Request) -> web.StreamResponse:
    found = await _mine_to_see(request)
    if found is None:
        return not_found(request)
    messages = await requests.thread(found.request.id)
    helpers = await _helpers(request, [m.author for m in messages])
    return render(request, "inbox_messages.html", {"item": found, "messages": messages, **helpers})


async def _after(request: web.Request, found: requests.Listed, refused: requests.Refused | None, done: str,
                 draft: str = "") -> web.StreamResponse:
    """Back to the thread (POST, then GET) when it worked; the page with why, and the draft kept, when not."""
    if refused is None:
        raise web.HTTPSeeOther(f"/console/inbox/{found.request.id}?done={done}")
    status = 400 if refused.reason in ("empty", "too_long") else 409
    fresh = await requests.one(found.request.id) or found
    return await _page(request, fresh, refused=refused, draft=draft, status=status)


@staff_action
async def claim(request: web.Request) -> web.StreamResponse:
    found = await _mine_to_see(request)
    if found is None:
        return not_found(request)
    refused, _ = await requests.claim(found.request.id, request["staff"], now(request))
    return await _after(request, found, refused, "claimed")


@staff_action
async def reply(request: web.Request) -> web.StreamResponse:
    found = await _mine_to_see(request)
    if found is None:
        return not_found(request)
    text = (await request.post()).get("text")
    text = text if isinstance(text, str) else ""
    refused, _ = await requests.reply(found.request.id, request["staff"], text, now(request))
    return await _after(request, found, refused, "replied", draft=text)


@staff_action
async def close(request: web.Request) -> web.StreamResponse:
    found = await _mine_to_see(request)
    if found is None:
        return not_found(request)
    refused, _ = await requests.close(found.request.id, request["staff"], now(request))
    return await _after(request, found, refused, "closed")


def routes() -> list[web.RouteDef]:
    one = r"/console/inbox/{id:\d+}"
    return [web.get("/console/inbox", inbox), web.get(one, thread_page), web.get(one + "/thread", thread_fragment),
            web.post(one + "/claim", claim), web.post(one + "/reply", reply), web.post(one + "/close", close)]
