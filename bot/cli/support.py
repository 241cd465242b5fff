"""What the CLI commands share: loading settings, running with the database open, tables."""
from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.config import ConfigError, Settings, find_config_file, load_settings
from bot.db import SchemaOutdated, database, ensure_schema
from models.errors import EngineError
from models.workflows import WorkflowError

T = TypeVar("T")
CONFIG_EXIT = 2
DEMO_CONFIG = Path(tempfile.gettempdir()) / "orderbot-demo.toml"  # left there by a running `orderbot demo`


def fail(message: str, code: int = 1) -> None:
    click.echo(f"orderbot: {message}", err=True)
    sys.exit(code)


def settings_from(ctx: click.Context) -> Settings:
    """The settings for this invocation; a bad or missing key ends it with exit code 2.

    With no config file at all (and no database in the environment) while `orderbot demo`
    runs, the demo's settings are used, so a newcomer can talk to the demo right away.
    """
    obj = ctx.find_root().obj or {}
    if "settings" not in obj:
        explicit = obj.get("config")
        if explicit is None and find_config_file(None) is None and _demo_running():
            explicit = DEMO_CONFIG
            click.echo(f"orderbot: no config file here; using the running demo's ({DEMO_CONFIG})", err=True)
        try:
            obj["settings"] = load_settings(explicit)
        except ConfigError as e:
            fail(str(e), CONFIG_EXIT)
    return obj["settings"]


def _demo_running() -> bool:
    from bot.config import ENV_PREFIX

    return DEMO_CONFIG.exists() and not os.environ.get(ENV_PREFIX + "DATABASE__URL")


def run_with_db(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` with the database open and its schema current.

    SQLite is migrated on the spot, like ``serve`` does; PostgreSQL must be migrated first.
    Engine refusals and workflow problems end the command with a message and exit code 1 / 2.
    """

    async def main() -> T:
        async with database(settings.database.url):
            await ensure_schema(auto_migrate=settings.database.is_sqlite)
            return await work()

    try:
        return asyncio.run(main())
    except SchemaOutdated as e:
        fail(str(e))
    except WorkflowError as e:
        fail("workflows file problems:\n" + str(e), CONFIG_EXIT)
    except EngineError as e:
        fail(e.message)
    except OSError as e:
        fail(f"cannot reach the database: {e}")
    raise AssertionError("unreachable")


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, cols: int) -> str:
    return text + " " * max(0, cols - width(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned table, as `staff list` and `apikey list` print it."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    cols = [max(width(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(pad(c, cols[i]) for i, c in enumerate(r)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * c for c in cols).rstrip())
    return "\n".join(lines)


def when(dt: datetime | None, settings: Settings) -> str:
    """A time as people of the company read it: their time zone, to the minute."""
    return dt.astimezone(settings.server.tz).strftime("%Y-%m-%d %H:%M") if dt else "-"
