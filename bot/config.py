"""Configuration: one TOML file, every key overridable from the environment.

The file is found at ``-c FILE``, else ``$ORDERBOT_CONFIG``, else ``./orderbot.toml``.
``ORDERBOT_<SECTION>__<KEY>`` overrides a key of the file (``ORDERBOT_DATABASE__URL``).
Relative paths in the file (the SQLite database, the workflows file) are taken relative
to the file's own folder, so a service can be started from anywhere.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "ORDERBOT_"
DEFAULT_FILE = "orderbot.toml"
DEFAULT_NUMBER_PATTERN = r"^[A-Z]{1,4}[0-9]{6,20}$"


class ConfigError(Exception):
    """A configuration problem, explained in one line that names the key."""


def _machine_timezone() -> str:
    try:
        from tzlocal import get_localzone_name

        return get_localzone_name() or "UTC"
    except Exception:  # noqa: BLE001 - an odd /etc/localtime must not stop the service
        return "UTC"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    url: str = "sqlite://orderbot.db"

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, v: str) -> str:
        if not re.match(r"^(sqlite|postgres|postgresql)://", v):
            raise ValueError("must start with sqlite:// or postgres://")
        return v

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite://")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    public_url: str | None = None
    timezone: str = Field(default_factory=_machine_timezone)

    @field_validator("timezone")
    @classmethod
    def _iana(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Asia/Shanghai)") from None
        return v

    @field_validator("public_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/") if v else v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SecuritySettings(_Section):
    secret_key: SecretStr = Field(min_length=16)


class WorkflowsSettings(_Section):
    file: Path | None = None


class OrdersSettings(_Section):
    number_pattern: str = DEFAULT_NUMBER_PATTERN
    default_prefix: str = "SO"

    @field_validator("number_pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"not a valid regular expression: {e}") from None
        return v


class TelegramSettings(_Section):
    enabled: bool = False
    token: SecretStr | None = None
    mode: Literal["webhook", "polling"] = "webhook"
    webhook_secret: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    rate_limit_per_second: float = Field(30.0, gt=0)
    bot_username: str | None = None  # for t.me deep links; learnt from getMe when the channel starts


class WeChatSettings(_Section):
    enabled: bool = False
    app_id: str | None = None
    app_secret: SecretStr | None = None
    token: SecretStr | None = None
    encoding_aes_key: SecretStr | None = None
    api_base_url: str = "https://api.weixin.qq.com/"
    # Notices outside the 48-hour window: template ids (service accounts) and subscribe-message
    # template ids, by notice kind (node_entered, late, eta_changed...).
    templates: dict[str, str] = Field(default_factory=dict)
    subscribe_templates: dict[str, str] = Field(default_factory=dict)


class EmailSettings(_Section):
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


class NotificationSettings(_Section):
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


class WebSettings(_Section):
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


class Settings(BaseSettings):
    """Every setting of the service, one attribute per TOML section."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", case_sensitive=False, extra="forbid"
    )

    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    security: SecuritySettings
    workflows: WorkflowsSettings = WorkflowsSettings()
    orders: OrdersSettings = OrdersSettings()
    telegram: TelegramSettings = TelegramSettings()
    wechat: WeChatSettings = WeChatSettings()
    email: EmailSettings = EmailSettings()
    notifications: NotificationSettings = NotificationSettings()
    web: WebSettings = WebSettings()

    # Where the settings came from; not a key of the file.
    source: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's content arrives as init kwargs; the environment wins over it.
        return (env_settings, init_settings)


def find_config_file(explicit: str | os.PathLike | None) -> Path | None:
    """The file to read: ``-c``, else ``$ORDERBOT_CONFIG``, else ``./orderbot.toml`` if present."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_PREFIX + "CONFIG")
    if env:
        return Path(env)
    local = Path(DEFAULT_FILE)
    return local if local.exists() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist (run `orderbot init` to write one)") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path}: {e}") from None


def _key_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _missing_key(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A whole section missing is reported as its first required key (``security.secret_key``)."""
    if len(loc) == 1 and loc[0] in Settings.model_fields:
        section = Settings.model_fields[loc[0]].annotation
        required = [n for n, f in getattr(section, "model_fields", {}).items() if f.is_required()]
        if required:
            return (loc[0], required[0])
    return loc


def _explain(err: ValidationError, path: Path | None) -> str:
    first = err.errors()[0]
    if first["type"] == "missing":
        first = {**first, "loc": _missing_key(tuple(first["loc"]))}
    key = _key_name(first["loc"])
    env = ENV_PREFIX + "__".join(str(p).upper() for p in first["loc"])
    from_env = any(k.upper() == env for k in os.environ)
    where = f" (from {env})" if from_env else (f" in {path}" if path else "")
    if first["type"] == "missing":
        msg = f"config error: {key} is required (set it{where} or as {env})"
    elif first["type"] == "extra_forbidden":
        msg = f"config error: {key} is not a known setting{where}"
    else:
        value = first.get("input")
        shown = "" if "secret" in key or "password" in key or "token" in key else f" (got {value!r})"
        msg = f"config error: {key}: {first['msg']}{shown}{where}"
    more = len(err.errors()) - 1
    return msg + (f"; and {more} more problem{'s' if more > 1 else ''}" if more else "")


def _resolve_relative(settings: Settings, base: Path) -> None:
    url = settings.database.url
    if url.startswith("sqlite://"):
        raw = url[len("sqlite://"):]
        name, _, query = raw.partition("?")
        if name and name != ":memory:" and not Path(name).is_absolute():
            settings.database.url = "sqlite://" + str((base / name).resolve()) + (f"?{query}" if query else "")
    wf = settings.workflows.file
    if wf is not None and not wf.is_absolute():
        settings.workflows.file = (base / wf).resolve()


def load_settings(explicit: str | os.PathLike | None = None, **overrides: Any) -> Settings:
    """Read the config file and the environment; raise ConfigError naming the bad key.

    ``overrides`` (section -> dict) take the place of the file's sections, for the demo and tests.
    """
    path = find_config_file(explicit)
    data: dict[str, Any] = _read_toml(path) if path else {}
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    try:
        settings = Settings(**data)
    except ValidationError as e:
        raise ConfigError(_explain(e, path)) from None
    settings.source = path.resolve() if path else None
    _resolve_relative(settings, path.resolve().parent if path else Path.cwd())
    return settings
