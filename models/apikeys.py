"""API keys for the integration API, kept only as a SHA-256 hash."""
from __future__ import annotations

import hashlib
import secrets

from tortoise import fields
from tortoise.models import Model

KEY_PREFIX = "ob_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh key: 256 random bits, URL-safe, recognisable by its prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKey(Model):
    """A bearer key an ERP or script uses, shown once at creation and then kept only as a hash."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=100)
    prefix = fields.CharField(max_length=16)
    key_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"
