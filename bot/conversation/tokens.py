"""Short signed tokens that bind a chat to a customer without a code (deep links, QR scenes).

A token carries the customer's id and an expiry day, signed with ``[security] secret_key``
(HMAC-SHA256, cut to 12 bytes): about 30 URL-safe characters, within Telegram's 64 for a
/start payload and WeChat's 64 for a QR scene.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from datetime import date, timedelta

VALID_DAYS = 30
_EPOCH = date(2020, 1, 1)
_SIG = 12


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), b"bind:" + body, hashlib.sha256).digest()[:_SIG]


def bind_token(secret: str, customer_id: int, today: date, days: int = VALID_DAYS) -> str:
    body = struct.pack(">QH", customer_id, (today - _EPOCH).days + days)
    return _b64(body + _sign(secret, body))


def read_bind_token(secret: str, token: str, today: date) -> int | None:
    """The customer id in a valid, unexpired token; None for anything else."""
    try:
        raw = _unb64(token.strip())
    except (ValueError, TypeError):
        return None
    if len(raw) != 10 + _SIG:
        return None
    body, sig = raw[:10], raw[10:]
    if not hmac.compare_digest(sig, _sign(secret, body)):
        return None
    customer_id, expires = struct.unpack(">QH", body)
    return customer_id if today <= _EPOCH + timedelta(days=expires) else None
