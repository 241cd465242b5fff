"""Administration commands: staff, API keys, looking at an order, recording an event."""
from __future__ import annotations

import uuid

import click

from bot.api import views
from bot.app import build_engine, console_url
from bot.cli.support import run_with_db, settings_from, table, when
from models.apikeys import DEFAULT_SCOPES, SCOPES, ApiKey, hash_key, new_key, parse_scopes
from models.errors import Conflict, NotFound
from models.inputs import EventData, EventIn
from models import audit, progress, staffing
from models.people import Role, StaffMember, add_staff
from models.schedule import utcnow


# ---------------------------------------------------------------- staff
@click.group()
def staff() -> None:
    """Staff members: who may look up and change orders, and see what."""


@staff.command("add")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--code", help="Staff code, e.g. S001 (sales_owner of orders); made up when not given.")
@click.option("--department", help="e.g. warehouse, production, qc, logistics, sales.")
@click.option("--telegram", help="Telegram user id.")
@click.option("--wechat", help="WeChat openid.")
@click.option("--email", help="E-mail address (also an identity: mail from it is theirs).")
@click.pass_context
def staff_add(ctx: click.Context, name: str, role: str, code: str | None, department: str | None,
              telegram: str | None, wechat: str | None, email: str | None) -> None:
    """Add a staff member and bind their Telegram, WeChat and e-mail identities."""
    settings = settings_from(ctx)
    email = email.strip().lower() if email else None
    ids = {k: v.strip() for k, v in (("telegram", telegram), ("wechat", wechat), ("email", email)) if v}
    member = run_with_db(settings, lambda: add_staff(name.strip(), role, code, department, ids, email))
    bound = ", ".join(f"{k}:{v}" for k, v in ids.items()) or "no chat identity yet"
    click.echo(f"added {member.code} {member.name} ({member.role.value}"
               f"{', ' + member.department if member.department else ''}); {bound}")


@staff.command("list")
@click.pass_context
def staff_list(ctx: click.Context) -> None:
    """List staff members and their identities."""
    settings = settings_from(ctx)

    async def rows() -> list[list[str]]:
        out = []
        for m in await StaffMember.all().order_by("code").prefetch_related("identities"):
            ids = ", ".join(f"{i.channel}:{i.external_id}" for i in m.identities)
            out.append([m.code, m.name, m.role.value, m.department or "", ids, "" if m.active else "inactive"])
        return out

    data = run_with_db(settings, rows)
    click.echo(table(["code", "name", "role", "department", "identities", ""], data) if data
               else "no staff members yet: orderbot staff add --name NAME --role ROLE")


@staff.command("edit")
@click.argument("code")
@click.option("--name")
@click.option("--role", type=click.Choice([r.value for r in Role]))
@click.option("--department", help="A department; '' clears it.")
@click.option("--code", "new_code", help="A new staff code (the orders naming the old one follow).")
@click.option("--email", help="A work e-mail address; '' clears it.")
@click.option("--locale", type=click.Choice(["zh", "en"]))
@click.pass_context
def staff_edit(ctx: click.Context, code: str, **fields: str | None) -> None:
    """Change a staff member's name, role, department, code, e-mail or language."""
    settings = settings_from(ctx)
    changes = {("code" if k == "new_code" else k): v for k, v in fields.items() if v is not None}
    if not changes:
        raise click.UsageError("nothing to change: give --name, --role, --department, --code, --email or --locale")
    m = run_with_db(settings, lambda: staffing.edit(code, changes, actor="cli", now=utcnow()))
    click.echo(f"{m.code} {m.name} ({m.role.value}{', ' + m.department if m.department else ''}) updated")


def _holdings_text(code: str, settings) -> str:
    engine = build_engine(settings)
    under_way = {wf.key: [n.key for n in wf.nodes[: wf.done_index]] for wf in engine.workflows.workflows.values()}

    async def lines() -> list[str]:
        held = await staffing.holdings(code, under_way)
        out = []
        if held.orders:
            out.append(f"orders under way they own ({len(held.orders)}), to hand on with "
                       f"`orderbot staff reassign {code.upper()} --to CODE`:")
            out += [f"  {o.order_no}  {o.current_node}  promised {o.promised_date or '-'}" for o in held.orders[:50]]
            if len(held.orders) > 50:
                out.append(f"  … and {len(held.orders) - 50} more")
        if held.exceptions:
            out.append(f"unresolved exceptions on those orders: {len(held.exceptions)}")
        if held.requests:
            out.append(f"customer requests assigned to them: {len(held.requests)}")
        return out or ["they own no order under way and no open request"]

    return "\n".join(run_with_db(settings, lines))


@staff.command("disable")
@click.argument("code")
@click.pass_context
def staff_disable(ctx: click.Context, code: str) -> None:
    """Disable a staff member: their chat commands, console sessions and pushes stop at once."""
    settings = settings_from(ctx)
    m = run_with_db(settings, lambda: staffing.set_active(code, False, actor="cli", now=utcnow()))
    click.echo(f"{m.code} {m.name} disabled")
    click.echo(_holdings_text(m.code, settings))


