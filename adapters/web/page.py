"""The chat page and its static files: rendered in the visitor's language, cached sensibly.

The page is a small HTML template filled in on the server (texts, language, the ``/start``
token), with ``chat.css`` and ``chat.js`` linked under a content hash (cached for a year,
a new version gets a new URL). ``widget.js`` lives at a fixed URL on other companies'
sites, so it is cached for an hour and revalidated by ETag. No file comes from a CDN.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from aiohttp import web

from adapters.web.origins import frame_ancestors, socket_origin
from adapters.web.wire import MAX_TEXT

STATIC = Path(__file__).resolve().parent / "static"
START_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
YEAR = 365 * 24 * 3600

UI: dict[str, dict[str, str]] = {
    "title": {"zh": "订单助手", "en": "Order assistant"},
    "log_label": {"zh": "对话记录", "en": "Conversation"},
    "input_label": {"zh": "输入消息", "en": "Your message"},
    "placeholder": {"zh": "输入订单号或问题", "en": "An order number, or a question"},
    "send": {"zh": "发送", "en": "Send"},
    "open_new": {"zh": "新窗口打开", "en": "Open in a new window"},
    "noscript": {"zh": "请开启浏览器的 JavaScript 后使用在线查询。", "en": "Please turn on JavaScript to use the chat."},
    "you": {"zh": "我", "en": "You"},
    "bot": {"zh": "订单助手", "en": "Assistant"},
    "offline": {"zh": "连接中断，正在重试…", "en": "Connection lost; trying again…"},
    "failed": {"zh": "消息没有发出，请稍后重试。", "en": "The message was not sent; please try again."},
    "too_long": {"zh": f"消息太长了（最多 {MAX_TEXT} 字）。",
                 "en": f"That message is too long ({MAX_TEXT:,} characters at most)."},
    "suggestions": {"zh": "可选操作", "en": "Suggestions"},
    "open_link": {"zh": "打开链接", "en": "Open the link"},
}


@dataclass(frozen=True)
class Asset:
    """A static file held in memory: its bytes, type and content hash."""

    body: bytes
    content_type: str
    etag: str

    @property
    def version(self) -> str:
        return self.etag.strip('"')[:12]

    @classmethod
    def load(cls, name: str, content_type: str) -> Asset:
        body = (STATIC / name).read_bytes()
        return cls(body, content_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')

    def response(self, request: web.Request, cache_control: str, **headers: str) -> web.Response:
        """The file, or 304 when the browser's copy is current."""
        common = {"ETag": self.etag, "Cache-Control": cache_control, "X-Content-Type-Options": "nosniff", **headers}
        if self.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=common)
        return web.Response(body=self.body, content_type=self.content_type, charset="utf-8", headers=common)


class Page:
    """The chat page's template and files; loaded once, when the channel is made."""

    def __init__(self) -> None:
        self.template = Template((STATIC / "chat.html").read_text(encoding="utf-8"))
        self.assets = {"chat.js": Asset.load("chat.js", "application/javascript"),
                       "chat.css": Asset.load("chat.css", "text/css")}
        self.widget = Asset.load("widget.js", "application/javascript")

    def static(self, request: web.Request, name: str) -> web.Response:
        """``/chat/static/{name}``: a year's caching for the URL the page links (its hash), else 5 minutes."""
        asset = self.assets.get(name)
        if asset is None:
            raise web.HTTPNotFound(text=f"no file {name}")
        current = request.query.get("v") == asset.version
        return asset.response(request, f"public, max-age={YEAR}, immutable" if current else "public, max-age=300")

    def widget_js(self, request: web.Request) -> web.Response:
        # Loaded by <script> on other sites; Cross-Origin-Resource-Policy lets sites that isolate
        # themselves (COEP) load it too.
        return self.widget.response(request, "public, max-age=3600", **{"Cross-Origin-Resource-Policy": "cross-origin"})

    def render(self, lang: str, *, embed: bool, start: str | None,
               allowed_origins: list[str], greeting: str, own_url: str | None, company: str = "") -> web.Response:
        """The page in ``lang``; ``start`` (a bind token) is sent as ``/start <token>`` by the script.

        ``own_url`` is the service's configured address (``public_url``, else where it listens):
        the CSP names its WebSocket origin, never the request's ``Host``, which anyone can write.
        """
        texts = {key: value[lang] for key, value in UI.items()}
        config = {"lang": lang, "embed": embed, "api": "/chat/api/messages", "ws": "/chat/ws", "max": MAX_TEXT,
                  "start": start if start and START_TOKEN.match(start) else None, "texts": texts}
        fill = {key: html.escape(value) for key, value in texts.items()}
        if company:  # the company's name before the assistant's: "Acme 工厂 · 订单助手"
            fill["title"] = html.escape(f"{company} · {texts['title']}")
        fill.update(
            lang=html.escape("zh-CN" if lang == "zh" else "en"),
            greeting=html.escape(greeting),
            css=self.assets["chat.css"].version, js=self.assets["chat.js"].version,
            config=json.dumps(config, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"),
            body_class="embed" if embed else "page",
            standalone=html.escape(f"/chat?lang={lang}"),
        )
        body = self.template.substitute(fill)
        # 'self' covers the page's own ws:/wss: in CSP 3 browsers; the configured origin is for older ones.
        connect = " ".join(filter(None, ("'self'", socket_origin(own_url))))
        csp = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               f"connect-src {connect}; base-uri 'none'; form-action 'self'; "
               f"frame-ancestors {frame_ancestors(allowed_origins)}")
        return web.Response(text=body, content_type="text/html", charset="utf-8", headers={
            "Cache-Control": "no-store", "Content-Security-Policy": csp, "Content-Language": fill["lang"],
            "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Vary": "Accept-Language",
        })
