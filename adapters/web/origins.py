"""Which sites may talk to the web chat, and which language a visitor reads.

Cross-site request forgery: the visitor's cookie goes along with any request their browser
makes, so a POST or a WebSocket handshake is taken only with an ``Origin`` header naming the
chat's own origin or one of ``[web] allowed_origins`` (``*``: any). Browsers always send
``Origin`` on a POST made by ``fetch`` and on every WebSocket handshake; a request without
one is refused as well. The same list says who may put the chat page in a frame
(``Content-Security-Policy: frame-ancestors``).

The chat's own origin is the one the request was made to (scheme and ``Host``) and, when
set, ``[server] public_url``'s: behind a proxy that ends TLS, set ``public_url``. Comparing
``Origin`` with ``Host`` is safe (a browser sends the real one); nothing from ``Host`` is
ever written into a response: the page's CSP names the configured address
(``socket_origin``).
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from aiohttp import web

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_PLAIN_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]+)?")
_WILDCARDS = ("0.0.0.0", "[::]")
LANGUAGES = ("zh", "en")


def normalise(origin: str) -> str:
    """``HTTPS://Example.com:443/`` → ``https://example.com``; "" for what is no origin."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and str(port) != _DEFAULT_PORTS[parts.scheme]:
        host += f":{port}"
    return f"{parts.scheme}://{host}"


def own_origins(request: web.Request, public_url: str | None) -> set[str]:
    mine = {normalise(f"{request.scheme}://{request.host}")}
    if public_url:
        mine.add(normalise(public_url))
    return mine - {""}


def origin_allowed(request: web.Request, allowed: list[str], public_url: str | None) -> bool:
    """Whether the request's ``Origin`` is the chat's own or one of ``allowed``."""
    origin = normalise(request.headers.get("Origin", ""))
    if not origin:
        return False
    return "*" in allowed or origin in own_origins(request, public_url) or origin in {normalise(a) for a in allowed}


def socket_origin(own_url: str | None) -> str:
    """The WebSocket origin of the chat's configured address (``wss`` for https); "" when it names no host.

    A wildcard listen address (``0.0.0.0``, ``::``) is no address a browser uses, and anything
    but a plain host name or IP address is left out: this goes into a header.
    """
    origin = normalise(own_url or "")
    scheme, _, rest = origin.partition("://")
    if not _PLAIN_HOST.fullmatch(rest) or rest.rsplit(":", 1)[0] in _WILDCARDS:
        return ""
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}"


def frame_ancestors(allowed: list[str]) -> str:
    """The CSP ``frame-ancestors`` value: who may embed the chat page."""
    if "*" in allowed:
        return "*"
    return " ".join(["'self'", *allowed])


def best_language(accept: str | None) -> str | None:
    """``zh`` or ``en``, whichever ``Accept-Language`` ranks higher; None when it names neither."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = tag.strip().lower().split("-")[0]
        if lang in LANGUAGES and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else None


def language_of(request: web.Request, default: str = "zh") -> str:
    """The page's language: ``?lang=`` (zh, zh-CN, en, en-GB…), else ``Accept-Language``, else ``default``."""
    asked = request.query.get("lang", "").strip().lower().split("-")[0].split("_")[0]
    if asked in LANGUAGES:
        return asked
    return best_language(request.headers.get("Accept-Language")) or default
