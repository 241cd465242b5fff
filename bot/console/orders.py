"""Orders: the list with its filters, search, sorting and pages, and its download as xlsx or csv.

The query string is the whole state (``node``, ``late=1``, ``exceptions=1``, ``over_sla=1``,
``owner``, ``customer``, ``q``, ``promised_from``/``to``, ``created_from``/``to``, ``sort``,
``page``), so a list can be linked to (Today's figures do) and the downloads are exactly
what is shown. The form asks again on every change (htmx swaps the results and pushes the
URL); a bad value gives the page back with a message naming the field, never an error page.
The rows come from ``models.order_list`` within what the reader may see.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiMapping

from bot.console import export
from bot.console.common import console, lang, now, render, staff_page
from bot.console.words import add, word
from models import audit, order_list
from models.errors import InvalidInput
from models.order_list import OrderFilter
from models.people import Role, staff_names

add({
    "orders.more_filters": {"zh": "更多筛选（环节、负责人、客户、日期、排序）", "en": "More filters (node, owner, customer, dates, sort)"},
    "orders.title": {"zh": "订单", "en": "Orders"},
    "orders.q": {"zh": "搜索", "en": "Search"},
    "orders.q_hint": {"zh": "订单号、客户名、电话、邮箱或物流单号（写错几个字也能找到）",
                      "en": "Order no., customer, phone, e-mail or tracking no. (typos are forgiven)"},
    "orders.node": {"zh": "环节", "en": "Node"},
    "orders.any_node": {"zh": "全部环节", "en": "Any node"},
    "orders.owner": {"zh": "负责销售", "en": "Sales owner"},
    "orders.any_owner": {"zh": "全部负责人", "en": "Anyone"},
    "orders.customer": {"zh": "客户", "en": "Customer"},
    "orders.late": {"zh": "只看逾期", "en": "Late only"},
    "orders.exceptions": {"zh": "有未解决异常", "en": "With open exceptions"},
    "orders.over_sla": {"zh": "环节超时", "en": "Over their node's time"},
    "orders.promised": {"zh": "承诺交期", "en": "Promised"},
    "orders.created": {"zh": "下单日期", "en": "Placed"},
    "orders.from": {"zh": "从", "en": "From"},
    "orders.to": {"zh": "到", "en": "To"},
    "orders.sort": {"zh": "排序", "en": "Sort"},
    "orders.sort.-created": {"zh": "最新下单在前", "en": "Newest first"},
    "orders.sort.created": {"zh": "最早下单在前", "en": "Oldest first"},
    "orders.sort.promised": {"zh": "交期最近在前", "en": "Promised soonest"},
    "orders.sort.-promised": {"zh": "交期最远在前", "en": "Promised latest"},
    "orders.sort.order_no": {"zh": "订单号 A→Z", "en": "Order no. A→Z"},
    "orders.sort.-order_no": {"zh": "订单号 Z→A", "en": "Order no. Z→A"},
    "orders.sort.-node_entered": {"zh": "刚进入环节在前", "en": "Latest to reach their node"},
    "orders.sort.node_entered": {"zh": "在环节最久在前", "en": "Longest at their node"},
    "orders.apply": {"zh": "筛选", "en": "Filter"},
    "orders.clear": {"zh": "清除条件", "en": "Clear"},
    "orders.found": {"zh": "共 {n} 张订单", "en": "{n} orders"},
    "orders.guessed": {"zh": "没有找到“{typed}”，以下是 {guess} 的结果。", "en": "Nothing for “{typed}”; showing {guess}."},
    "orders.none": {"zh": "没有符合条件的订单。", "en": "No order matches."},
    "orders.page": {"zh": "第 {page} / {pages} 页", "en": "Page {page} of {pages}"},
    "orders.prev": {"zh": "上一页", "en": "Previous"},
    "orders.next": {"zh": "下一页", "en": "Next"},
    "orders.download": {"zh": "下载", "en": "Download"},
    "orders.col.order_no": {"zh": "订单号", "en": "Order no."},
    "orders.col.customer": {"zh": "客户", "en": "Customer"},
    "orders.col.node": {"zh": "当前环节", "en": "Node"},
    "orders.col.promised": {"zh": "承诺交期", "en": "Promised"},
    "orders.col.owner": {"zh": "负责销售", "en": "Sales owner"},
    "orders.col.placed": {"zh": "下单时间", "en": "Placed"},
    "orders.col.node_entered": {"zh": "进入环节", "en": "At node since"},
    "orders.col.tracking": {"zh": "物流单号", "en": "Tracking no."},
    "orders.col.exceptions": {"zh": "未解决异常", "en": "Open exceptions"},
    "orders.col.late": {"zh": "逾期", "en": "Late"},
    "orders.late_tag": {"zh": "已逾期", "en": "Late"},
    "orders.exc_tag": {"zh": "{n} 个异常", "en": "exceptions: {n}"},
    "orders.yes": {"zh": "是", "en": "yes"},
    "orders.capped": {"zh": "共 {total} 张订单，只导出了前 {cap} 张；请缩小筛选范围。",
                      "en": "{total} orders matched; only the first {cap} are in this file. Narrow the filters."},
    "orders.bad": {"zh": "筛选条件有误：{what}", "en": "A filter is wrong: {what}"},
    "orders.bad.date": {"zh": "“{field}”应是日期，如 2026-12-31，而不是“{value}”",
                        "en": "“{field}” must be a date such as 2026-12-31, not “{value}”"},
    "orders.bad.range": {"zh": "“{field}”的开始日期晚于结束日期", "en": "“{field}” starts after it ends"},
    "orders.bad.flag": {"zh": "“{field}”只能是 1 或 0，而不是“{value}”", "en": "“{field}” must be 1 or 0, not “{value}”"},
    "orders.bad.page": {"zh": "页码应是正整数，而不是“{value}”", "en": "The page must be a whole number, not “{value}”"},
    "orders.bad.sort": {"zh": "不认识的排序方式“{value}”", "en": "Unknown sort “{value}”"},
    "orders.bad.node": {"zh": "没有叫“{value}”的环节", "en": "No node is called “{value}”"},
    "orders.bad.long": {"zh": "“{field}”太长了（最多 {n} 个字）", "en": "“{field}” is too long (at most {n} characters)"},
})

SORT_CHOICES = ("-created", "created", "promised", "-promised", "order_no", "-order_no", "-node_entered",
                "node_entered")
FLAGS = ("late", "exceptions", "over_sla")
TEXTS = {"node": 64, "owner": 32, "customer": 100, "q": 100}
DATES = {"promised_from": "orders.promised", "promised_to": "orders.promised",
         "created_from": "orders.created", "created_to": "orders.created"}
KEPT = ("q", "customer", "node", "owner", *FLAGS, *DATES, "sort")  # what a link to the same list carries


class BadFilter(Exception):
    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values


@dataclass
class Asked:
    """The list a query string asks for, and the query string of it (without the page)."""

    filter: OrderFilter
    page: int
    kept: dict[str, str]


def _flag(query: MultiMapping[str], name: str, language: str) -> bool:
    value = query.get(name, "").strip().lower()
    if value in ("", "0", "false", "off"):
        return False
    if value in ("1", "true", "on", "yes"):
        return True
    raise BadFilter("orders.bad.flag", field=word(f"orders.{name}", language), value=value[:20])


def _date(query: MultiMapping[str], name: str, language: str) -> date | None:
    value = query.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        label = f"{word(DATES[name], language)} {word('orders.' + name.rsplit('_', 1)[1], language)}"
        raise BadFilter("orders.bad.date", field=label, value=value[:20]) from None


def asked(query: MultiMapping[str], language: str) -> Asked:
    """The filter of a query string; BadFilter naming the field that is wrong."""
    texts = {}
    for name, most in TEXTS.items():
        value = query.get(name, "").strip()
        if len(value) > most:
            raise BadFilter("orders.bad.long", field=word(f"orders.{name}", language), n=most)
        texts[name] = value or None
    dates = {name: _date(query, name, language) for name in DATES}
    for field in ("promised", "created"):
        start, end = dates[f"{field}_from"], dates[f"{field}_to"]
        if start and end and start > end:
            raise BadFilter("orders.bad.range", field=word(f"orders.{field}", language))
    sort = query.get("sort", "").strip() or order_list.DEFAULT_SORT
    if sort not in SORT_CHOICES:
        raise BadFilter("orders.bad.sort", value=sort[:30])
    raw_page = query.get("page", "").strip() or "1"
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= 1_000_000:
        raise BadFilter("orders.bad.page", value=raw_page[:20])
    flags = {name: _flag(query, name, language) for name in FLAGS}
    f = OrderFilter(**texts, **flags, **dates, sort=sort)
    kept = {name: query.get(name, "").strip() for name in KEPT if name not in FLAGS and query.get(name, "").strip()}
    kept.update({name: "1" for name in FLAGS if flags[name]})
    if kept.get("sort") == order_list.DEFAULT_SORT:
        del kept["sort"]
    return Asked(f, int(raw_page), kept)


def link(path: str, kept: dict[str, str], **more: object) -> str:
    values = {**kept, **{k: str(v) for k, v in more.items() if v is not None}}
    return path + ("?" + urlencode(values) if values else "")


async def _listing(request: web.Request, a: Asked, *, size: int | None = None):
    c = console(request)
    at = now(request)
    kwargs = {"today": at.astimezone(c.tz).date(), "now": at, "tz": c.tz}
    if size is None:
        return await order_list.find(c.engine.workflows, request["staff"], a.filter, page=a.page, **kwargs)
    return await order_list.export_rows(c.engine.workflows, request["staff"], a.filter, cap=size, **kwargs)


def _node_choices(workflows, language: str) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for wf in workflows.workflows.values():
        for n in wf.nodes:
            seen.setdefault(n.key, n.name(language))
    return list(seen.items())


async def _rows(request: web.Request, listed, language: str) -> list[export.Row]:
    c = console(request)
    names = await staff_names(o.sales_owner for o in listed.orders)
    today = now(request).astimezone(c.tz).date()
    return [export.row(c.engine.workflows, o, language, c.tz, names, listed.open_exceptions.get(o.id, 0),
                       order_list.is_late(c.engine.workflows, o, today)) for o in listed.orders]


@staff_page
async def page(request: web.Request) -> web.StreamResponse:
    language = lang(request)
    c = console(request)
    member = request["staff"]
    fragment = bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")
    problem, listed, a = None, None, Asked(OrderFilter(), 1, {})
    try:
        a = asked(request.query, language)
        listed = await _listing(request, a)
    except BadFilter as e:
        problem = word(e.key, language, **e.values)
    except InvalidInput as e:
        problem = word("orders.bad.node", language, value=request.query.get("node", "")[:64]) \
            if e.field == "node" else str(e)
    if problem:
        problem = word("orders.bad", language, what=problem)
    context = {
        "a": a, "f": a.filter, "listed": listed, "problem": problem,
        "rows": await _rows(request, listed, language) if listed else [],
        "link": lambda path="/console/orders", **more: link(path, a.kept, **more),
        "sorts": SORT_CHOICES, "nodes": _node_choices(c.engine.workflows, language),
        "owners": [] if member.role == Role.SALES else await order_list.sales_owners(),
        "typed": (request.query.get("q") or "").strip(),
    }
    # htmx swaps only 2xx answers: a fragment says what is wrong with a 200, the whole page with a 400.
    status = 400 if problem and not fragment else 200
    return render(request, "orders_body.html" if fragment else "orders.html", context, status=status)


async def _download(request: web.Request, kind: str) -> web.StreamResponse:
    language = lang(request)
    try:
        a = asked(request.query, language)
        listed = await _listing(request, a, size=order_list.EXPORT_CAP)
    except (BadFilter, InvalidInput):
        return await page(request)
    rows = await _rows(request, listed, language)
    note = word("orders.capped", language, total=f"{listed.total:,}", cap=f"{order_list.EXPORT_CAP:,}") \
        if listed.capped else None
    headers = [word(f"orders.col.{key}", language) for key in export.COLUMNS]
    # Building a workbook of thousands of rows is CPU work: off the event loop.
    body = await asyncio.to_thread(export.xlsx if kind == "xlsx" else export.csv_bytes, headers, rows, note,
                                   word("orders.yes", language))
    stamp = now(request).astimezone(console(request).tz).strftime("%Y%m%d-%H%M")
    # A download is a lookup of many orders at once: one audit row says who took which list.
    await audit.acted(request["staff"].code, "orders.download", "orders", None,
                      {"format": kind, "rows": len(rows), "query": dict(request.query)}, at=now(request))
    return web.Response(body=body, content_type=export.TYPES[kind], headers={
        "Content-Disposition": f'attachment; filename="orders-{stamp}.{kind}"'})


@staff_page
async def download_xlsx(request: web.Request) -> web.StreamResponse:
    return await _download(request, "xlsx")


@staff_page
async def download_csv(request: web.Request) -> web.StreamResponse:
    return await _download(request, "csv")


def routes() -> list[web.RouteDef]:
    return [web.get("/console/orders", page), web.get("/console/orders.xlsx", download_xlsx),
            web.get("/console/orders.csv", download_csv)]
