"""The dev mailbox: where mail goes when no SMTP server is configured (the demo)."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class DevMail(Model):
    """A mail that would have been sent, kept for `orderbot mailbox` to show."""

    id = fields.BigIntField(primary_key=True)
    to_address = fields.CharField(max_length=254, db_index=True)
    from_address = fields.CharField(max_length=254)
    subject = fields.CharField(max_length=300)
    text = fields.TextField()
    headers = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "dev_mailbox"
