"""View policies: who may look up which order, and which of its fields each audience sees.

One module for every channel, the API and the web pages, so that a field is never shown
by one and hidden by another. The sensitive fields are named here; everything else on a
card (the order number, where it stands, ETA, tracking) may be seen by anyone entitled to
the order. Fields that reveal each other are dropped together: unit prices give the
amount back, and amount with profit gives the cost.
"""
from __future__ import annotations

from enum import Enum

from models.people import Role, StaffMember


class Audience(str, Enum):
    CUSTOMER = "customer"  # a verified customer, about their own order
    GROUP = "group"  # anyone reading a group chat
    SALES = "sales"
    OPERATOR = "operator"  # warehouse, production, QC, logistics, finance...
    MANAGER = "manager"  # managers and admins
    INTEGRATION = "integration"  # an ERP with an API key


SENSITIVE = ("amount", "unit_prices", "cost", "profit", "supplier", "phone", "address", "email")
COMMERCIAL = frozenset({"amount", "unit_prices", "cost", "profit", "supplier"})
CONTACT = frozenset({"phone", "address", "email"})

# Each set goes as a whole: showing part of it would let the rest be worked out.
REVEAL_EACH_OTHER = (
    frozenset({"amount", "unit_prices"}),  # quantity x unit price = amount
    frozenset({"cost", "profit"}),  # amount - profit = cost
)

_ALLOWED: dict[Audience, frozenset[str]] = {
    Audience.CUSTOMER: frozenset(),  # anyone near the customer's phone may read the chat
    Audience.GROUP: frozenset(),
    Audience.SALES: frozenset({"amount", "unit_prices"}) | CONTACT,
    Audience.OPERATOR: CONTACT,  # the warehouse and logistics need the ship-to and a phone
    Audience.MANAGER: frozenset(SENSITIVE),
    Audience.INTEGRATION: frozenset(SENSITIVE),
}


def _closed(allowed: frozenset[str]) -> frozenset[str]:
    """Drop every set of fields that would be shown only in part."""
    out = set(allowed)
    for group in REVEAL_EACH_OTHER:
        if not group <= out:
            out -= group
    return frozenset(out)


FIELDS: dict[Audience, frozenset[str]] = {a: _closed(f) for a, f in _ALLOWED.items()}


def fields_for(audience: Audience) -> frozenset[str]:
    """The sensitive fields ``audience`` may see."""
    return FIELDS[audience]


def staff_audience(member: StaffMember) -> Audience:
    return {Role.ADMIN: Audience.MANAGER, Role.MANAGER: Audience.MANAGER, Role.SALES: Audience.SALES,
            Role.OPERATOR: Audience.OPERATOR}[member.role]


def audience(member: StaffMember | None, *, in_group: bool) -> Audience:
    """Who is reading: a group always gets the group view, whoever asked."""
    if in_group:
        return Audience.GROUP
    return staff_audience(member) if member else Audience.CUSTOMER


def staff_may_see(member: StaffMember, sales_owner: str | None) -> bool:
    """Sales see the orders they own; everyone else on the staff sees every order."""
    if member.role == Role.SALES:
        return sales_owner is not None and sales_owner.upper() == member.code.upper()
    return member.active


def staff_may_move(member: StaffMember, sales_owner: str | None, node_department: str | None) -> bool:
    """Who may advance an order to a node or flag it: managers any, sales their own orders,
    operators the nodes of their department (all nodes when they have none)."""
    if not member.active:
        return False
    if member.role in (Role.ADMIN, Role.MANAGER):
        return True
    if member.role == Role.SALES:
        return staff_may_see(member, sales_owner)
    return member.department is None or member.department == node_department
