"""A ledger's cells as values: text as people typed it (full-width folded), days, phone numbers, money."""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 (it counts a 29 February 1900 that never was)
_DAY = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})\s*[月/.-]\s*(\d{1,2})\s*日?$")
_PHONE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")


class BadValue(ValueError):
    """A cell that cannot be what its column says; the message says why, for the report."""


def text(value: object) -> str:
    """A cell as text: full-width letters and digits folded (ＳＯ１２ → SO12), spaces trimmed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 13812345678.0, the way spreadsheets store a phone number
    return unicodedata.normalize("NFKC", str(value)).strip()


def day(value: object, today: date, *, past: bool = False) -> date | None:
    """2026/12/1, 2026-12-01, 2026.12.1, 2026年12月1日, 12月1日 (the year nearest ``today``; with ``past``,
    the last such day up to tomorrow: something that happened), an Excel serial number or a
    datetime cell; None for an empty cell."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20000 < value < 80000:  # 1954 to 2119 as Excel serials
            return EXCEL_EPOCH + timedelta(days=int(value))
        raise BadValue("not a date")
    raw = text(value)
    if not raw:
        return None
    try:
        if m := _DAY.match(raw):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _MONTH_DAY.match(raw):
            month, d = int(m[1]), int(m[2])
            # No year written: the one that puts the day nearest today (a ledger of this season).
            choices = [date(today.year + k, month, d) for k in (-1, 0, 1)]
            if past:
                return max(c for c in choices if c <= today + timedelta(days=1))
            return min(choices, key=lambda c: abs((c - today).days))
        if raw.replace(".", "", 1).isdigit():
            return day(float(raw), today, past=past)
    except ValueError:
        raise BadValue("not a date that exists") from None
    raise BadValue("not a date (write 2026-12-01, 2026/12/1 or 12月1日)")


def phone(value: object) -> str | None:
    """A mainland mobile number as 11 digits (stored as a number, spaced, with +86), else the digits as written."""
    raw = text(value)
    if not raw:
        return None
    digits = re.sub(r"[\s\-()（）]", "", raw)
    if m := _PHONE.match(digits):
        return m[1]
    if re.fullmatch(r"\+?[\d]{6,20}", digits):
        return digits  # a landline or foreign number, kept as written without its spacing
    raise BadValue("not a phone number")


def money(value: object) -> Decimal | None:
    raw = text(value).replace(",", "").replace("¥", "").replace("￥", "").replace("元", "").strip()
    if not raw:
        return None
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise BadValue("not an amount") from None
    if amount < 0:
        raise BadValue("below zero")
    return amount.quantize(Decimal("0.01"))
