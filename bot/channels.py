"""The channels the service runs, in the order they start: the one list a new channel joins.

Each entry is a channel package's ``CHANNEL``; its settings section becomes a section of
the config file (``bot/config.py``), and ``bot/app.py`` makes, mounts and starts it.
"""
from __future__ import annotations

from adapters import email, telegram, web, wechat
from adapters.base import Channel

CHANNELS: tuple[Channel, ...] = (telegram.CHANNEL, wechat.CHANNEL, web.CHANNEL, email.CHANNEL)
