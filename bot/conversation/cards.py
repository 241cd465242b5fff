"""An order as a chat message, cut to what its audience may see.

The card says where the order stands, what comes next, when it should arrive and what
holds it up. Sensitive fields appear only when the view policy allows them for the
audience; commercial data is not even loaded otherwise. The card also says which fields
it showed, for the audit log.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.conversation.policy import Audience, fields_for
from bot.conversation.texts import t
from models.engine import ProgressEngine
from models.orders import Order, OrderCommercial, progress_facts
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


async def order_card(engine: ProgressEngine, order: Order, audience: Audience, locale: str) -> Card:
    """The card for ``order`` as ``audience`` may see it, in ``locale``."""
    wf, tz = engine.workflow_of(order), engine.tz
    shown = list(BASE_FIELDS)
    lines = [t("card.order", locale, order_no=order.order_no)]
    lines.append(t("card.now", locale, node=engine.node_name(order, locale),
                   since=when(order.node_entered_at, locale, tz)))
    eta = engine.eta(order)
    if eta is not None:
        lines.append(t("card.eta", locale, eta=when(eta, locale, tz)))
    if order.promised_date:
        lines.append(t("card.promised", locale, date=day(order.promised_date, locale)))
    if engine.is_late(order):
        lines.append(t("card.late", locale))
    entered, held = await progress_facts(order.id)
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
        lines.append(t("card.owner", locale, owner=order.sales_owner))
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