@staff.command("enable")
@click.argument("code")
@click.pass_context
def staff_enable(ctx: click.Context, code: str) -> None:
    """Enable a disabled staff member again."""
    settings = settings_from(ctx)
    m = run_with_db(settings, lambda: staffing.set_active(code, True, actor="cli", now=utcnow()))
    click.echo(f"{m.code} {m.name} enabled")


@staff.command("bind")
@click.argument("code")
@click.argument("identity", metavar="CHANNEL:ID")
@click.pass_context
def staff_bind(ctx: click.Context, code: str, identity: str) -> None:
    """Bind a chat identity (telegram:1001, wechat:OPENID, email:ADDR...) to a staff member."""
    settings = settings_from(ctx)
    run_with_db(settings, lambda: staffing.bind(code, identity, actor="cli", now=utcnow()))
    click.echo(f"{identity.strip()} bound to {code.strip().upper()}")


@staff.command("unbind")
@click.argument("code")
@click.argument("identity", metavar="CHANNEL:ID")
@click.pass_context
def staff_unbind(ctx: click.Context, code: str, identity: str) -> None:
    """Unbind a chat identity from a staff member (it is a stranger to the bot afterwards)."""
    settings = settings_from(ctx)
    run_with_db(settings, lambda: staffing.unbind(code, identity, actor="cli", now=utcnow()))
    click.echo(f"{identity.strip()} unbound from {code.strip().upper()}")


@staff.command("reassign")
@click.argument("code")
@click.option("--to", "to", required=True, help="The staff code who takes the orders over.")
@click.pass_context
def staff_reassign(ctx: click.Context, code: str, to: str) -> None:
    """Hand every order a sales member owns, and their open requests, to another member."""
    settings = settings_from(ctx)
    engine = build_engine(settings)
    n = run_with_db(settings, lambda: staffing.reassign(engine, code, to, actor="cli", source="cli"))
    click.echo(f"{n} order(s) handed from {code.strip().upper()} to {to.strip().upper()}")


# ---------------------------------------------------------------- API keys
@click.group()
def apikey() -> None:
    """API keys for the integration API (shown once, stored hashed)."""


@apikey.command("create")
@click.option("--name", required=True, help="Who uses it, e.g. erp.")
@click.option("--scope", "scopes", multiple=True, metavar="SCOPE",
              help=f"What it may do (repeat, or separate with commas): {', '.join(SCOPES)}. "
                   f"Default: {' '.join(DEFAULT_SCOPES)}.")
@click.pass_context
def apikey_create(ctx: click.Context, name: str, scopes: tuple[str, ...]) -> None:
    """Create a key; the key itself is printed alone on the last line."""
    try:
        granted = parse_scopes(scopes)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--scope") from None
    settings = settings_from(ctx)
    key = new_key()

    async def create() -> ApiKey:
        return await ApiKey.create(name=name.strip(), prefix=key[:10], key_hash=hash_key(key),
                                   scopes=" ".join(granted))

    row = run_with_db(settings, create)
    click.echo(f"API key #{row.id} {row.name!r} created with scopes {' '.join(granted)}; it is shown only now:")
    click.echo(key)


@apikey.command("list")
@click.pass_context
def apikey_list(ctx: click.Context) -> None:
    """List keys (their first characters only)."""
    settings = settings_from(ctx)
    rows = run_with_db(settings, lambda: ApiKey.all().order_by("id"))
    click.echo(table(
        ["id", "name", "key starts", "scopes", "created", "last used", "status"],
        [[k.id, k.name, k.prefix + "…", k.scopes, when(k.created_at, settings), when(k.last_used_at, settings),
          f"revoked {when(k.revoked_at, settings)}" if k.revoked_at else "active"] for k in rows],
    ) if rows else "no API keys yet: orderbot apikey create --name NAME")


@apikey.command("revoke")
@click.argument("key")
@click.pass_context
def apikey_revoke(ctx: click.Context, key: str) -> None:
    """Revoke KEY: its id, its name or the key itself. Takes effect within seconds everywhere."""
    settings = settings_from(ctx)

    async def revoke() -> ApiKey:
        active = ApiKey.filter(revoked_at__isnull=True)
        if key.isdigit():
            found = await active.filter(id=int(key))
        else:
            found = await active.filter(key_hash=hash_key(key)) or await active.filter(name=key)
        if not found:
            raise NotFound(f"no active API key {key!r}")
        if len(found) > 1:
            raise Conflict(f"{len(found)} active keys are named {key!r}; revoke by id: "
                           + ", ".join(str(k.id) for k in found))
        found[0].revoked_at = utcnow()
        await found[0].save()
        return found[0]

    row = run_with_db(settings, revoke)
    click.echo(f"revoked API key #{row.id} {row.name!r}")


# ---------------------------------------------------------------- orders
@click.group()
def order() -> None:
    """Look at orders."""


