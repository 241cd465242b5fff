"""Telegram: the channel (webhook or polling) and the sender that keeps Telegram's limits."""
import os

# Opt in to python-telegram-bot's coming behaviour (durations as timedelta) instead of a
# deprecation warning at every 429; our code reads either form.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from adapters.base import Channel  # noqa: E402 - after the opt-in above
from adapters.telegram.adapter import TelegramChannel  # noqa: E402
from adapters.telegram.config import TelegramSettings, problem  # noqa: E402

CHANNEL = Channel("telegram", TelegramSettings, problem, TelegramChannel)

__all__ = ["CHANNEL", "TelegramChannel", "TelegramSettings"]
