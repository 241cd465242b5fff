"""What customers ask of a person: expedite, change, after-sales, talk to a human."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class CustomerRequest(Model):
    """A customer's request, recorded against the order and handed to the person who owns it."""

    id = fields.BigIntField(primary_key=True)
    order = fields.ForeignKeyField("orderbot.Order", related_name="requests", on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=32)  # expedite, change_request, after_sales, human_agent
    text = fields.TextField()
    channel = fields.CharField(max_length=16)
    address = fields.CharField(max_length=254)  # where the customer can be answered
    assigned_to = fields.CharField(max_length=32, null=True)  # a staff code
    status = fields.CharField(max_length=16, default="open", db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    handled_at = fields.DatetimeField(null=True)
    handled_by = fields.CharField(max_length=128, null=True)

    class Meta:
        table = "customer_requests"
