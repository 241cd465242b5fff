"""The service's front door: ``/`` (where staff sign in and customers ask) and ``/api/docs``.

``/api/docs`` renders the API's own OpenAPI document (``/api/v1/openapi.json``) with Redoc,
shipped in ``static/vendor`` like htmx: it works where the service has no internet.
"""
from __future__ import annotations

from aiohttp import web

from bot.console.common import render, signed_in, static_url
from bot.console.words import add

add({
    "landing.title": {"zh": "订单查询", "en": "Order tracking"},
    "landing.lead": {"zh": "查询订单进度、交期和物流。", "en": "Where your order is, when it arrives, how it travels."},
    "landing.customer": {"zh": "我是客户", "en": "Customers"},
    "landing.customer_how": {"zh": "输入订单号，验证后即可查看进度；也可以在微信、邮件里直接问我们。",
                             "en": "Type your order number and, once verified, see its progress; "
                                   "or ask us on WeChat or by e-mail."},
    "landing.chat": {"zh": "在线查询订单", "en": "Ask about an order"},
    "landing.no_chat": {"zh": "请通过下面的方式联系我们。", "en": "Reach us as below."},
    "landing.staff": {"zh": "我是员工", "en": "Staff"},
    "landing.staff_how": {"zh": "登录订单后台处理订单、异常和客户请求。",
                          "en": "Sign in to the order desk to work orders, exceptions and customer requests."},
    "landing.signin": {"zh": "登录订单后台", "en": "Sign in"},
    "landing.open_console": {"zh": "进入订单后台", "en": "Open the order desk"},
    "landing.api": {"zh": "接口文档", "en": "API documentation"},
    "apidocs.title": {"zh": "接口文档", "en": "API documentation"},
    "apidocs.noscript": {"zh": "接口文档需要开启 JavaScript；文档原文见 /api/v1/openapi.json。",
                         "en": "The documentation needs JavaScript; the document itself is /api/v1/openapi.json."},
})


async def landing(request: web.Request) -> web.StreamResponse:
    await signed_in(request)  # a member already signed in is offered the desk itself
    return render(request, "landing.html")


async def api_docs(request: web.Request) -> web.StreamResponse:
    response = render(request, "apidocs.html", {"redoc": static_url(request, "vendor/redoc.standalone.js")})
    # Redoc runs its search in a worker made from a blob, and styles itself inline.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")
    return response


def routes() -> list[web.RouteDef]:
    return [web.get("/", landing), web.get("/api/docs", api_docs)]
