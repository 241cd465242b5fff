"""Order numbers as people type them, made into the one form the database keeps.

``ｓｏ-2026 1121-0388`` → ``SO202611210388``: full-width characters become ASCII (NFKC),
letters upper case, and spaces, dashes, underscores, dots and slashes between the parts go.
"""
from __future__ import annotations

import re
import unicodedata

# Separators people put inside a number: spaces of every width, dashes of every kind.
_SEPARATORS = re.compile(r"[\s\-_./\\\u2010-\u2015\u2212\u30fc\uff70·]+")


def normalize_order_no(raw: str) -> str:
    """The canonical form of an order or tracking number (it may still be invalid)."""
    text = unicodedata.normalize("NFKC", raw or "")
    return _SEPARATORS.sub("", text).upper()


class OrderNumberPolicy:
    """Normalises and checks numbers against ``[orders] number_pattern``."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)

    def normalize(self, raw: str) -> str:
        return normalize_order_no(raw)

    def is_valid(self, normalized: str) -> bool:
        return bool(self.pattern.fullmatch(normalized))
