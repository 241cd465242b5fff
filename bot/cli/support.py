"""What the CLI commands share: loading settings, running with the database open, tables."""
from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import tomllib
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.config import ENV_PREFIX, ConfigError, Settings, find_config_file, load_settings
from bot.db import SchemaOutdated, database, ensure_schema
from models.errors import EngineError
from models.workflows import WorkflowError

T = TypeVar("T")
CONFIG_EXIT = 2
DEMO_PREFIX = "orderbot-demo-"  # each running `orderbot demo` has a folder of its own: gettempdir()/orderbot-demo-*
DEMO_CONFIG, DEMO_PID = "demo.toml", "demo.pid"


def fail(message: str, code: int = 1) -> None:
    click.echo(f"orderbot: {message}", err=True)
    sys.exit(code)


def settings_from(ctx: click.Context) -> Settings:
    """The settings for this invocation; a bad or missing key ends it with exit code 2.

    With no config file at all (and no database in the environment) while one `orderbot demo`
    runs, that demo's settings are used, so a newcomer can talk to the demo right away. With
    several running, none is guessed: the command names their config files.
    """
    obj = ctx.find_root().obj or {}
    if "settings" not in obj:
        explicit = obj.get("config")
        if explicit is None and find_config_file(None) is None and not os.environ.get(ENV_PREFIX + "DATABASE__URL"):
            explicit = _the_running_demo()
        try:
            obj["settings"] = load_settings(explicit)
        except ConfigError as e:
            fail(str(e), CONFIG_EXIT)
    return obj["settings"]


def _the_running_demo() -> Path | None:
    demos = running_demos()
    if len(demos) == 1:
        click.echo(f"orderbot: no config file here; using the running demo's ({demos[0]})", err=True)
        return demos[0]
    if demos:
        fail(f"no config file here, and {len(demos)} demos are running; say which one:\n"
             + "\n".join(f"  export {ENV_PREFIX}CONFIG={d}    # {_demo_url(d)}" for d in demos), CONFIG_EXIT)
    return None


def running_demos() -> list[Path]:
    """The config files of the demos running on this machine, oldest first (a killed one's folder is left out)."""
    found = []
    for folder in Path(tempfile.gettempdir()).glob(DEMO_PREFIX + "*"):
        config, pid = folder / DEMO_CONFIG, folder / DEMO_PID
        try:
            if config.is_file() and _alive(int(pid.read_text(encoding="ascii"))):
                found.append((pid.stat().st_mtime, config))
        except (OSError, ValueError):
            continue  # being written or removed this very moment, or not ours
    return [config for _, config in sorted(found)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process, alive
    return True


def _demo_url(config: Path) -> str:
    try:
        server = tomllib.loads(config.read_text(encoding="utf-8")).get("server", {})
        return f"http://{server['host']}:{server['port']}"
    except (OSError, tomllib.TOMLDecodeError, KeyError):
        return "its address is unknown"


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
