"""`orderbot webhook add|list|remove|deliveries|redeliver`: other systems told of what happens (models/webhooks.py)."""
from __future__ import annotations

import click

from bot.cli.support import fail, run_with_db, settings_from, table, when
from models import audit, webhooks
from models.schedule import utcnow


@click.group()
def webhook() -> None:
    """Outgoing webhooks: signed JSON POSTs when orders move, exceptions open or close, requests come, orders run late."""


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) > 2000 or any(c.isspace() for c in value):
        fail(f"URL: {value[:80]!r} is not an http:// or https:// address")
    return value


@webhook.command("add")
@click.argument("url")
@click.option("--events", required=True, help=f"Comma-separated: {', '.join(webhooks.EVENTS)}.")
@click.pass_context
def add(ctx: click.Context, url: str, events: str) -> None:
    """Tell URL of EVENTS; prints its id and its signing secret (shown only now)."""
    settings = settings_from(ctx)
    try:
        wanted = webhooks.check_events(events.split(","))
    except ValueError as e:
        fail(f"--events: {e}")

    async def made():
        hook = await webhooks.add(_url(url), wanted, "cli", utcnow())
        await audit.acted("cli", "webhook.add", f"webhook:{hook.id}", None, {"url": hook.url, "events": hook.events})
        return hook

    hook = run_with_db(settings, made)
    click.echo(f"webhook #{hook.id} → {hook.url} ({', '.join(hook.events)}); its signing secret (shown once):", err=True)
    click.echo(hook.secret)


@webhook.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """The webhooks, their events and whether they are on."""
    settings = settings_from(ctx)
    rows = run_with_db(settings, webhooks.listed)
    click.echo(table(["id", "url", "events", "on", "created", "why off"],
                     [[h.id, h.url, ",".join(h.events), "yes" if h.active else "no", when(h.created_at, settings),
                       h.disabled_why or ""] for h in rows]))


@webhook.command("remove")
@click.argument("webhook_id", type=int)
@click.pass_context
def remove(ctx: click.Context, webhook_id: int) -> None:
    """Stop telling webhook WEBHOOK_ID (what it is still owed is not sent)."""
    settings = settings_from(ctx)

    async def stop() -> bool:
        done = await webhooks.remove(webhook_id, utcnow())
        if done:
            await audit.acted("cli", "webhook.remove", f"webhook:{webhook_id}", {"active": True}, {"active": False})
        return done

    if not run_with_db(settings, stop):
        fail(f"no active webhook #{webhook_id}; see `orderbot webhook list`")
    click.echo(f"webhook #{webhook_id} removed")


@webhook.command("deliveries")
@click.argument("webhook_id", type=int, required=False)
@click.option("--failed", is_flag=True, help="Only those that gave up (after 24 hours, or refused for good).")
@click.option("--last", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.pass_context
def deliveries(ctx: click.Context, webhook_id: int | None, failed: bool, last: int) -> None:
    """The events owed to webhooks, newest first: delivered, still being tried, or failed and why."""
    settings = settings_from(ctx)
    rows = run_with_db(settings, lambda: webhooks.deliveries(webhook_id, failed=failed, last=last))
    click.echo(table(["id", "webhook", "event", "event id", "status", "tries", "last answer", "created", "why"],
                     [[d.id, d.webhook_id, d.type, d.event_id, d.status, d.attempts,
                       d.last_code if d.last_code is not None else "", when(d.created_at, settings),
                       (d.last_error or "")[:80] if d.status != "sent" else ""] for d in rows]))


@webhook.command("redeliver")
@click.argument("delivery_ids", type=int, nargs=-1, required=True)
@click.pass_context
def redeliver(ctx: click.Context, delivery_ids: tuple[int, ...]) -> None:
    """Try failed deliveries again (by the ids `deliveries` shows), with another 24 hours."""
    settings = settings_from(ctx)
    n, problems = run_with_db(settings, lambda: webhooks.redeliver(delivery_ids, utcnow()))
    if problems:
        fail("; ".join(problems))
    click.echo(f"{n} deliver{'y' if n == 1 else 'ies'} will be tried again")


def register(cli: click.Group) -> None:
    cli.add_command(webhook)
