"""The notification outbox: one row per (event, recipient), written with the change itself."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Outbox(Model):
    """A message owed to one recipient, and what became of it (sent, retry at, failed why)."""

    id = fields.BigIntField(primary_key=True)
    event_key = fields.CharField(max_length=200)
    channel = fields.CharField(max_length=16)
    address = fields.CharField(max_length=254)
    kind = fields.CharField(max_length=32)
    order_no = fields.CharField(max_length=32, null=True, db_index=True)
    payload = fields.JSONField(default=dict)
    locale = fields.CharField(max_length=10, default="zh")
    status = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox"
        unique_together = (("event_key", "channel", "address"),)
        indexes = (("status", "next_attempt_at"),)
