"""Typed keys for what the web application holds (aiohttp's AppKey)."""
from __future__ import annotations

from aiohttp import web

from bot.api.auth import KeyChecker, Principal
from bot.config import Settings
from models.engine import ProgressEngine

ENGINE = web.AppKey("engine", ProgressEngine)
SETTINGS = web.AppKey("settings", Settings)
KEYS = web.AppKey("keys", KeyChecker)
CHANNELS = web.AppKey("channels", dict)  # name -> the running adapter
PRINCIPAL = "orderbot.principal"  # request key: the Principal of an authenticated API call

__all__ = ["CHANNELS", "ENGINE", "SETTINGS", "KEYS", "PRINCIPAL", "Principal"]
