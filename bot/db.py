"""The database: Tortoise set-up, native migrations and the schema check at start-up.

``serve`` on SQLite applies pending migrations itself (one process owns the file);
on PostgreSQL it refuses to start until ``orderbot migrate`` has run, so that several
processes never race to change the schema.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise.backends.base.config_generator import expand_db_url
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext
from tortoise.migrations.executor import MigrationExecutor

from models import APP_LABEL, MIGRATIONS, MODEL_MODULES, sql

log = logging.getLogger(__name__)

# Used by `tortoise -c bot.db.TORTOISE_ORM makemigrations` when a developer changes models.
TORTOISE_ORM: dict[str, Any] = {}


class SchemaOutdated(Exception):
    """The database lacks migrations this version needs."""


def tortoise_config(url: str) -> dict[str, Any]:
    if url.startswith("postgresql://"):
        url = "postgres://" + url[len("postgresql://"):]
    if url.startswith("sqlite://") and "synchronous=" not in url:
        # Safe from a crash of the process without an fsync per commit (README › SQLite: power cuts).
        url += ("&" if "?" in url else "?") + "synchronous=NORMAL"
    if url.startswith("sqlite://") and "journal_size_limit=" not in url:
        # The WAL keeps its file when it starts over: one cut short allocates anew on every append.
        url += "&journal_size_limit=67108864"
    connection: str | dict[str, Any] = url
    if url.startswith("sqlite://"):
        # Tortoise's SQLite backend with transactions that begin IMMEDIATE (models/sqlite.py).
        connection = {**expand_db_url(url), "engine": "models.sqlite"}
    return {
        "connections": {"default": connection},
        "apps": {
            APP_LABEL: {
                "models": list(MODEL_MODULES),
                "default_connection": "default",
                "migrations": MIGRATIONS,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


TORTOISE_ORM.update(tortoise_config("sqlite://orderbot-dev.db"))


@asynccontextmanager
async def database(url: str) -> AsyncIterator[TortoiseContext]:
    """Open the models on ``url`` for the duration of the block, visible to every task."""
    ctx = TortoiseContext()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        async with ctx:
            await ctx.init(config=tortoise_config(url), _enable_global_fallback=True)
            try:
                yield ctx
            finally:
                await sql.close(ctx.connections.get("default"))


def _executor() -> MigrationExecutor:
    apps = tortoise_config("sqlite://:memory:")["apps"]
    return MigrationExecutor(get_connection("default"), apps)


async def pending_migrations() -> list[str]:
    """Names of the migrations the open database has not applied yet."""
    steps = await _executor().plan()
    return [f"{s.migration.app_label}.{s.migration.name}" for s in steps if not s.backward]


async def apply_migrations(report=None) -> list[str]:
    """Apply every pending migration to the open database; returns the names applied."""
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(f"{app_label}.{name}")
            if report:
                report(f"applied {app_label}.{name}")

    await _executor().migrate(progress=progress)
    return applied


async def ensure_schema(*, auto_migrate: bool) -> None:
    """Make sure the schema is current: migrate (SQLite) or raise SchemaOutdated (PostgreSQL)."""
    pending = await pending_migrations()
    if not pending:
        return
    if not auto_migrate:
        raise SchemaOutdated(
            f"the database schema is behind this version ({len(pending)} migration(s) pending: "
            f"{', '.join(pending)}); run `orderbot migrate` first"
        )
    log.info("applying %d pending migration(s) to the SQLite database", len(pending))
    await apply_migrations()


