"""The audit log: every order shown to anyone, append-only."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class AuditLog(Model):
    """Who saw which order, which fields, on which channel, verified how, and when."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    actor_kind = fields.CharField(max_length=16)  # customer, staff, api, anonymous
    actor_id = fields.CharField(max_length=254)
    order_no = fields.CharField(max_length=32, db_index=True)
    fields_shown = fields.JSONField(default=list)
    channel = fields.CharField(max_length=16)
    verified_by = fields.CharField(max_length=32)  # code, deep_link, mail_from, staff, api_key
    chat_id = fields.CharField(max_length=254, null=True)

    class Meta:
        table = "audit_log"
