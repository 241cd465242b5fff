"""Orders, their node events and exceptions.

Commercial data (amount, unit prices, cost, supplier) lives in its own table so that a
view without it never even loads it; phone and e-mail live on the customer, the ship-to
address on the order, and the view policies drop them by name.
"""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.people import Customer


class Order(Model):
    """One order and where it stands in its workflow."""

    id = fields.BigIntField(primary_key=True)
    order_no = fields.CharField(max_length=32, unique=True)
    workflow = fields.CharField(max_length=32)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "orderbot.Customer", related_name="orders", on_delete=fields.RESTRICT
    )
    sales_owner = fields.CharField(max_length=32, null=True, db_index=True)
    promised_date = fields.DateField(null=True, db_index=True)
    current_node = fields.CharField(max_length=32, db_index=True)
    node_entered_at = fields.DatetimeField()
    eta = fields.DatetimeField(null=True)  # as computed at the last change; readers recompute it
    ship_to = fields.TextField(null=True)
    items = fields.JSONField(default=list)
    carrier = fields.CharField(max_length=32, null=True)
    tracking_no = fields.CharField(max_length=64, null=True, db_index=True)
    fingerprint = fields.CharField(max_length=64)
    version = fields.IntField(default=1)
    placed_at = fields.DatetimeField()
    # The late conditions the notification scanner has dealt with: the promised date it told
    # of, and the node visit (its entry time) it told was over its SLA.
    late_noticed_for = fields.DateField(null=True)
    overdue_noticed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    commercial: fields.BackwardOneToOneRelation[OrderCommercial]
    events: fields.ReverseRelation[NodeEvent]
    exceptions: fields.ReverseRelation[OrderException]

    class Meta:
        table = "orders"


class OrderCommercial(Model):
    """Prices, cost and supplier of an order: only sales (amount) and managers see them."""

    id = fields.BigIntField(primary_key=True)
    order: fields.OneToOneRelation[Order] = fields.OneToOneField(
        "orderbot.Order", related_name="commercial", on_delete=fields.CASCADE
    )
    amount = fields.DecimalField(max_digits=18, decimal_places=2, null=True)
    currency = fields.CharField(max_length=3, default="CNY")
    unit_prices = fields.JSONField(null=True)
    cost = fields.DecimalField(max_digits=18, decimal_places=2, null=True)
    supplier = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "order_commercials"


class NodeEvent(Model):
    """An append-only record of an order entering (or re-entering) a node."""

    id = fields.BigIntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "orderbot.Order", related_name="events", on_delete=fields.CASCADE
    )
    event_id = fields.CharField(max_length=128)
    kind = fields.CharField(max_length=16)  # create, advance, rework, update
    node = fields.CharField(max_length=32)
    from_node = fields.CharField(max_length=32, null=True)
    skipped = fields.JSONField(default=list)
    at = fields.DatetimeField()
    actor = fields.CharField(max_length=128, null=True)
    source = fields.CharField(max_length=16)
    note = fields.TextField(null=True)
    data = fields.JSONField(default=dict)
    fingerprint = fields.CharField(max_length=64)
    recorded_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "node_events"
        unique_together = (("order", "event_id"),)


class OrderException(Model):
    """Something holding an order up: opened, acknowledged by a person, resolved."""

    id = fields.BigIntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "orderbot.Order", related_name="exceptions", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=32)
    severity = fields.CharField(max_length=16, default="normal")
    status = fields.CharField(max_length=16, default="open", db_index=True)
    node = fields.CharField(max_length=32)
    note = fields.TextField(null=True)
    source = fields.CharField(max_length=16)
    opened_by = fields.CharField(max_length=128, null=True)
    opened_at = fields.DatetimeField()
    acknowledged_by = fields.CharField(max_length=128, null=True)
    acknowledged_at = fields.DatetimeField(null=True)
    resolved_by = fields.CharField(max_length=128, null=True)
    resolved_at = fields.DatetimeField(null=True)
    resolution = fields.CharField(max_length=64, null=True)
    resolution_note = fields.TextField(null=True)
    escalation_level = fields.IntField(default=0)
    escalated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "order_exceptions"
