"""Conversation commands: chat from the terminal, the dev mailbox, the audit log."""
from __future__ import annotations

import click

from adapters.terminal import NAME as TERMINAL
from adapters.terminal import Terminal
from bot.app import build_conversation, build_engine, make_channel
from bot.channels import CHANNELS
from bot.cli.support import fail, run_with_db, settings_from, table, when
from models.audit import AuditLog
from models.devmail import DevMail
from models.messages import InboundMessage, Reply
from models.outbox import VERIFICATION_CODE
from notifications.sending import OutboxSender

AS = (*(c.name for c in CHANNELS), TERMINAL)


@click.command()
@click.option("--as", "who", required=True, metavar="CHANNEL:ID",
              help="Talk as this identity, e.g. telegram:1001 (a customer) or a staff member's.")
@click.option("--group", metavar="CHAT_ID", help="Speak in this group chat, addressing the bot.")
@click.pass_context
def chat(ctx: click.Context, who: str, group: str | None) -> None:
    """Talk to the bot from the terminal: one message per line, typed or piped."""
    channel, _, ident = who.partition(":")
    channel = TERMINAL if channel == "console" else channel  # its name until the staff console took the word
    if channel not in AS or not ident.strip():
        fail(f"--as wants CHANNEL:ID with CHANNEL one of {', '.join(AS)} (got {who!r})", 2)
    settings = settings_from(ctx)
    engine = build_engine(settings)

    async def talk() -> int:
        conversation = build_conversation(settings, engine)
        # The codes this chat causes go out from here (by SMTP, else into the dev mailbox), so
        # that one needs no running service; other notices are the service's to send.
        codes = OutboxSender(settings.notifications, engine, {"email": make_channel("email", settings)},
                             kinds=(VERIFICATION_CODE,))

        async def answer(msg: InboundMessage) -> list[Reply]:
            replies = await conversation.handle(msg)
            await codes.run_once()
            return replies

        return await Terminal(answer, channel, ident.strip(), group=group).run()

    run_with_db(settings, talk)


@click.command()
@click.option("--to", "to", metavar="ADDRESS", help="Only mail to this address.")
@click.option("--last", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.pass_context
def mailbox(ctx: click.Context, to: str | None, last: int) -> None:
    """Mail that would have gone out (no [email] smtp_host set: the demo), newest last."""
    settings = settings_from(ctx)

    async def read() -> list[DevMail]:
        qs = DevMail.all()
        if to:
            qs = qs.filter(to_address=to.strip().lower())
        return list(reversed(await qs.order_by("-id").limit(last)))

    mails = run_with_db(settings, read)
    if not mails:
        click.echo("the dev mailbox is empty")
    for m in mails:
        click.echo(f"--- #{m.id} {when(m.created_at, settings)}  to {m.to_address}\nSubject: {m.subject}\n\n"
                   f"{m.text.rstrip()}\n")


@click.command("audit")
@click.argument("order_no", metavar="ORDER")
@click.option("--last", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.pass_context
def audit_log(ctx: click.Context, order_no: str, last: int) -> None:
    """Who was shown ORDER: when, which fields, on which channel, verified how."""
    settings = settings_from(ctx)
    engine = build_engine(settings)
    no = engine.normalize(order_no)
    rows = run_with_db(settings, lambda: AuditLog.filter(order_no=no).order_by("-id").limit(last))
    if not rows:
        click.echo(f"nobody has been shown {no}")
        return
    click.echo(table(["when", "who", "channel", "chat", "verified by", "fields"],
                     [[when(r.at, settings), f"{r.actor_kind}:{r.actor_id}", r.channel, r.chat_id or "",
                       r.verified_by, ",".join(r.fields_shown)] for r in reversed(rows)]))


def register(cli: click.Group) -> None:
    for command in (chat, mailbox, audit_log):
        cli.add_command(command)
