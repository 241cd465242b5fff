"""`orderbot outbox list [--failed]` and `orderbot outbox replay ID... | --failed`.

Staff see what the bot owes and what it could not deliver (with the reason), and send
it again once the cause is fixed. A row that was sent is never sent again: replay
refuses it by name.
"""
from __future__ import annotations

import click

from bot.cli.support import fail, run_with_db, settings_from, table, when
from models import outbox, recipients
from models.outbox import STUCK, Outbox

STATUSES = ("pending", "sending", "sent", *STUCK)


@click.group("outbox")
def outbox_group() -> None:
    """The notifications the bot owes, has sent, or could not deliver."""


@outbox_group.command("list")
@click.option("--failed", is_flag=True, help="Only what failed for good or could not be delivered.")
@click.option("--status", type=click.Choice(STATUSES), help="Only rows with this status.")
@click.option("--order", "order_no", metavar="ORDER", help="Only notices about this order.")
@click.option("--last", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.pass_context
def list_rows(ctx: click.Context, failed: bool, status: str | None, order_no: str | None, last: int) -> None:
    """The newest notices, with whom they are for, where they went and why they failed."""
    settings = settings_from(ctx)

    async def read() -> tuple[list[Outbox], dict[str, str]]:
        qs = Outbox.all()
        if failed:
            qs = qs.filter(status__in=STUCK)
        if status:
            qs = qs.filter(status=status)
        if order_no:
            qs = qs.filter(order_no=order_no.strip().upper())
        rows = list(reversed(await qs.order_by("-id").limit(last)))
        return rows, await recipients.names_of(r.recipient for r in rows)

    rows, names = run_with_db(settings, read)
    if not rows:
        click.echo("no notices" + (" that failed" if failed else ""))
        return
    click.echo(table(
        ["id", "created", "kind", "order", "recipient", "status", "tries", "next try / sent", "via", "reason"],
        [[r.id, when(r.created_at, settings), r.kind, r.order_no or "", _who(r.recipient, names), _status(r),
          r.attempts, when(r.sent_at if r.status == "sent" else r.next_attempt_at, settings), r.sent_via or "",
          (r.last_error or "")[:80]] for r in rows]))


def _who(recipient: str, names: dict[str, str]) -> str:
    """A person by name, with the key that finds their rows: 王芳 (staff:3)."""
    return f"{names[recipient]} ({recipient})" if recipient in names else recipient


def _status(row: Outbox) -> str:
    return f"in digest #{row.digest_of}" if row.status == "sent" and row.digest_of else row.status


@outbox_group.command()
@click.argument("ids", nargs=-1, type=int)
@click.option("--failed", is_flag=True, help="Every row that failed or was undeliverable.")
@click.pass_context
def replay(ctx: click.Context, ids: tuple[int, ...], failed: bool) -> None:
    """Send failed or undeliverable notices again (by ID, or all with --failed)."""
    if bool(ids) == failed:
        raise click.UsageError("give notice IDs, or --failed (one of the two)")
    settings = settings_from(ctx)

    async def again() -> tuple[int, list[str]]:
        return await outbox.replay(ids, failed=failed)

    n, problems = run_with_db(settings, again)
    if problems:
        fail("; ".join(problems))
    click.echo(f"{n} notice(s) will be sent again by the running service")


def register(cli: click.Group) -> None:
    cli.add_command(outbox_group)
