"""Customers, staff members and the chat identities that point at them."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.errors import Conflict
from models.sql import current, insert_rows


class Role(str, Enum):
    """What a staff member may see and do; owner roles of workflow nodes use the same names."""

    ADMIN = "admin"
    MANAGER = "manager"
    SALES = "sales"
    OPERATOR = "operator"


class Customer(Model):
    """A buyer. Orders with the same contact e-mail belong to the same customer."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, null=True, db_index=True)
    phone = fields.CharField(max_length=40, null=True)
    locale = fields.CharField(max_length=10, default="zh")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "customers"


class StaffMember(Model):
    """A person of the company: sales, operators (warehouse, production, QC...), managers, admins."""

    id = fields.BigIntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=100)
    role = fields.CharEnumField(Role, max_length=16)
    department = fields.CharField(max_length=64, null=True)
    email = fields.CharField(max_length=254, null=True)
    locale = fields.CharField(max_length=10, default="zh")
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "staff_members"


class Identity(Model):
    """One account on one channel (a Telegram user, a WeChat openid, an e-mail address).

    It points at a customer (once bound) or a staff member, or at nobody yet.
    """

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    external_id = fields.CharField(max_length=254)
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "orderbot.Customer", related_name="identities", null=True, on_delete=fields.CASCADE
    )
    staff: fields.ForeignKeyNullableRelation[StaffMember] = fields.ForeignKeyField(
        "orderbot.StaffMember", related_name="identities", null=True, on_delete=fields.CASCADE
    )
    locale = fields.CharField(max_length=10, null=True)
    timezone = fields.CharField(max_length=64, null=True)
    last_inbound_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "identities"
        unique_together = (("channel", "external_id"),)


async def staff_names(codes: Iterable[str | None]) -> dict[str, str]:
    """The names of the staff members with these codes (as orders' ``sales_owner`` holds them), by code
    in upper case; codes nobody has are left out."""
    wanted = {c.strip().upper() for c in codes if c and c.strip()}
    if not wanted:
        return {}
    return dict(await StaffMember.filter(code__in=sorted(wanted)).values_list("code", "name"))


ROLE_PREFIX = {"admin": "A", "manager": "M", "sales": "S", "operator": "O"}


async def _next_code(role: str) -> str:
    prefix = ROLE_PREFIX[role]
    n = await StaffMember.filter(code__startswith=prefix).count() + 1
    while await StaffMember.filter(code=f"{prefix}{n:03d}").exists():
        n += 1
    return f"{prefix}{n:03d}"


async def add_staff(name: str, role: str, code: str | None, department: str | None,
                    identities: dict[str, str], email: str | None) -> StaffMember:
    """Create a staff member and bind their chat identities, all or nothing."""
    async with in_transaction():
        code = (code or await _next_code(role)).strip().upper()
        if await StaffMember.filter(code=code).exists():
            raise Conflict(f"staff code {code} is taken")
        member = await StaffMember.create(code=code, name=name, role=Role(role), department=department,
                                          email=email)
        for channel, external_id in identities.items():
            ident = await Identity.filter(channel=channel, external_id=external_id).first()
            if ident and (ident.staff_id or ident.customer_id):
                raise Conflict(f"{channel}:{external_id} already belongs to someone else")
            if ident:
                ident.staff = member
                await ident.save()
            else:
                await Identity.create(channel=channel, external_id=external_id, staff=member)
        return member


async def customers_for(contacts: Sequence[Any]) -> list[int]:
    """The customer id of each contact (``models.inputs.CustomerIn``), created where none is stored:
    the same e-mail is the same customer, else the same phone among customers without an e-mail;
    a contact with neither is a customer of its own. A few statements for any number of contacts."""
    keys = [("email", c.email.lower()) if c.email else ("phone", c.phone) if c.phone else None for c in contacts]
    emails = sorted({k[1] for k in keys if k and k[0] == "email"})
    phones = sorted({k[1] for k in keys if k and k[0] == "phone"})
    known: dict[tuple[str, str], int] = {}
    for start in range(0, len(emails), 500):
        for cid, email in await Customer.filter(email__in=emails[start:start + 500]).order_by("-id") \
                .values_list("id", "email"):
            known[("email", email)] = cid  # the lowest id wins, as one at a time finds it
    for start in range(0, len(phones), 500):
        for cid, phone in await Customer.filter(phone__in=phones[start:start + 500], email__isnull=True) \
                .order_by("-id").values_list("id", "phone"):
            known[("phone", phone)] = cid
    now = datetime.now(timezone.utc)
    fresh: dict[Any, int] = {}  # a new customer's key (or index, without one) -> its row among the new
    rows = []
    for i, (c, key) in enumerate(zip(contacts, keys)):
        if key in known or (key is not None and key in fresh):
            continue
        fresh[key if key is not None else i] = len(rows)
        rows.append((c.name, c.email.lower() if c.email else None, c.phone, c.locale, now))
    ids = [r["id"] for r in await insert_rows(current(), "customers", ("name", "email", "phone", "locale",
                                                                        "created_at"), rows, tail="RETURNING id")]
    if len(ids) != len(rows):
        raise RuntimeError("customers inserted and ids returned differ")  # cannot happen: no conflict clause
    ids.sort()  # ids rise in the order the rows were given, in one statement as across several
    return [known[key] if key in known else ids[fresh[key if key is not None else i]]
            for i, key in enumerate(keys)]
