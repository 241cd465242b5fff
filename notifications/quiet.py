"""Quiet hours: when a customer's notice waits for the morning.

``"22:00-08:00"`` is the night, in the person's own time zone (else the server's); a window
may also lie within one day (``"12:00-13:30"``); ``""`` means never quiet.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def window(spec: str) -> tuple[time, time] | None:
    if not spec:
        return None
    start, end = (time.fromisoformat(part) for part in spec.split("-", 1))
    return (start, end) if start != end else None


def zone(name: str | None, default: ZoneInfo) -> ZoneInfo:
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


def quiet_until(now: datetime, spec: str, tz: ZoneInfo) -> datetime | None:
    """The end of the quiet period ``now`` falls in (UTC), or None when it is not quiet."""
    hours = window(spec)
    if hours is None:
        return None
    start, end = hours
    local = now.astimezone(tz)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if (start < end or t < end) else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(timezone.utc)
