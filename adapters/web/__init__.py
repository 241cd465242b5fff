"""The web chat: ``/chat`` (a page for phones and desktops), its JSON API and WebSocket, and
``/chat/widget.js`` that puts the chat on a company's own site.

Modules: ``adapter`` (the channel), ``routes`` (what it serves, documented), ``cookies``
(who a visitor is), ``origins`` (who may talk to it, which language), ``proxies`` (which
address a message comes from, also behind a reverse proxy), ``page`` (the page and its files
in ``static/``), ``wire`` (the JSON it carries).
"""
from adapters.web.adapter import WebChat

__all__ = ["WebChat"]
