"""What channels keep in the database: platform access tokens and who may refresh them."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ChannelToken(Model):
    """A platform's access token (WeChat's), shared by every process."""

    name = fields.CharField(max_length=64, primary_key=True)
    value = fields.TextField()
    expires_at = fields.DatetimeField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "channel_tokens"


class Lease(Model):
    """A named job that one process at a time may do (refresh a token, scan for late orders)."""

    name = fields.CharField(max_length=64, primary_key=True)
    owner = fields.CharField(max_length=64, null=True)
    until = fields.DatetimeField(null=True)

    class Meta:
        table = "leases"


class MessageConsent(Model):
    """Sends a person allowed us on a channel: WeChat subscribe messages, one per consent given."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    address = fields.CharField(max_length=254)
    template_id = fields.CharField(max_length=128)
    remaining = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "message_consents"
        unique_together = (("channel", "address", "template_id"),)
