"""Typed keys for what the web application holds (aiohttp's AppKey)."""
from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bot.api.auth import KeyChecker, Principal
from models.engine import ProgressEngine

ENGINE = web.AppKey("engine", ProgressEngine)
KEYS = web.AppKey("keys", KeyChecker)
LINKS = web.AppKey("links", Callable)  # customer id -> its bind token and the links that use it
MOUNTED = web.AppKey("mounted", tuple)  # the routes the running channels mounted, for the OpenAPI document
PRINCIPAL = "orderbot.principal"  # request key: the Principal of an authenticated API call

__all__ = ["ENGINE", "KEYS", "LINKS", "MOUNTED", "PRINCIPAL", "Principal"]
