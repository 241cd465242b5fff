"""`orderbot order list` and `orderbot export`: the orders a filter picks, as a table, CSV, JSON or a workbook.

The filters are the console's order list's (``models/order_list.OrderFilter``: node by key or
name, late, open exceptions, owner, customer with typos forgiven, free text, promised and
placed days), read by the same code, over every order (the CLI is the administrator's).
The workbook has the list's columns in Chinese (``--lang en``: English), then one column per
node with when the order entered it, a frozen header row and widths that fit.
"""
from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path

import click

from bot.app import build_engine
from bot.cli.support import fail, run_with_db, settings_from, table
from bot.console import export as files
from bot.console.orders import SORT_CHOICES
from bot.console.words import word
from models import audit, order_list
from models.order_list import OrderFilter
from models.people import Role, StaffMember, staff_names
from models.schedule import utcnow

FORMATS = ("table", "csv", "json", "xlsx")
MOST = 100_000


def _filters(f):
    for option in reversed([
        click.option("--node", help="Orders at this node: its key or its Chinese or English name (生产, production)."),
        click.option("--late", is_flag=True, help="Only orders past their promised date, not delivered."),
        click.option("--exceptions", is_flag=True, help="Only orders with an exception not yet resolved."),
        click.option("--over-sla", is_flag=True, help="Only orders at their node longer than it should take."),
        click.option("--owner", help="Only this sales member's orders (code, e.g. S001)."),
        click.option("--customer", help="Only this customer's orders (name; typos forgiven)."),
        click.option("--search", "q", help="Free text: order or tracking number, customer name, phone, e-mail."),
        click.option("--promised-from", type=click.DateTime(["%Y-%m-%d"]), help="Promised on or after (YYYY-MM-DD)."),
        click.option("--promised-to", type=click.DateTime(["%Y-%m-%d"]), help="Promised on or before."),
        click.option("--placed-from", type=click.DateTime(["%Y-%m-%d"]), help="Placed on or after (YYYY-MM-DD)."),
        click.option("--placed-to", type=click.DateTime(["%Y-%m-%d"]), help="Placed on or before."),
        click.option("--sort", type=click.Choice(SORT_CHOICES), default=order_list.DEFAULT_SORT, show_default=True),
        click.option("--limit", type=click.IntRange(1, MOST), default=None,
                     help=f"At most this many orders (default: 50 for a table, else every one, up to {MOST:,})."),
        click.option("--lang", "language", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                     help="The language of headers and node names."),
        click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write to this file (default: standard output; for xlsx orders-YYYYMMDD.xlsx)."),
    ]):
        f = option(f)
    return f


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _asked(options: dict) -> OrderFilter:
    for start, end, name in (("promised_from", "promised_to", "--promised-from/--promised-to"),
                             ("placed_from", "placed_to", "--placed-from/--placed-to")):
        if options[start] and options[end] and options[start] > options[end]:
            fail(f"{name}: the first day is after the last")
    text = {k: (options[k] or "").strip() or None for k in ("node", "owner", "customer", "q")}
    for name, value in text.items():
        if value and len(value) > 100:
            fail(f"--{'search' if name == 'q' else name}: at most 100 characters")
    return OrderFilter(**text, late=options["late"], exceptions=options["exceptions"], over_sla=options["over_sla"],
                       promised_from=_day(options["promised_from"]), promised_to=_day(options["promised_to"]),
                       created_from=_day(options["placed_from"]), created_to=_day(options["placed_to"]),
                       sort=options["sort"])


