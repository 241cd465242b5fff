"""The customer's progress page, ``/t/<token>``: one order as its customer may see it, no sign-in.

The token is a progress link (``models.progress``): signed, expiring, revocable. A wrong,
expired or revoked one gets the same plain page and status, which says nothing of whether
the order exists. What the page shows is the chat's customer card laid out: the nodes
customers see (done with their times, the current one, what is ahead), the ETA, the
promised date, what holds it up in the customer's words, the courier with a link to its
own tracking page, and the company's contact. Each opening is an audit row.

"Ask in the chat" posts back here and lands in the web chat with a bind token of this
order, so the customer talks about this order without proving themselves again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from aiohttp import web

from bot.console.common import console, lang, now, render
from bot.console.today import kind_name
from bot.console.words import add
from bot.conversation.cards import day, eta_day, eta_window
from models import access, audit, progress
from models.carriers import carrier_of, tracking_url
from models.orders import Order, events_of, progress_facts

SHOWN = ("order_no", "status", "progress", "eta", "promised_date", "shipment", "exceptions")

add({
    "progress.title": {"zh": "订单 {order_no} 的进度", "en": "Order {order_no}: progress"},
    "progress.order": {"zh": "订单号", "en": "Order"},
    "progress.now": {"zh": "当前进度", "en": "Now"},
    "progress.since": {"zh": "{when}起", "en": "since {when}"},
    "progress.eta": {"zh": "预计到货", "en": "Expected"},
    "progress.eta_none": {"zh": "暂无预计时间", "en": "Not known yet"},
    "progress.promised": {"zh": "承诺交期", "en": "Promised for"},
    "progress.late": {"zh": "已晚于承诺交期，我们正在加紧处理。", "en": "This order is past its promised date; we are on it."},
    "progress.held": {"zh": "目前受阻：{reasons}", "en": "Held up by: {reasons}"},
    "progress.steps": {"zh": "进度明细", "en": "Every step"},
    "progress.done": {"zh": "已完成", "en": "Done"},
    "progress.current": {"zh": "进行中", "en": "Under way"},
    "progress.ahead": {"zh": "待进行", "en": "Still to come"},
    "progress.shipment": {"zh": "物流信息", "en": "Shipment"},
    "progress.carrier": {"zh": "快递公司", "en": "Courier"},
    "progress.tracking_no": {"zh": "运单号", "en": "Tracking number"},
    "progress.track": {"zh": "到{carrier}官网查看物流", "en": "Track it on {carrier}'s site"},
    "progress.contact": {"zh": "联系我们", "en": "Contact us"},
    "progress.phone": {"zh": "电话：", "en": "Phone: "},
    "progress.email": {"zh": "邮箱：", "en": "E-mail: "},
    "progress.site": {"zh": "网站：", "en": "Website: "},
    "progress.chat": {"zh": "在线咨询这个订单", "en": "Ask about this order in the chat"},
    "progress.valid_until": {"zh": "此链接有效期至 {day}。", "en": "This link works until {day}."},
    "progress.updated": {"zh": "更新于 {when}", "en": "As of {when}"},
    "progress.bad": {"zh": "链接无效或已过期", "en": "This link does not work"},
    "progress.bad_why": {"zh": "这个链接不正确、已过期或已被收回。请在聊天里再问一次订单进度，或联系卖家索取新链接。",
                         "en": "It is wrong, has expired or was withdrawn. Ask about your order in the chat again, "
                               "or ask the seller for a new link."},
})


@dataclass(frozen=True)
class Step:
    name: str
    state: str  # done, current, ahead
    at: datetime | None


def _when(dt: datetime, language: str, tz) -> str:
    local = dt.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}" if language == "zh" else f"{local.day} {local:%b %H:%M}"


def steps(engine, order: Order, entered: dict[str, datetime], language: str) -> list[Step]:
    """The nodes a customer sees: done ones (skipped left out) with when, the current one, those ahead."""
    wf = engine.workflow_of(order)
    if not wf.has(order.current_node):
        return []
    here, out = wf.index(order.current_node), []
    for i, node in enumerate(wf.nodes):
        if not node.customer_visible or i > max(here, wf.done_index):
            continue
        if i < here and node.key not in entered:
            continue  # skipped
        state = "done" if i < here else "current" if i == here else "ahead"
        out.append(Step(node.name(language), state, entered.get(node.key) if state != "ahead" else None))
    return out


def _bad(request: web.Request) -> web.Response:
    """The one answer for every link that opens nothing."""
    response = render(request, "progress_bad.html", {}, status=404)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


async def page(request: web.Request) -> web.StreamResponse:
    c, language, at = console(request), lang(request), now(request)
    link = await progress.opened(c.secret_key, request.match_info["token"], at)
    if link is None:
        return _bad(request)
    order, engine = link.order, c.engine
    await audit.shown("progress", str(link.link_id), order.order_no, SHOWN, actor_kind="link",
                      actor_id=f"#{link.link_id}", verified_by="progress_link")
    _, held = await progress_facts(order.id)
    entered: dict[str, datetime] = {}
    for e in await events_of(order.id):
        if e.kind != "update":
            entered[e.node] = e.at  # the last time it entered a node (rework enters again)
    window = eta_window(engine, order, held=bool(held))
    carrier = carrier_of(order.carrier, order.tracking_no)
    response = render(request, "progress.html", {
        "order": order,
        "node": engine.node_name(order, language),
        "since": _when(order.node_entered_at, language, c.tz),
        "eta": eta_day(*window, language, c.tz, at) if window else None,
        "promised": day(order.promised_date, language) if order.promised_date else None,
        "late": engine.is_late(order),
        "held": [kind_name(engine.workflows, kind, language) for kind, _ in held],
        "steps": steps(engine, order, entered, language),
        "when": lambda dt: _when(dt, language, c.tz),
        "carrier": carrier.name(language) if carrier else order.carrier,
        "track_url": tracking_url(order.carrier, order.tracking_no),
        "valid_until": day(link.expires_at.astimezone(c.tz).date(), language),
        "token": request.match_info["token"],
    })
    response.headers["Referrer-Policy"] = "no-referrer"  # the token never leaves in a Referer
    response.headers["X-Robots-Tag"] = "noindex"
    return response


async def chat(request: web.Request) -> web.StreamResponse:
    """Into the web chat about this order: a bind token of it, spent by the chat page's /start."""
    c = console(request)
    if not c.chat_enabled:
        return _bad(request)
    at = now(request)
    link = await progress.opened(c.secret_key, request.match_info["token"], at)
    if link is None:
        return _bad(request)
    token = await access.new_token(link.order.id, at, days=1)
    raise web.HTTPSeeOther(f"/chat?start={quote(token)}&lang={lang(request)}")


def routes() -> list[web.RouteDef]:
    return [web.get("/t/{token}", page), web.post("/t/{token}/chat", chat)]
