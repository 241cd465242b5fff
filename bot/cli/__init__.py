"""The `orderbot` command: set-up, serving, the demo, and the administration commands."""
from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from pathlib import Path

import click

from bot.cli import admin, export, ledger, notices, signin, talk, webhooks
from bot.cli.support import CONFIG_EXIT, fail, settings_from
from bot.config import DEFAULT_FILE, ENV_PREFIX
from bot.db import SchemaOutdated, apply_migrations, database
from models.workflows import WorkflowError, builtin_workflows_text, load_workflows

CONFIG_TEMPLATE = """\
# orderbot configuration. Every key can be overridden from the environment as
# ORDERBOT_<SECTION>__<KEY>, e.g. ORDERBOT_DATABASE__URL. Relative paths are relative
# to this file. See README.md for every key.

[database]
# sqlite://PATH (one process) or postgres://USER:PASSWORD@HOST:5432/DB (any number)
url = "sqlite://orderbot.db"

[server]
host = "127.0.0.1"
port = 8080
# public_url = "https://orders.example.com"   # how channels and links reach this server
# The zone people read times in unless their chat set its own (/timezone); an IANA name.
timezone = "{timezone}"

[security]
secret_key = "{secret}"

[workflows]
# Your nodes; delete this line to use the built-in workflows.
file = "workflows.yaml"

[orders]
number_pattern = '^[A-Z]{{1,4}}[0-9]{{6,20}}$'

[brand]
# Your company: on the customer's progress page, in the chat page's title, at the foot of e-mails.
name = ""
# logo_url = "https://www.example.com/logo.png"
# phone = "0574-8888 6666"
# email = "sales@example.com"
# url = "https://www.example.com"

[notifications]
scan_interval_seconds = 60
escalate_after_minutes = 30
quiet_hours = "22:00-08:00"
digest_seconds = 20
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-c", "--config", "config", type=click.Path(dir_okay=False), default=None,
              help=f"Config file (default: ${ENV_PREFIX}CONFIG, else ./{DEFAULT_FILE}).")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.version_option(package_name="orderbot")
@click.pass_context
def cli(ctx: click.Context, config: str | None, log_level: str) -> None:
    """orderbot answers "where is my order?" on WeChat, Telegram, e-mail and web chat."""
    ctx.obj = {"config": config}
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tortoise").setLevel(max(logging.WARNING, logging.getLogger().level))
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)


@cli.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where to write orderbot.toml and workflows.yaml.")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@click.option("--timezone", "tz", default=None, metavar="ZONE",
              help="The zone times are shown in, e.g. Asia/Shanghai (default: asked, or this machine's).")
def init(folder: Path, force: bool, tz: str | None) -> None:
    """Write orderbot.toml (with a fresh secret key and the time zone) and an example workflows.yaml."""
    files = [folder / DEFAULT_FILE, folder / "workflows.yaml"]
    existing = [str(p) for p in files if p.exists()]
    if existing and not force:
        fail(f"{', '.join(existing)} already exist(s); use --force to overwrite")
    zone = _init_timezone(tz)
    folder.mkdir(parents=True, exist_ok=True)
    files = {files[0]: CONFIG_TEMPLATE.format(secret=secrets.token_urlsafe(32), timezone=zone),
             files[1]: builtin_workflows_text()}
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}")
    click.echo("next: orderbot migrate && orderbot serve")


def _init_timezone(given: str | None) -> str:
    """``--timezone``, else asked with this machine's as the answer (detected alone when nobody types)."""
    from bot.config import machine_timezone
    from bot.conversation.cards import zone_named

    if given is not None:
        if (name := zone_named(given)) is None:
            fail(f"--timezone: unknown time zone {given!r} (use an IANA name such as Asia/Shanghai)")
        return name
    detected = machine_timezone()
    if not sys.stdin.isatty():
        click.echo(f"time zone: {detected} (this machine's; --timezone to choose another)")
        return detected
    while (name := zone_named(click.prompt("Time zone customers and staff read times in", default=detected))) is None:
        click.echo("unknown time zone; use an IANA name such as Asia/Shanghai or Europe/Berlin")
    return name


