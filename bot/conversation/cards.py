"""An order as a chat message, cut to what its audience may see.

The card says where the order stands, what comes next, when it should arrive and what
holds it up. Sensitive fields appear only when the view policy allows them for the
audience; commercial data is not even loaded otherwise. The card also says which fields
it showed, for the audit log.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.conversation.policy import Audience, fields_for
from bot.conversation.texts import person, t
from models.engine import ProgressEngine
from models.orders import Order, OrderCommercial, progress_facts
from models.people import staff_names
from models.workflows import Workflow

BASE_FIELDS = ("order_no", "status", "progress", "eta", "promised_date", "shipment", "exceptions")
STAFF = (Audience.SALES, Audience.OPERATOR, Audience.MANAGER, Audience.INTEGRATION)


@dataclass(frozen=True)
class Card:
    text: str
    fields: tuple[str, ...]


def when(dt: datetime, locale: str, tz: ZoneInfo) -> str:
    local = dt.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}" if locale.startswith("zh") else f"{local:%d %b %H:%M}"


def day(d: date, locale: str) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if locale.startswith("zh") else f"{d:%d %b %Y}"


def zone(name: str | None, default: ZoneInfo) -> ZoneInfo:
    """The reader's zone: their identity's when it names a real one, else the server's."""
    try:
        return ZoneInfo(name) if name else default
    except (ZoneInfoNotFoundError, ValueError):
        return default


@functools.cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def zone_named(text: str) -> str | None:
    """The IANA name ``text`` means (people type asia/shanghai too), or None."""
    return _zones().get(text.strip().lower())


def _short_day(d: date, locale: str, this_year: int, *, month: bool = True) -> str:
    """12月3日 / 3 Dec; the year only when it is not this one."""
    if locale.startswith("zh"):
        text = f"{d.month}月{d.day}日" if month else f"{d.day}日"
        return f"{d.year}年{text}" if d.year != this_year else text
    text = f"{d.day} {d:%b}" if month else str(d.day)
    return f"{text} {d.year}" if d.year != this_year else text


def eta_day(first: datetime, last: datetime | None, locale: str, tz: ZoneInfo, now: datetime) -> str:
    """An ETA as people plan with it: a day (预计 12月3日), or days when it is uncertain (12月3日–5日)."""
    start, end = first.astimezone(tz).date(), (last or first).astimezone(tz).date()
    year = now.astimezone(tz).year
    if end <= start:
        return _short_day(start, locale, year)
    same_month = (start.year, start.month) == (end.year, end.month)
    if locale.startswith("zh"):
        return f"{_short_day(start, locale, year)}–{_short_day(end, locale, year, month=not same_month)}"
    if same_month:
        return f"{start.day}–{_short_day(end, locale, year)}"
    return f"{_short_day(start, locale, year)} – {_short_day(end, locale, year)}"


def eta_window(engine: ProgressEngine, order: Order, *, held: bool = False) -> tuple[datetime, datetime] | None:
    """The days the order should arrive in: one, or a span as long as its current node once more
    (at least a day) when nobody can say when it moves on: held up, or over its node's time."""
    eta = engine.eta(order)
    if eta is None:
        return None
    if not (held or engine.node_overdue(order)):
        return eta, eta
    node = engine.current_node(order)
    return eta, eta + timedelta(hours=max(24, node.sla_hours if node else 24))


def _steps(wf: Workflow, current: str, entered: set[str], audience: Audience, locale: str) -> str:
    """✓ done → ▶ current → still to come; skipped nodes and what customers may not see left out."""
    here = wf.index(current)
    out = []
    for i, node in enumerate(wf.nodes):
        if audience in (Audience.CUSTOMER, Audience.GROUP) and not node.customer_visible:
            continue
        if i < here and node.key not in entered:
            continue  # skipped
        if i > max(here, wf.done_index):
            continue  # after-sales only once the order is there
        mark = "✓" if i < here else ("▶" if i == here else "")
        out.append(mark + node.name(locale))
    return " → ".join(out)


async def order_card(engine: ProgressEngine, order: Order, audience: Audience, locale: str,
                     tz: ZoneInfo | None = None) -> Card:
    """The card for ``order`` as ``audience`` may see it, in ``locale``, its times in the reader's ``tz``."""
    wf, tz = engine.workflow_of(order), tz or engine.tz
    shown = list(BASE_FIELDS)
    entered, held = await progress_facts(order.id)
    lines = [t("card.order", locale, order_no=order.order_no)]
    lines.append(t("card.now", locale, node=engine.node_name(order, locale),
                   since=when(order.node_entered_at, locale, tz)))
    window = eta_window(engine, order, held=bool(held))
    if window is not None:
        lines.append(t("card.eta", locale, eta=eta_day(*window, locale, tz, engine.clock())))
    if order.promised_date:
        lines.append(t("card.promised", locale, date=day(order.promised_date, locale)))
    if engine.is_late(order):
        lines.append(t("card.late", locale))
    lines.append(t("card.progress", locale, steps=_steps(wf, order.current_node, entered, audience, locale)))
    if order.tracking_no:
        lines.append(t("card.shipment", locale, carrier=order.carrier or "", tracking_no=order.tracking_no))
    if held:
        staff = audience in STAFF
        names = []
        for kind, note in held:
            zh, en = engine.workflows.exception_kinds.get(kind, (kind, kind))
            name = zh if locale.startswith("zh") else en
            names.append(f"{name}（{note}）" if staff and note and locale.startswith("zh")
                         else f"{name} ({note})" if staff and note else name)
        lines.append(t("card.held_up", locale, reasons="; ".join(names)))
    lines += await _staff_lines(order, audience, locale, shown)
    return Card("\n".join(lines), tuple(shown))


async def _staff_lines(order: Order, audience: Audience, locale: str, shown: list[str]) -> list[str]:
    """Owner, money, contact and address: each only where the policy allows it."""
    allowed = fields_for(audience)
    lines: list[str] = []
    if order.sales_owner and audience in STAFF:
        owner = person(order.sales_owner, await staff_names([order.sales_owner]), locale)
        lines.append(t("card.owner", locale, owner=owner))
    if allowed & {"amount", "cost", "profit", "supplier"}:
        money = await OrderCommercial.filter(order_id=order.id).first()
        if money and "amount" in allowed and money.amount is not None:
            lines.append(t("card.amount", locale, amount=f"{money.amount:,.2f}", currency=money.currency))
            shown += ["amount", "unit_prices"]
        if money and "cost" in allowed and money.cost is not None:
            profit = money.amount - money.cost if money.amount is not None else None
            lines.append(t("card.cost", locale, cost=f"{money.cost:,.2f}",
                           profit=f"{profit:,.2f}" if profit is not None else "-"))
            shown += ["cost", "profit"]
        if money and "supplier" in allowed and money.supplier:
            lines.append(t("card.supplier", locale, supplier=money.supplier))
            shown.append("supplier")
    if allowed & {"phone", "email"}:
        customer = await order.customer
        phone = customer.phone if "phone" in allowed else None
        email = customer.email if "email" in allowed else None
        lines.append(t("card.contact", locale, name=customer.name, phone=phone or "", email=email or "").rstrip())
        shown += [f for f, v in (("phone", phone), ("email", email)) if v]
    if "address" in allowed and order.ship_to:
        lines.append(t("card.ship_to", locale, address=order.ship_to))
        shown.append("address")
    return lines