def _run(ctx: click.Context, fmt: str, options: dict) -> None:
    settings = settings_from(ctx)
    engine = build_engine(settings)
    tz, language = settings.server.tz, options["language"]
    f = _asked(options)
    cap = options["limit"] or (50 if fmt == "table" else MOST)
    reader = StaffMember(code="CLI", name="cli", role=Role.ADMIN)  # the administrator's command: every order

    async def gather():
        now = utcnow()
        listed = await order_list.export_rows(engine.workflows, reader, f, today=now.astimezone(tz).date(), now=now,
                                              tz=tz, cap=cap)
        names = await staff_names(o.sales_owner for o in listed.orders)
        times = await order_list.node_times([o.id for o in listed.orders])
        await audit.acted("cli", "orders.export", "orders", None, {"format": fmt, "rows": len(listed.orders)}, at=now)
        return listed, names, times, now

    listed, names, times, now = run_with_db(settings, gather)  # a node nobody has: its message, exit 1
    today = now.astimezone(tz).date()
    rows = [files.row(engine.workflows, o, language, tz, names, listed.open_exceptions.get(o.id, 0),
                      order_list.is_late(engine.workflows, o, today)) for o in listed.orders]
    note = word("orders.capped", language, total=f"{listed.total:,}", cap=f"{cap:,}") if listed.capped else None
    if fmt == "json":
        out = [{"order_no": o.order_no, "current_node": o.current_node, "current_node_name": r.node,
                "promised_date": o.promised_date.isoformat() if o.promised_date else None,
                "customer": o.customer.name, "sales_owner": o.sales_owner, "sales_owner_name": r.owner or None,
                "late": r.late, "placed_at": o.placed_at.isoformat(), "node_entered_at": o.node_entered_at.isoformat(),
                "carrier": o.carrier, "tracking_no": o.tracking_no, "open_exceptions": r.exceptions,
                "nodes": {k: v.isoformat() for k, v in times[o.id].items()}}
               for o, r in zip(listed.orders, rows)]
        return _write(json.dumps(out, ensure_ascii=False, indent=2) + "\n", options["output"])
    if fmt == "table":
        headers = [word(f"orders.col.{k}", language) for k in ("order_no", "customer", "node", "promised", "late",
                                                              "owner", "tracking")]
        lines = [[r.order_no, r.customer, r.node, r.promised, word("orders.yes", language) if r.late else "", r.owner,
                  r.tracking] for r in rows]
        text = table(headers, lines) + f"\n{len(rows)} of {listed.total:,}" + (f"  ({note})" if note else "")
        return _write(text + "\n", options["output"])
    nodes = _nodes(engine.workflows, language)
    headers = [word(f"orders.col.{k}", language) for k in files.COLUMNS] + [name for _, name in nodes]
    extra = [[times[o.id][key].astimezone(tz).replace(tzinfo=None) if key in times[o.id] else None
              for key, _ in nodes] for o in listed.orders]
    yes = word("orders.yes", language)
    if fmt == "csv":
        return _write(files.csv_bytes(headers, rows, note, yes, extra), options["output"])
    target = options["output"] or Path(f"orders-{now.astimezone(tz):%Y%m%d}.xlsx")
    target.write_bytes(files.xlsx(headers, rows, note, yes, extra))
    click.echo(f"{len(rows):,} orders written to {target}", err=True)


def _nodes(workflows, language: str) -> list[tuple[str, str]]:
    """Every node of every workflow, once, in workflow order: the timeline's columns."""
    seen: dict[str, str] = {}
    for wf in workflows.workflows.values():
        for n in wf.nodes:
            seen.setdefault(n.key, n.name(language))
    return list(seen.items())


def _write(body: str | bytes, output: Path | None) -> None:
    if output is not None:
        output.write_bytes(body.encode("utf-8") if isinstance(body, str) else body)
        click.echo(f"written to {output}", err=True)
    elif isinstance(body, bytes):
        sys.stdout.buffer.write(body)
    else:
        click.echo(body, nl=False)


@click.command("list")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@_filters
@click.pass_context
def order_list_command(ctx: click.Context, fmt: str, **options) -> None:
    """List orders, filtered as the console's order list is (see the options)."""
    _run(ctx, fmt, options)


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="xlsx", show_default=True)
@_filters
@click.pass_context
def export_command(ctx: click.Context, fmt: str, **options) -> None:
    """Export orders (default: a workbook with the timeline's dates as columns), filtered like `order list`."""
    _run(ctx, fmt, options)


def register(cli: click.Group, order: click.Group) -> None:
    cli.add_command(export_command)
    order.add_command(order_list_command)
