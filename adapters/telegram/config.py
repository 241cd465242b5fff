"""The ``[telegram]`` section of the config, and when the channel cannot start."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from adapters.base import Section


class TelegramSettings(Section):
    enabled: bool = False
    token: SecretStr | None = None
    mode: Literal["webhook", "polling"] = "webhook"
    webhook_secret: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    rate_limit_per_second: float = Field(30.0, gt=0)
    bot_username: str | None = None  # for t.me deep links; learnt from getMe when the channel starts


def problem(t: TelegramSettings) -> str | None:
    """Why the channel cannot start with these settings; None when it can."""
    if not t.enabled:
        return "enabled = false"
    if not t.token:
        return "token is not set"
    if t.mode == "webhook" and not t.webhook_secret:
        return "webhook_secret is not set: it is how Telegram's calls are told from anyone else's"
    return None
