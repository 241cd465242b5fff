"""The ``[notifications]`` section of the config."""
from __future__ import annotations

import re

from pydantic import Field, field_validator

from adapters.base import Section

HOUR = r"([01]\d|2[0-3]):[0-5]\d"


class NotificationSettings(Section):
    scan_interval_seconds: float = Field(60, gt=0)
    escalate_after_minutes: float = Field(30, gt=0)
    quiet_hours: str = "22:00-08:00"
    digest_seconds: float = Field(20, ge=0)
    # A staff member hears of late, overdue and escalated orders at most once a window per kind.
    staff_digest_minutes: float = Field(10, ge=0)
    daily_summary_at: str = ""  # "09:00" in [server] timezone: each staff member's late orders and open exceptions

    @field_validator("quiet_hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        if v and not re.fullmatch(f"{HOUR}-{HOUR}", v):
            raise ValueError('must look like "22:00-08:00", or be "" to turn quiet hours off')
        return v

    @field_validator("daily_summary_at")
    @classmethod
    def _at(cls, v: str) -> str:
        if v and not re.fullmatch(HOUR, v):
            raise ValueError('must look like "09:00", or be "" to send no daily summary')
        return v
