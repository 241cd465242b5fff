"""The ``[notifications]`` section of the config."""
from __future__ import annotations

import re

from pydantic import Field, field_validator

from adapters.base import Section


class NotificationSettings(Section):
    scan_interval_seconds: float = Field(60, gt=0)
    escalate_after_minutes: float = Field(30, gt=0)
    quiet_hours: str = "22:00-08:00"
    digest_seconds: float = Field(20, ge=0)

    @field_validator("quiet_hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        if v and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError('must look like "22:00-08:00", or be "" to turn quiet hours off')
        return v
