"""An order's page, ``/console/orders/ORDER_NO``: where it stands and everything done to it.

What the page shows and allows comes from the same places the chat uses: the view policy
(``fields_for``, ``staff_may_see``, ``staff_may_move``), the cards' ETA helpers, the
engine's own rules of moving (``ProgressEngine.moves`` and ``apply_event``), its refusals
worded by ``texts.refusal``. A sales member asking for another's order gets the same 404
as for a missing one. Viewing writes an audit row; every change goes through the engine
and is written to the action log as well.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from bot.console import order_words  # noqa: F401  (the page's words)
from bot.console.common import actor, console, lang, not_found, now, plain, render, staff_action, staff_page
from bot.console.today import kind_name
from bot.console.words import WORDS, word
from bot.conversation.cards import day, eta_day, eta_window
from bot.conversation.durations import span
from bot.conversation.policy import COMMERCIAL, fields_for, staff_audience, staff_may_move, staff_may_see
from bot.conversation.texts import refusal
from models import audit, orderdesk
from models.errors import EngineError, field_path
from models.inputs import AckIn, EventIn, OrderPatch, ResolveIn
from models.orders import EventRecord, Order, OrderException
from models.people import Role, StaffMember

MAX_ORDER_NO = 64
DONE = ("advanced", "reworked", "updated", "saved")


@dataclass
class Step:
    """One node of the timeline."""

    key: str
    name: str
    state: str  # done, current, ahead, skipped
    sla_hours: float
    entered: EventRecord | None = None
    notes: list[EventRecord] = field(default_factory=list)


def said(key: str, language: str, fallback: str) -> str:
    """A word of the registry when it has ``key``, else ``fallback`` (a code nobody named)."""
    return word(key, language) if key in WORDS else fallback


async def _order(request: web.Request) -> Order | None:
    """The order of the path, if this member may see it (else None: the same 404 either way)."""
    raw = request.match_info["order_no"]
    if len(raw) > MAX_ORDER_NO or not raw.isprintable():
        return None
    engine = console(request).engine
    try:
        order = await engine.get_order(raw)
    except EngineError:
        return None
    return order if staff_may_see(request["staff"], order.sales_owner) else None


def _steps(engine, order: Order, events: list[EventRecord], language: str) -> list[Step]:
    wf = engine.workflows.get(order.workflow)
    if wf is None or not wf.has(order.current_node):
        return []
    entered: dict[str, EventRecord] = {}
    notes: dict[str, list[EventRecord]] = defaultdict(list)
    for e in events:
        if e.kind == "update":
            if e.note:
                notes[e.node].append(e)
        else:
            entered[e.node] = e
    here, out = wf.index(order.current_node), []
    for i, node in enumerate(wf.nodes):
        if i > max(here, wf.done_index):
            continue  # after-sales only once the order is there
        state = "current" if i == here else "ahead" if i > here else "done" if node.key in entered else "skipped"
        out.append(Step(node.key, node.name(language), state, node.sla_hours,
                        entered.get(node.key) if state in ("done", "current") else None,
                        notes.get(node.key, []) if state in ("done", "current") else []))
    return out


def _may_edit(member: StaffMember, order: Order) -> bool:
    return member.role in (Role.ADMIN, Role.MANAGER) or (member.role == Role.SALES and
                                                         staff_may_move(member, order.sales_owner, None))


def _manager(member: StaffMember) -> bool:
    return member.role in (Role.ADMIN, Role.MANAGER)


def _shown(value: Any) -> Any:
    """A value of the change history (JSON text) as it was."""
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


async def _view(request: web.Request, order: Order, *, flash: str | None = None, error: str | None = None,
                edit_error: str | None = None, editing: bool = False, record: bool = True) -> dict[str, Any]:
    """What the page (or one of its fragments) is filled with; records that it was shown (``record``)."""
    c, member, language = console(request), request["staff"], lang(request)
    engine, at = c.engine, now(request)
    allowed = fields_for(staff_audience(member))
    shown = ["order_no", "status", "progress", "eta", "promised_date", "exceptions", "history"]
    shown += [f for f in ("phone", "email", "address") if f in allowed]
    shown += sorted(allowed & COMMERCIAL)
    if record:
        await audit.shown("console", None, order.order_no, shown, actor_kind="staff", actor_id=member.code,
                          verified_by="staff")
    file = await orderdesk.order_file(order, commercial=bool(allowed & COMMERCIAL))
    wf = engine.workflows.get(order.workflow)
    open_exc = [x for x in file.exceptions if x.status != "resolved"]
    window = eta_window(engine, order, held=bool(open_exc))
    current = engine.current_node(order)
    forward, back = engine.moves(order)
    movable, onward = bool(forward or back), bool(forward)
    forward = [n for n in forward if staff_may_move(member, order.sales_owner, n.department)]
    may_rework = staff_may_move(member, order.sales_owner, current.department if current else None)
    here = wf.index(order.current_node) if wf is not None and wf.has(order.current_node) else -1
    names = file.names

    def who(code: str | None) -> str:
        if not code:
            return word("order.step.nobody", language)
        name = names.get(code.strip().upper())
        return f"{name}（{code}）" if name and language == "zh" else f"{name} ({code})" if name else code

    def local(dt: datetime | None) -> str:
        if dt is None:
            return ""
        d = dt.astimezone(c.tz)
        this_year = at.astimezone(c.tz).year
        return d.strftime("%m-%d %H:%M") if d.year == this_year else d.strftime("%Y-%m-%d %H:%M")

    money = file.commercial
    profit = money.amount - money.cost if money and money.amount is not None and money.cost is not None else None
    delivered = wf is not None and here >= wf.done_index
    return {
        "o": order, "file": file, "wf": wf, "language": language,
        "steps": _steps(engine, order, file.events, language),
        "current": current, "node_name": lambda key: engine.node_name(order, language, key),
        "age": lambda dt: span(at - dt, language), "local": local, "who": who,
        "eta": eta_day(*window, language, c.tz, at) if window else None,
        "promised": day(order.promised_date, language) if order.promised_date else None,
        "late": engine.is_late(order), "over_sla": engine.node_overdue(order) and not delivered,
        "delivered": delivered,
        "open_exc": open_exc, "closed_exc": [x for x in file.exceptions if x.status == "resolved"],
        "next": forward[0] if forward and here >= 0 and wf.index(forward[0].key) == here + 1 else None,
        "skips": [n for n in forward if here < 0 or wf.index(n.key) != here + 1],
        "back": back if may_rework else [], "may_move": bool(forward) or (may_rework and bool(back)), "movable": movable, "onward": onward,
        "event_id": f"console-{uuid.uuid4().hex}",
        "may_ack": True, "may_resolve": may_rework,
        "may_edit": _may_edit(member, order), "may_edit_owner": _manager(member),
        "owners": await orderdesk.owners() if _manager(member) else [],
        "allowed": allowed, "money": money, "profit": profit,
        "kind_name": lambda k: kind_name(engine.workflows, k, language),
        "said": lambda key, fallback: said(key, language, fallback),
        "value": _shown, "flash": flash, "error": error, "edit_error": edit_error, "editing": editing,
    }


def _flash(request: web.Request, order: Order) -> str | None:
    done = request.query.get("done")
    if done not in DONE:
        return None
    engine = console(request).engine
    node = request.query.get("node", "")[:32]
    return word(f"order.done.{done}", lang(request), node=engine.node_name(order, lang(request), node or None))


@staff_page
async def page(request: web.Request) -> web.StreamResponse:
    order = await _order(request)
    if order is None:
        return not_found(request)
    return render(request, "order.html", await _view(request, order, flash=_flash(request, order)))


def _back(order: Order, **query: str) -> web.HTTPSeeOther:
    tail = "&".join(f"{k}={v}" for k, v in query.items())
    return web.HTTPSeeOther(f"/console/orders/{order.order_no}" + (f"?{tail}" if tail else ""))


def _text(form, name: str, longest: int) -> str | None:
    raw = form.get(name)
    if not isinstance(raw, str):
        return None
    return raw.strip()[:longest] or None


async def _refused(request: web.Request, order: Order, e: EngineError, status: int = 422) -> web.Response:
    wf = console(request).engine.workflows.get(order.workflow)
    text = word("order.refused", lang(request), reason=refusal(e, lang(request), wf))
    return render(request, "order.html", await _view(request, order, error=text), status=status)


async def _move(request: web.Request, *, rework: bool) -> web.StreamResponse:
    """Advance (or skip) the order, or send it back with a reason: one event through the engine."""
    order = await _order(request)
    if order is None:
        return not_found(request)
    engine, member = console(request).engine, request["staff"]
    form = await request.post()
    node_key = _text(form, "node", 32) or ""
    event_id = _text(form, "event_id", 100) or f"console-{uuid.uuid4().hex}"
    wf = engine.workflows.get(order.workflow)
    node = wf.find(node_key) if wf else None
    target = node if node is not None and not rework else engine.current_node(order)
    if not staff_may_move(member, order.sales_owner, target.department if target else None):
        return plain(request, "forbidden", "order.not_yours", 403)
    try:
        ev = EventIn(event_id=event_id, node=node.key if node else (node_key or "?"), actor=member.code,
                     note=None if rework else _text(form, "note", 2000),
                     rework=rework, reason=_text(form, "reason", 500) if rework else None)
        before = order.current_node
        result = await engine.apply_event(order.order_no, ev, source="console")
    except EngineError as e:
        return await _refused(request, order, e)
    except ValidationError:
        return plain(request, "forbidden", "bad_request", 400)
    e = result.event
    if not result.replayed:
        await audit.acted(actor(request), f"order.{e.kind}", f"order:{order.order_no}", {"node": before},
                          {"node": e.node, "note": e.note}, at=now(request))
    done = {"advance": "advanced", "rework": "reworked", "update": "updated"}[e.kind]
    return _back(order, done=done, node=e.node)


@staff_action
async def advance(request: web.Request) -> web.StreamResponse:
    return await _move(request, rework=False)


@staff_action
async def rework(request: web.Request) -> web.StreamResponse:
    return await _move(request, rework=True)


def _exception_id(request: web.Request) -> int | None:
    raw = request.match_info["exception_id"]
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


async def _close(request: web.Request, *, resolve: bool) -> web.StreamResponse:
    """Acknowledge or resolve one exception; an htmx post gets that exception's fragment back."""
    order = await _order(request)
    exc_id = _exception_id(request)
    exc = await orderdesk.exception_of(order, exc_id) if order is not None and exc_id is not None else None
    if order is None or exc is None:
        return not_found(request)
    engine, member = console(request).engine, request["staff"]
    current = engine.current_node(order)
    if resolve and not staff_may_move(member, order.sales_owner, current.department if current else None):
        return plain(request, "forbidden", "order.not_yours", 403)
    before = exc.status
    form = await request.post()
    if resolve:
        exc = await engine.resolve_exception(order.order_no, exc.id, ResolveIn(
            actor=member.code, note=_text(form, "note", 2000)), source="console")
    else:
        exc = await engine.acknowledge_exception(order.order_no, exc.id, AckIn(actor=member.code), source="console")
    if exc.status != before:
        await audit.acted(actor(request), "exception.resolve" if resolve else "exception.acknowledge",
                          f"order:{order.order_no}", {"exception": exc.id, "status": before},
                          {"exception": exc.id, "status": exc.status}, at=now(request))
    if not request.headers.get("HX-Request"):
        return _back(order)
    view = await _view(request, order, record=False)
    return render(request, "order_exception.html", {**view, "x": exc})


