"""Configuration: one TOML file, every key overridable from the environment.

The file is found at ``-c FILE``, else ``$ORDERBOT_CONFIG``, else ``./orderbot.toml``.
``ORDERBOT_<SECTION>__<KEY>`` overrides a key of the file (``ORDERBOT_DATABASE__URL``).
Relative paths in the file (the SQLite database, the workflows file) are taken relative
to the file's own folder, so a service can be started from anywhere.

The service's own sections are declared here; ``[notifications]`` by the notifications,
and each channel's section by its package (``adapters/<channel>/config.py``): ``Settings``
is composed from the channels registered in ``bot/channels.py``.
"""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from adapters.base import Section
from bot.channels import CHANNELS
from models.messages import Brand
from notifications.config import NotificationSettings

ENV_PREFIX = "ORDERBOT_"
DEFAULT_FILE = "orderbot.toml"
DEFAULT_NUMBER_PATTERN = r"^[A-Z]{1,4}[0-9]{6,20}$"


class ConfigError(Exception):
    """A configuration problem, explained in one line that names the key."""


class NoConfigFile(ConfigError):
    """No file anywhere and a required key missing: the command was run before `orderbot init`."""


def machine_timezone() -> str:
    """This machine's IANA zone (UTC when it cannot tell)."""
    try:
        from tzlocal import get_localzone_name

        name = get_localzone_name() or "UTC"
        ZoneInfo(name)  # tzlocal may name what zoneinfo does not know
        return name
    except Exception:  # noqa: BLE001 - an odd /etc/localtime must not stop the service
        return "UTC"


class DatabaseSettings(Section):
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


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    public_url: str | None = None
    timezone: str = Field(default_factory=machine_timezone)

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


class SecuritySettings(Section):
    secret_key: SecretStr = Field(min_length=16)


class WorkflowsSettings(Section):
    file: Path | None = None


class OrdersSettings(Section):
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


class BrandSettings(Section):
    """The company the bot speaks for: its name, logo and contact on the pages and at the foot of mail."""

    name: str = Field("", max_length=100)
    logo_url: str | None = None
    phone: str | None = Field(None, max_length=50)
    email: str | None = Field(None, max_length=254)
    url: str | None = None

    @field_validator("logo_url", "url")
    @classmethod
    def _web_address(cls, v: str | None) -> str | None:
        if v and not re.match(r"^(https?://[^/\s]+|/)\S*$", v):
            raise ValueError("must be an http:// or https:// URL (or a path on this service)")
        return v or None

    @field_validator("email")
    @classmethod
    def _mail(cls, v: str | None) -> str | None:
        if v and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", v):
            raise ValueError("must be an e-mail address")
        return v or None

    def brand(self) -> Brand:
        return Brand(self.name.strip(), self.logo_url, (self.phone or "").strip() or None, self.email, self.url)


class ServiceSettings(BaseSettings):
    """The service's own sections; ``Settings`` adds one per channel."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", case_sensitive=False, extra="forbid"
    )

    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    security: SecuritySettings
    workflows: WorkflowsSettings = WorkflowsSettings()
    orders: OrdersSettings = OrdersSettings()
    notifications: NotificationSettings = NotificationSettings()
    brand: BrandSettings = BrandSettings()

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


# Every setting of the service, one attribute per TOML section: the service's, and each channel's.
Settings = create_model(  # type: ignore[call-overload]
    "Settings", __base__=ServiceSettings, __module__=__name__,
    **{c.name: (c.settings, c.settings()) for c in CHANNELS})


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


def _explain(err: ValidationError, path: Path | None) -> ConfigError:
    first = err.errors()[0]
    if first["type"] == "missing":
        first = {**first, "loc": _missing_key(tuple(first["loc"]))}
    key = _key_name(first["loc"])
    env = ENV_PREFIX + "__".join(str(p).upper() for p in first["loc"])
    from_env = any(k.upper() == env for k in os.environ)
    where = f" (from {env})" if from_env else (f" in {path}" if path else "")
    if first["type"] == "missing" and path is None and not from_env:
        return NoConfigFile(no_config_file())
    if first["type"] == "missing":
        msg = f"config error: {key} is required (set it{where} or as {env})"
    elif first["type"] == "extra_forbidden":
        msg = f"config error: {key} is not a known setting{where}"
    else:
        value = first.get("input")
        shown = "" if "secret" in key or "password" in key or "token" in key else f" (got {value!r})"
        msg = f"config error: {key}: {first['msg']}{shown}{where}"
    more = len(err.errors()) - 1
    return ConfigError(msg + (f"; and {more} more problem{'s' if more > 1 else ''}" if more else ""))


def no_config_file() -> str:
    """What a command that needs settings says when there is no file at all (a newcomer's first try)."""
    return (f"no config file: none given with -c or ${ENV_PREFIX}CONFIG, and no {DEFAULT_FILE} in {Path.cwd()}; "
            f"run `orderbot init` to write one (or `orderbot demo` to try orderbot without one)")


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
        raise _explain(e, path) from None
    settings.source = path.resolve() if path else None
    _resolve_relative(settings, path.resolve().parent if path else Path.cwd())
    return settings