def _render(d: views.OrderDetail, settings) -> str:
    lines = [
        f"{d.order_no}  [{d.workflow}]  at {d.current_node_name.zh if d.current_node_name else ''} "
        f"{d.current_node} since {when(d.node_entered_at, settings)}"
        + ("  (over its SLA)" if d.node_overdue else ""),
        f"customer: {d.customer.name}  {d.customer.email or ''}  {d.customer.phone or ''}".rstrip(),
        f"promised: {d.promised_date or '-'}   ETA: {when(d.eta, settings)}" + ("   LATE" if d.late else ""),
        f"sales owner: {d.sales_owner or '-'}   amount: {d.amount if d.amount is not None else '-'} "
        f"{d.currency or ''}".rstrip(),
    ]
    if d.tracking_no:
        lines.append(f"shipment: {d.carrier or ''} {d.tracking_no}".strip())
    lines.append("timeline:")
    marks = {"done": "✓", "skipped": "–", "current": "▶", "pending": " "}
    for n in d.nodes:
        lines.append(f"  {marks[n.state]} {n.name.zh} {n.key:<12} {when(n.entered_at, settings)}"
                     if n.entered_at else f"  {marks[n.state]} {n.name.zh} {n.key}")
    lines.append("events:")
    for e in d.events:
        lines.append(f"  {when(e.at, settings)}  {e.kind:<7} {e.node:<12} {e.source}/{e.actor or '-'}"
                     f"  {e.event_id}" + (f"  “{e.note}”" if e.note else ""))
    if d.exceptions:
        lines.append("exceptions:")
        for x in d.exceptions:
            lines.append(f"  #{x.id} {x.kind} ({x.severity}) {x.status} at {x.node}, opened "
                         f"{when(x.opened_at, settings)}" + (f"  “{x.note}”" if x.note else ""))
    return "\n".join(lines)


@order.command("show")
@click.argument("order_no", metavar="ORDER")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead.")
@click.pass_context
def order_show(ctx: click.Context, order_no: str, as_json: bool) -> None:
    """Show ORDER: where it stands, its timeline, events and exceptions."""
    settings = settings_from(ctx)
    engine = build_engine(settings)

    async def show() -> views.OrderDetail:
        return await views.detail(engine, await engine.get_order(order_no))

    d = run_with_db(settings, show)
    click.echo(d.model_dump_json(indent=2) if as_json else _render(d, settings))


@order.command("link")
@click.argument("order_no", metavar="ORDER")
@click.option("--revoke", is_flag=True, help="End every progress link of ORDER instead (notices already sent stop working).")
@click.pass_context
def order_link(ctx: click.Context, order_no: str, revoke: bool) -> None:
    """Print a link to ORDER's progress page for its customer (/t/...), or --revoke them all."""
    settings = settings_from(ctx)
    engine = build_engine(settings)
    secret = settings.security.secret_key.get_secret_value()

    async def link() -> str | int:
        found = await engine.get_order(order_no)
        now = utcnow()
        if revoke:
            ended = await progress.revoke(found.id, now)
            await audit.acted("cli", "progress.revoke", f"order:{found.order_no}", None, {"revoked": ended})
            return ended
        token = await progress.link_for(secret, found.id, now, days=settings.web.progress_link_days, made_for="cli")
        return f"{console_url(settings)}/t/{token}"

    result = run_with_db(settings, link)
    if revoke:
        click.echo(f"revoked {result} progress link{'' if result == 1 else 's'} of {order_no}")
    else:
        click.echo(f"Works for {settings.web.progress_link_days} days; `orderbot order link {order_no} --revoke` "
                   f"ends it:", err=True)
        click.echo(result)


@click.command("event")
@click.argument("order_no", metavar="ORDER")
@click.argument("node")
@click.option("--note")
@click.option("--actor", default="cli", show_default=True)
@click.option("--event-id", help="Idempotency key (default: a new one).")
@click.option("--tracking-no", help="Courier tracking number.")
@click.option("--carrier")
@click.option("--rework", is_flag=True, help="Move the order back to NODE (needs --reason).")
@click.option("--reason", help="Why the order goes back.")
@click.pass_context
def event(ctx: click.Context, order_no: str, node: str, note: str | None, actor: str, event_id: str | None,
          tracking_no: str | None, carrier: str | None, rework: bool, reason: str | None) -> None:
    """Move ORDER to NODE, as the ERP would through the API."""
    settings = settings_from(ctx)
    engine = build_engine(settings)
    ev = EventIn(event_id=event_id or f"cli-{uuid.uuid4().hex[:16]}", node=node, actor=actor, note=note,
                 data=EventData(carrier=carrier, tracking_no=tracking_no), rework=rework, reason=reason)
    result = run_with_db(settings, lambda: engine.apply_event(order_no, ev, source="cli"))
    e = result.event
    verb = "already recorded" if result.replayed else "recorded"
    move = f"{e.node}: update" if e.kind == "update" else f"{e.from_node} → {e.node}"
    click.echo(f"{verb}: {engine.normalize(order_no)} {move} ({e.kind}, {e.event_id})")


def register(cli: click.Group) -> None:
    """Add the administration commands to the `orderbot` group."""
    for command in (staff, apikey, order, event):
        cli.add_command(command)
