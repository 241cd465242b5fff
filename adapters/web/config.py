"""The ``[web]`` section of the config, and when the web chat does not start."""
from __future__ import annotations

import ipaddress
import json
import re
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from adapters.base import Section


class WebSettings(Section):
    """The web chat (``/chat``) and its embeddable widget.

    ``allowed_origins``: the sites (``https://www.example.com``, scheme and host, no path) that
    may embed the chat page and talk to its API and WebSocket besides the chat's own origin;
    empty means the chat's own origin only, ``["*"]`` any site.

    ``trusted_proxies``: the reverse proxies (IP addresses or networks, ``10.0.0.0/8``) in front
    of the service; a request whose peer is one of them is counted, for the per-address rate
    limit, as coming from the address in ``X-Forwarded-For`` (``adapters.web.proxies``). Empty:
    the header is never read.
    """

    enabled: bool = True
    # NoDecode: ORDERBOT_WEB__ALLOWED_ORIGINS may be "https://a.example,https://b.example" as well as JSON
    allowed_origins: Annotated[list[str], NoDecode] = []
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # How long a customer's progress link (/t/<token>, in notices and cards) opens its order.
    progress_link_days: int = Field(30, ge=1, le=365)

    @field_validator("allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _listed(cls, v: Any) -> Any:
        if isinstance(v, str):
            return json.loads(v) if v.strip().startswith("[") else [o for o in v.split(",") if o.strip()]
        return v

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        out = []
        for origin in v:
            origin = origin.strip().rstrip("/").lower()
            if origin != "*" and not re.fullmatch(r"https?://[^/\s?#]+", origin):
                raise ValueError(f'{origin!r} is not an origin (write "https://www.example.com", or "*")')
            out.append(origin)
        return out

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        out = []
        for entry in v:
            try:
                out.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
            except ValueError:
                raise ValueError(f'{entry!r} is not an IP address or network (write "10.0.0.1" or '
                                 '"10.0.0.0/8")') from None
        return out


def problem(settings: WebSettings) -> str | None:
    return None if settings.enabled else "turned off: [web] enabled = false"
