"""API keys for the integration API, kept only as a SHA-256 hash."""
from __future__ import annotations

import hashlib
import secrets

from tortoise import fields
from tortoise.models import Model

KEY_PREFIX = "ob_"

# What a key may do. ``admin`` is every scope; keys made before scopes existed have it.
SCOPES = {
    "orders:read": "read orders (without cost, profit, supplier and amounts)",
    "orders:write": "create orders and change them",
    "events:write": "record node events and open, acknowledge and resolve exceptions",
    "money:read": "see amount, unit prices, cost, profit and supplier in what the API answers",
    "webhooks:admin": "manage outgoing webhooks",
    "admin": "everything",
}
DEFAULT_SCOPES = ("orders:read", "orders:write", "events:write")  # an ERP's daily work, without money


def parse_scopes(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Scopes as given (repeated or comma-separated), checked; ValueError names the unknown ones."""
    wanted = [s.strip() for v in values for s in v.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope {', '.join(unknown)}; the scopes are {', '.join(SCOPES)}")
    return tuple(dict.fromkeys(wanted)) or DEFAULT_SCOPES


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
    scopes = fields.CharField(max_length=200, default="admin", db_default="admin")  # space-separated SCOPES
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"


async def create(name: str, scopes: tuple[str, ...]) -> tuple[str, ApiKey]:
    """A new key with these scopes: (the key, shown only now; its row)."""
    key = new_key()
    row = await ApiKey.create(name=name.strip(), prefix=key[:10], key_hash=hash_key(key), scopes=" ".join(scopes))
    return key, row


async def listed() -> list[ApiKey]:
    return await ApiKey.all().order_by("-id")


async def revoke(key_id: int, now) -> ApiKey | None:
    """Revoke one active key by id; None when there is none such."""
    row = await ApiKey.filter(id=key_id, revoked_at__isnull=True).first()
    if row is not None:
        row.revoked_at = now
        await row.save()
    return row
