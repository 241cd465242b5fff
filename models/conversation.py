"""What the conversation keeps between messages: state, codes, subscriptions, dedupe."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ConversationState(Model):
    """One chat's state, with a lease that serialises its messages across processes."""

    session_key = fields.CharField(max_length=254, primary_key=True)
    data = fields.JSONField(default=dict)
    locked_until = fields.DatetimeField(null=True)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)
    version = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "conversation_states"


class Challenge(Model):
    """A pending one-time code: stored hashed, valid for a while, a few tries."""

    id = fields.BigIntField(primary_key=True)
    session_key = fields.CharField(max_length=254, db_index=True)
    order = fields.ForeignKeyField("orderbot.Order", related_name="challenges", null=True,
                                   on_delete=fields.CASCADE)
    customer = fields.ForeignKeyField("orderbot.Customer", related_name="challenges", null=True,
                                      on_delete=fields.CASCADE)
    code_hash = fields.CharField(max_length=128)
    attempts = fields.IntField(default=0)
    expires_at = fields.DatetimeField()
    consumed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "challenges"


class Subscription(Model):
    """Who hears about what: a Target (channel + address) and a scope.

    Scopes: ``order`` (one order), ``customer`` (all of a customer's orders),
    ``exceptions`` (optionally of one department or node), ``all`` (managers).
    ``scope_key`` spells the scope out so that the same subscription exists once.
    """

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    address = fields.CharField(max_length=254)
    scope = fields.CharField(max_length=16)
    scope_key = fields.CharField(max_length=128)
    order = fields.ForeignKeyField("orderbot.Order", related_name="subscriptions", null=True,
                                   on_delete=fields.CASCADE)
    customer = fields.ForeignKeyField("orderbot.Customer", related_name="subscriptions", null=True,
                                      on_delete=fields.CASCADE)
    staff = fields.ForeignKeyField("orderbot.StaffMember", related_name="subscriptions", null=True,
                                   on_delete=fields.CASCADE)
    department = fields.CharField(max_length=64, null=True)
    node = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "subscriptions"
        unique_together = (("channel", "address", "scope_key"),)


class InboundDedupe(Model):
    """A channel message already taken in (platforms retry, we answer once)."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    message_key = fields.CharField(max_length=254)
    received_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "inbound_dedupe"
        unique_together = (("channel", "message_key"),)


class RateCounter(Model):
    """Hits of one rate-limit key in one time window, shared by every process."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=254)
    window_start = fields.BigIntField()  # unix seconds of the window's start
    count = fields.IntField(default=0)

    class Meta:
        table = "rate_counters"
        unique_together = (("key", "window_start"),)