@staff_action
async def acknowledge(request: web.Request) -> web.StreamResponse:
    return await _close(request, resolve=False)


@staff_action
async def resolve(request: web.Request) -> web.StreamResponse:
    return await _close(request, resolve=True)


def _snapshot(order: Order, customer) -> dict[str, Any]:
    return {"promised_date": order.promised_date, "sales_owner": order.sales_owner, "customer.name": customer.name,
            "customer.phone": customer.phone, "customer.email": customer.email, "ship_to": order.ship_to}


def _patch(form, member: StaffMember, allowed: frozenset[str]) -> dict[str, Any]:
    """The form as an OrderPatch body: only the fields this member may change."""
    body: dict[str, Any] = {"promised_date": _text(form, "promised_date", 10), "customer": {}}
    if _manager(member) and "sales_owner" in form:
        body["sales_owner"] = _text(form, "sales_owner", 32)
    body["customer"]["name"] = _text(form, "customer_name", 200)
    for name, policy in (("phone", "phone"), ("email", "email")):
        if policy in allowed:
            body["customer"][name] = _text(form, f"customer_{name}", 254)
    if "address" in allowed:
        body["ship_to"] = _text(form, "ship_to", 1000)
    body["apply_to_customer"] = form.get("apply_to_customer") == "1"
    return body


