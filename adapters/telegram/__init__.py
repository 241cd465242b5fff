"""Telegram: the channel (webhook or polling) and the sender that keeps Telegram's limits."""
import os

# Opt in to python-telegram-bot's coming behaviour (durations as timedelta) instead of a
# deprecation warning at every 429; our code reads either form.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from adapters.telegram.adapter import TelegramChannel  # noqa: E402 - after the opt-in above

__all__ = ["TelegramChannel"]
