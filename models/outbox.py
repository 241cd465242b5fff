"""The notification outbox: one row per (event, recipient), written with the change itself."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Outbox(Model):
    """A message owed to one recipient, and what became of it (sent, retry at, failed why).

    ``recipient`` is a person (``customer:ID``, ``staff:ID``) or, for a chat that is no
    person's own (a group that subscribed), the target itself (``telegram:-100…``). The
    row is unique on (event, recipient), so a person hears of an event once whichever of
    their channels carries it. ``channel``/``address`` are where it was meant to go first,
    ``sent_via`` where it went (the dispatcher falls back to the person's other channels).
    Status: pending, sending (claimed, with a lease), sent, failed (after the last retry,
    or refused for good), undeliverable (no channel could reach the person).
    """

    id = fields.BigIntField(primary_key=True)
    event_key = fields.CharField(max_length=200)
    recipient = fields.CharField(max_length=280, default="")
    audience = fields.CharField(max_length=16, default="staff")
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
    sent_via = fields.CharField(max_length=280, null=True)
    digest_of = fields.BigIntField(null=True)  # sent inside the digest message of that row

    class Meta:
        table = "outbox"
        unique_together = (("event_key", "recipient"),)
        indexes = (("status", "next_attempt_at"), ("recipient", "order_no", "status"))
