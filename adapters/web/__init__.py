"""The web chat: ``/chat`` (a page for phones and desktops), its JSON API and WebSocket, and
``/chat/widget.js`` that puts the chat on a company's own site.

Modules: ``adapter`` (the channel), ``config`` (its ``[web]`` section), ``routes`` (what it
serves, documented), ``cookies`` (who a visitor is), ``origins`` (who may talk to it, which
language), ``proxies`` (which address a message comes from, also behind a reverse proxy),
``page`` (the page and its files in ``static/``), ``wire`` (the JSON it carries).
"""
from adapters.base import Channel
from adapters.web.adapter import WebChat
from adapters.web.config import WebSettings, problem

CHANNEL = Channel("web", WebSettings, problem, WebChat)

__all__ = ["CHANNEL", "WebChat", "WebSettings"]