async def _edit_failed(request: web.Request, order: Order, message: str) -> web.Response:
    view = await _view(request, order, edit_error=message, editing=True)
    if request.headers.get("HX-Request"):
        return render(request, "order_details.html", view)  # htmx swaps only 2xx answers
    return render(request, "order.html", view, status=400)


@staff_action
async def edit(request: web.Request) -> web.StreamResponse:
    """Promised date, owner, contact and ship-to, through the engine's update (the API's PATCH)."""
    order = await _order(request)
    if order is None:
        return not_found(request)
    member, language = request["staff"], lang(request)
    if not _may_edit(member, order):
        return plain(request, "forbidden", "forbidden.role", 403)
    engine = console(request).engine
    allowed = fields_for(staff_audience(member))
    body = _patch(await request.post(), member, allowed)
    try:
        patch = OrderPatch.model_validate(body)
    except ValidationError as e:
        where = field_path(e.errors()[0]["loc"])
        label = said(f"field.{where}", language, where)
        return await _edit_failed(request, order, word("order.bad_field", language, field=label))
    if patch.sales_owner and await orderdesk.active_member(patch.sales_owner) is None:
        return await _edit_failed(request, order, word("order.no_such_owner", language, code=patch.sales_owner))
    if patch.sales_owner:
        patch = patch.model_copy(update={"sales_owner": patch.sales_owner.strip().upper()})
    before = _snapshot(order, await order.customer)
    try:
        changed = await engine.update_order(order.order_no, patch, source="console", actor=member.code)
    except EngineError as e:
        return await _edit_failed(request, order, refusal(e, language))
    after = _snapshot(changed, await changed.customer)
    diff = {k for k in before if before[k] != after[k]}
    if diff:
        await audit.acted(actor(request), "order.edit", f"order:{order.order_no}", {k: before[k] for k in diff},
                          {k: after[k] for k in diff}, at=now(request))
    target = f"/console/orders/{order.order_no}?done=saved"
    if request.headers.get("HX-Request"):
        return web.Response(status=204, headers={"HX-Redirect": target})
    return web.HTTPSeeOther(target)


def routes() -> list[web.RouteDef]:
    base = "/console/orders/{order_no}"
    return [web.get(base, page), web.post(base + "/advance", advance), web.post(base + "/rework", rework),
            web.post(base + "/exceptions/{exception_id}/ack", acknowledge),
            web.post(base + "/exceptions/{exception_id}/resolve", resolve), web.post(base + "/edit", edit)]

