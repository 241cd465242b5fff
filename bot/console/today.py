"""Today, the console's home: what needs someone now, each figure a link to the list behind it.

The figures come from ``models.dashboard`` in the member's scope (a sales member sees their
own orders); ``/console/today`` is the same body alone, which the page fetches every 30
seconds (htmx) so a screen left open on the wall stays current.
"""
from __future__ import annotations

import json
from datetime import datetime, time

from aiohttp import web

from bot.conversation.durations import span
from bot.console.common import console, lang, now, render, staff_page
from bot.console.words import add
from models import dashboard
from models.people import staff_names

add({
    "today.title": {"zh": "今日概览", "en": "Today"},
    "today.late": {"zh": "已逾期订单", "en": "Late orders"},
    "today.late_hint": {"zh": "超过承诺交期仍未签收", "en": "Past the promised date, not delivered"},
    "today.over_sla": {"zh": "环节超时", "en": "Over their node's time"},
    "today.over_sla_hint": {"zh": "在当前环节停留超过规定时长", "en": "At their node longer than it should take"},
    "today.exceptions": {"zh": "未解决异常", "en": "Open exceptions"},
    "today.exceptions_hint": {"zh": "已上报、尚未解决", "en": "Raised and not yet resolved"},
    "today.requests": {"zh": "待处理客户请求", "en": "Customer requests waiting"},
    "today.requests_hint": {"zh": "催单、修改、售后、转人工", "en": "Chasers, changes, after-sales, asking for a person"},
    "today.per_node": {"zh": "各环节在途订单", "en": "Orders at each node"},
    "today.per_node_empty": {"zh": "没有在途订单。", "en": "No orders under way."},
    "today.oldest": {"zh": "最久未解决的异常", "en": "Oldest open exceptions"},
    "today.none_open": {"zh": "没有未解决的异常。", "en": "No open exceptions."},
    "today.by_owner": {"zh": "按负责人", "en": "By owner"},
    "today.no_owner": {"zh": "未分配", "en": "Nobody"},
    "today.moved": {"zh": "今天有进展的订单", "en": "Orders that moved today"},
    "today.moved_none": {"zh": "今天还没有订单推进。", "en": "No order has moved yet today."},
    "today.age": {"zh": "{age}前", "en": "{age} ago"},
    "today.order": {"zh": "订单", "en": "Order"},
    "today.kind": {"zh": "类型", "en": "Kind"},
    "today.node": {"zh": "环节", "en": "Node"},
    "today.owner": {"zh": "负责人", "en": "Owner"},
    "today.opened": {"zh": "上报于", "en": "Raised"},
    "today.view_all": {"zh": "查看全部 {n} 个", "en": "See all {n}"},
    "today.refresh": {"zh": "每 30 秒自动刷新", "en": "Refreshes every 30 seconds"},
    "today.chart_label": {"zh": "订单数", "en": "Orders"},
    "move.advance": {"zh": "推进到", "en": "moved to"},
    "move.rework": {"zh": "返工到", "en": "sent back to"},
})


def kind_name(workflows, kind: str, language: str) -> str:
    """An exception kind by its name in the workflows file (the key when it names none)."""
    zh, en = workflows.exception_kinds.get(kind, (kind, kind))
    return zh if language == "zh" else en


async def _figures(request: web.Request) -> dict:
    c = console(request)
    engine = c.engine
    at = now(request)
    local = at.astimezone(c.tz)
    day_start = datetime.combine(local.date(), time(0), tzinfo=c.tz)
    member = request["staff"]
    figures = await dashboard.today(engine.workflows, member, at, local.date(), day_start)
    language = lang(request)
    names = await staff_names([o.sales_owner for _, o in figures.oldest_exceptions] +
                              [owner for owner, _ in figures.exceptions_by_owner])

    def node_name(workflow: str, key: str) -> str:
        wf = engine.workflows.get(workflow)
        return wf.node(key).name(language) if wf is not None and wf.has(key) else key

    # Bars in the order of the longest workflow (the others' nodes are mostly the same ones).
    ordered = sorted(engine.workflows.workflows.values(), key=lambda w: -len(w.nodes))
    position = {}
    for wf in ordered:
        for n in wf.nodes:
            position.setdefault(n.key, len(position))
    bars: dict[str, dict] = {}
    for wf_key, node_key, n in figures.per_node:
        bar = bars.setdefault(node_key, {"key": node_key, "name": node_name(wf_key, node_key), "n": 0,
                                         "at": position.get(node_key, len(position))})
        bar["n"] += n
    chart = sorted(bars.values(), key=lambda b: (b["at"], b["key"]))
    return {
        "f": figures,
        "chart": chart,
        "chart_json": json.dumps({"names": [b["name"] for b in chart], "counts": [b["n"] for b in chart],
                                  "keys": [b["key"] for b in chart]}, ensure_ascii=False),
        "age": lambda dt: span(at - dt, language),
        "owner_name": lambda code: names.get((code or "").upper(), code) if code else None,
        "node_name": node_name,
        "kind_name": lambda k: kind_name(engine.workflows, k, language),
        "local": lambda dt: dt.astimezone(c.tz),
    }


@staff_page
async def page(request: web.Request) -> web.StreamResponse:
    return render(request, "today.html", await _figures(request))


@staff_page
async def fragment(request: web.Request) -> web.StreamResponse:
    return render(request, "today_body.html", await _figures(request))


def routes() -> list[web.RouteDef]:
    return [web.get("/console/", page), web.get("/console/today", fragment)]
