"""`orderbot console-link STAFF`: a one-time sign-in link to the console, for the first admin
(who has no chat bound yet) or anyone whose chat is out of reach."""
from __future__ import annotations

import click

from bot.app import console_url
from bot.cli.support import fail, run_with_db, settings_from
from models import audit, console
from models.people import StaffMember
from models.schedule import utcnow


@click.command("console-link")
@click.argument("staff")
@click.pass_context
def console_link(ctx: click.Context, staff: str) -> None:
    """Print a sign-in link for STAFF (a staff code, e.g. A001); it works once, within 5 minutes."""
    settings = settings_from(ctx)

    async def issue() -> str | None:
        member = await StaffMember.filter(code=staff.strip().upper()).first()
        if member is None or not member.active:
            return None
        token = await console.issue_link(member, "cli", utcnow())
        await audit.acted("cli", "console.link", f"staff:{member.code}", None, None)
        return token

    token = run_with_db(settings, issue)
    if token is None:
        fail(f"no active staff member has the code {staff!r}; see `orderbot staff list`")
    click.echo("Open this within 5 minutes (it works once):", err=True)
    click.echo(f"{console_url(settings)}/console/signin/{token}")


def register(cli: click.Group) -> None:
    cli.add_command(console_link)