@cli.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply pending database migrations (run before `serve` on PostgreSQL)."""
    settings = settings_from(ctx)

    async def main() -> list[str]:
        async with database(settings.database.url):
            return await apply_migrations(report=click.echo)

    try:
        applied = asyncio.run(main())
    except OSError as e:
        fail(f"cannot reach the database: {e}")
    click.echo(f"{len(applied)} migration(s) applied; the schema is current" if applied
               else "the schema is already current")


@cli.command()
@click.option("--host", default=None, help="Override [server] host.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Override [server] port.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the service: HTTP API, webhooks and every enabled channel, in one process.

    On SQLite pending migrations are applied at start; on PostgreSQL the service refuses
    to start until `orderbot migrate` has run.
    """
    from bot.app import serve as run

    settings = settings_from(ctx)
    if host:
        settings.server.host = host
    if port:
        settings.server.port = port
    try:
        asyncio.run(run(settings))
    except WorkflowError as e:
        fail("workflows file problems:\n" + str(e), CONFIG_EXIT)
    except SchemaOutdated as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot start: {e}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--orders", "n_orders", type=click.IntRange(1, 100_000), default=300, show_default=True,
              help="How many demo orders to make.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Keep the demo database in this file instead of a throwaway one.")
def demo(host: str, port: int, n_orders: int, db_path: Path | None) -> None:
    """Run everything with demo data on a throwaway SQLite database; no config needed."""
    from bot.demo import run_demo

    try:
        run_demo(host=host, port=port, n_orders=n_orders, db_path=db_path)
    except OSError as e:
        fail(f"cannot start the demo: {e}")


@cli.group()
def workflows() -> None:
    """Check workflows files."""


@workflows.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def workflows_check(file: Path) -> None:
    """Check FILE; every problem is printed as FILE:LINE: FIELD: MESSAGE."""
    try:
        ws = load_workflows(file)
    except WorkflowError as e:
        for line in e.problems:
            click.echo(line, err=True)
        raise SystemExit(1) from None
    for wf in ws.workflows.values():
        click.echo(f"{wf.key}: {' → '.join(n.key for n in wf.nodes)} (done at {wf.done_node})")
    click.echo(f"{file}: OK, {len(ws.workflows)} workflow(s), exception kinds: {', '.join(ws.exception_kinds)}")


@cli.command()
@click.argument("text", required=False)
@click.option("--jsonl", type=click.Path(exists=True, dir_okay=False),
              help='Parse every line of FILE (JSON objects with a "text" field).')
@click.pass_context
def nlu(ctx: click.Context, text: str | None, jsonl: str | None) -> None:
    """Show how a message is understood: intent, order references, code, as JSON.

    `orderbot nlu TEXT` prints one JSON object; `--jsonl FILE` prints one per line of
    FILE, in order. Needs no config: [orders] number_pattern and default_prefix are read
    from it when there is one.
    """
    from bot.cli.understand import BadLine, parser_for, read_texts, to_json
    from bot.config import ConfigError

    if (text is None) == (jsonl is None):
        raise click.UsageError("give either TEXT or --jsonl FILE")
    try:
        parser = parser_for((ctx.find_root().obj or {}).get("config"))
    except ConfigError as e:
        fail(str(e), CONFIG_EXIT)
    try:
        texts = [text] if jsonl is None else read_texts(Path(jsonl))
    except BadLine as e:
        fail(str(e))
    for message in texts:
        click.echo(to_json(parser.parse(message)))


admin.register(cli)
export.register(cli, admin.order)
webhooks.register(cli)
ledger.register(cli)
talk.register(cli)
notices.register(cli)
signin.register(cli)


def main() -> None:
    cli(prog_name="orderbot")
