"""The ``[email]`` section of the config, and when the mailbox is not read.

Mail always goes out (over SMTP when ``smtp_host`` is set, else into the dev mailbox), so
the channel always runs; only reading the mailbox over IMAP needs the section complete.
``authserv_id`` and ``trust_unauthenticated`` say which mail proves its From
(``adapters.email.authresults``).
"""
from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from adapters.base import Section


class EmailSettings(Section):
    enabled: bool = False
    imap_host: str | None = None
    imap_port: int = Field(993, ge=1, le=65535)
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_ssl: bool = True
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    from_address: str | None = None
    per_domain_per_minute: float = Field(60, gt=0)  # notices to one receiving domain
    authserv_id: str | None = None  # whose Authentication-Results prove a From; unset: the topmost header's
    trust_unauthenticated: bool = False  # for a server that adds no Authentication-Results: believe every From

    @field_validator("authserv_id")
    @classmethod
    def _authserv_id(cls, v: str | None) -> str | None:
        return (v or "").strip().lower() or None

    @property
    def address(self) -> str:
        """The bot's own address: ``from_address``, else ``imap_user`` when it is one."""
        return (self.from_address or _address(self.imap_user) or "orderbot@localhost").strip()


def problem(e: EmailSettings) -> None:
    """The channel always runs: mail goes out over SMTP, or into the dev mailbox."""
    return None


def mailbox_problem(e: EmailSettings) -> str | None:
    """Why the mailbox is not read with these settings (said once at start-up), or None."""
    if not e.enabled:
        return "enabled = false"
    problems = []
    missing = [k for k in ("imap_host", "imap_user", "imap_password") if not getattr(e, k)]
    if missing:
        problems.append(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set")
    if not e.smtp_host:
        problems.append("smtp_host is not set, so replies could not go out")
    if not e.from_address and not _address(e.imap_user):
        problems.append("from_address is not set (and imap_user is not an address)")
    return "; ".join(problems) or None


def _address(value: str | None) -> str | None:
    return value.strip() if value and "@" in value else None
