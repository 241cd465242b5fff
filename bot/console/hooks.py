"""Webhooks (admins): the URLs other systems are told at, their events, and how deliveries went.

The same ``models/webhooks.py`` the CLI (`orderbot webhook ...`) and the API use; a new
webhook's secret is shown once, on the page that made it. Every change is an ``action_log`` row.
"""
from __future__ import annotations

import re

from aiohttp import web

from bot.console.common import actor, console, not_found, now, render, staff_action, staff_page
from bot.console.words import add
from models import audit, webhooks
from models.people import Role

URL = re.compile(r"^https?://[^\s/]+\S*$")

add({
    "hooks.title": {"zh": "Webhook 推送", "en": "Webhooks"},
    "hooks.hint": {"zh": "订单推进、异常、客户请求、逾期时，向其他系统（ERP 等）发送签名的 JSON 通知。",
                   "en": "Signed JSON posts to other systems (an ERP…) when orders move, exceptions open or close, "
                         "customers ask, orders run late."},
    "hooks.url": {"zh": "接收地址", "en": "URL"},
    "hooks.events": {"zh": "事件", "en": "Events"},
    "hooks.status": {"zh": "状态", "en": "Status"},
    "hooks.on": {"zh": "启用中", "en": "On"},
    "hooks.off": {"zh": "已停用", "en": "Off"},
    "hooks.add": {"zh": "添加 Webhook", "en": "Add a webhook"},
    "hooks.remove": {"zh": "停用", "en": "Remove"},
    "hooks.none": {"zh": "还没有 Webhook。", "en": "No webhooks yet."},
    "hooks.secret": {"zh": "签名密钥如下，请立即复制保存到接收方，离开本页后无法再次查看：",
                     "en": "The signing secret is below. Give it to the receiver now: it cannot be shown again."},
    "hooks.deliveries": {"zh": "最近的推送", "en": "Recent deliveries"},
    "hooks.failed_only": {"zh": "只看失败的", "en": "Failed only"},
    "hooks.no_deliveries": {"zh": "还没有推送。", "en": "Nothing delivered yet."},
    "hooks.event": {"zh": "事件", "en": "Event"},
    "hooks.tries": {"zh": "尝试次数", "en": "Tries"},
    "hooks.answer": {"zh": "最近响应", "en": "Last answer"},
    "hooks.redeliver": {"zh": "重新推送", "en": "Send again"},
    "hooks.err.url": {"zh": "请填写以 http:// 或 https:// 开头的地址。", "en": "Give an http:// or https:// address."},
    "hooks.err.events": {"zh": "请至少选一个事件。", "en": "Pick at least one event."},
    "hooks.done.removed": {"zh": "已停用。", "en": "Removed."},
    "hooks.done.redelivered": {"zh": "将重新推送。", "en": "It will be sent again."},
    "hooks.ev.node_entered": {"zh": "订单进入新环节", "en": "An order enters a node"},
    "hooks.ev.exception_opened": {"zh": "上报异常", "en": "An exception is opened"},
    "hooks.ev.exception_resolved": {"zh": "异常解决", "en": "An exception is resolved"},
    "hooks.ev.request_created": {"zh": "客户提出请求", "en": "A customer asks for something"},
    "hooks.ev.order_late": {"zh": "订单逾期", "en": "An order runs late"},
    "hooks.st.sent": {"zh": "已送达", "en": "Delivered"},
    "hooks.st.pending": {"zh": "等待重试", "en": "Waiting to retry"},
    "hooks.st.sending": {"zh": "发送中", "en": "Sending"},
    "hooks.st.failed": {"zh": "失败", "en": "Failed"},
    "hooks.st.undeliverable": {"zh": "无法送达", "en": "Undeliverable"},
})


async def _page(request: web.Request, *, secret: str | None = None, error: str | None = None,
                done: str | None = None, status: int = 200) -> web.Response:
    failed = request.query.get("failed") == "1"
    return render(request, "hooks.html", {
        "hooks": await webhooks.listed(), "events": webhooks.EVENTS, "secret": secret, "error": error, "done": done,
        "deliveries": await webhooks.deliveries(failed=failed, last=50), "failed": failed, "tz": console(request).tz,
    }, status=status)


@staff_page(roles=(Role.ADMIN,))
async def page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@staff_action(roles=(Role.ADMIN,))
async def create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    url = str(form.get("url", "")).strip()
    events = [e for e in form.getall("event", []) if e in webhooks.EVENTS]
    if not URL.match(url) or len(url) > 2000:
        return await _page(request, error="hooks.err.url", status=400)
    if not events:
        return await _page(request, error="hooks.err.events", status=400)
    hook = await webhooks.add(url, events, actor(request), now(request))
    await audit.acted(actor(request), "webhook.add", f"webhook:{hook.id}", None,
                      {"url": hook.url, "events": hook.events}, at=now(request))
    return await _page(request, secret=hook.secret)


def _id(request: web.Request, name: str) -> int | None:
    raw = request.match_info[name]
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


@staff_action(roles=(Role.ADMIN,))
async def remove(request: web.Request) -> web.StreamResponse:
    hook_id = _id(request, "hook_id")
    if hook_id is None or not await webhooks.remove(hook_id, now(request)):
        return not_found(request)
    await audit.acted(actor(request), "webhook.remove", f"webhook:{hook_id}", {"active": True}, {"active": False},
                      at=now(request))
    return await _page(request, done="hooks.done.removed")


@staff_action(roles=(Role.ADMIN,))
async def redeliver(request: web.Request) -> web.StreamResponse:
    delivery = _id(request, "delivery_id")
    n, problems = await webhooks.redeliver([delivery], now(request)) if delivery is not None else (0, ["none"])
    if problems:
        return not_found(request)
    await audit.acted(actor(request), "webhook.redeliver", f"delivery:{delivery}", None, None, at=now(request))
    return await _page(request, done="hooks.done.redelivered")


def routes() -> list[web.RouteDef]:
    return [web.get("/console/webhooks", page), web.post("/console/webhooks", create),
            web.post("/console/webhooks/{hook_id}/remove", remove),
            web.post("/console/webhooks/deliveries/{delivery_id}/redeliver", redeliver)]
