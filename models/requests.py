"""What customers ask of a person: expedite, change, after-sales, talk to a human."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.messages import Target
from models.orders import Order
from models.outbox import enqueue
from models.people import StaffMember
from models.recipients import staff_recipient
from models.sql import transaction


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


async def record(order: Order, kind: str, text: str, reply_to: Target, owner: StaffMember | None) -> CustomerRequest:
    """Record a customer's request against ``order`` and, in the same transaction, the notice
    that hands it to ``owner`` (who answers for the order)."""
    recipient = await staff_recipient(owner) if owner is not None else None
    customer = await order.customer
    async with transaction():
        req = await CustomerRequest.create(order=order, kind=kind, text=text, channel=reply_to.channel,
                                           address=reply_to.address, assigned_to=owner.code if owner else None)
        if owner is not None:
            await enqueue(f"request:{req.id}", "customer_request", [recipient],
                          {"order_no": order.order_no, "request_id": req.id, "kind": kind, "text": text,
                           "customer": customer.name}, order_no=order.order_no)
    return req
