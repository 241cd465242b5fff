"""Channel adapters (telegram, wechat, email, web, console).

Each turns a channel's raw input into an ``InboundMessage`` and sends a ``Reply`` to a
``Target``; the application registers them explicitly in ``bot/app.py``.
"""
