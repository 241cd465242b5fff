"""Durations as people say them: the two largest units ("5天2小时", "3 hours 20 minutes", "45分钟").

Every text that shows how long something took or lasts goes through ``span``, so that no
notice reads "已 7363 分钟".
"""
from __future__ import annotations

from datetime import timedelta

from bot.conversation.texts import t

UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60))


def span(value: timedelta, locale: str) -> str:
    """``value`` in its largest unit and the next one (floored: 7363 minutes read 5天2小时)."""
    seconds = int(value.total_seconds())
    if seconds < 60:
        return t("duration.under_a_minute", locale)
    counts = []
    for _, size in UNITS:
        n, seconds = divmod(seconds, size)
        counts.append(n)
    first = next(i for i, n in enumerate(counts) if n)
    parts = [_unit(UNITS[i][0], counts[i], locale) for i in range(first, min(first + 2, len(UNITS))) if counts[i]]
    return t("duration.join", locale, first=parts[0], second=parts[1]) if len(parts) == 2 else parts[0]


def hours(value: float, locale: str) -> str:
    """A number of hours (an SLA's limit) read the same way."""
    return span(timedelta(hours=value), locale)


def _unit(unit: str, n: int, locale: str) -> str:
    return t(f"duration.{unit}{'' if n == 1 else 's'}", locale, n=n)
