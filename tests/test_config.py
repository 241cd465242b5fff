"""Configuration: where it is read from, environment overrides, one clear line for a bad key."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

GOOD = '[security]\nsecret_key = "0123456789abcdef-secret"\n'


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("ORDERBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_explicit_file_then_env_variable_then_local_file(tmp_path, monkeypatch):
    local = write(tmp_path / "orderbot.toml", GOOD + '[server]\nport = 8001\n')
    env_file = write(tmp_path / "env.toml", GOOD + '[server]\nport = 8002\n')
    explicit = write(tmp_path / "explicit.toml", GOOD + '[server]\nport = 8003\n')
    assert load_settings().server.port == 8001
    monkeypatch.setenv("ORDERBOT_CONFIG", str(env_file))
    assert load_settings().server.port == 8002
    assert load_settings(explicit).server.port == 8003
    assert load_settings(explicit).source == explicit.resolve()
    del local


def test_environment_overrides_a_key_of_the_file(tmp_path, monkeypatch):
    f = write(tmp_path / "c.toml", GOOD + '[database]\nurl = "sqlite://file.db"\n[telegram]\nenabled = false\n')
    monkeypatch.setenv("ORDERBOT_DATABASE__URL", "postgres://u:p@db.internal:5432/orders")
    monkeypatch.setenv("ORDERBOT_TELEGRAM__ENABLED", "true")
    monkeypatch.setenv("ORDERBOT_NOTIFICATIONS__DIGEST_SECONDS", "0")
    s = load_settings(f)
    assert s.database.url == "postgres://u:p@db.internal:5432/orders"
    assert s.telegram.enabled is True and s.notifications.digest_seconds == 0
    assert s.security.secret_key.get_secret_value() == "0123456789abcdef-secret"


def test_every_setting_comes_from_the_environment_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("ORDERBOT_SECURITY__SECRET_KEY", "from-the-environment-only")
    s = load_settings()
    assert s.source is None and s.security.secret_key.get_secret_value() == "from-the-environment-only"


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    sub = tmp_path / "etc"
    sub.mkdir()
    f = write(sub / "c.toml", GOOD + '[database]\nurl = "sqlite://data/o.db"\n[workflows]\nfile = "wf.yaml"\n')
    s = load_settings(f)
    assert s.database.url == f"sqlite://{sub.resolve()}/data/o.db"
    assert s.workflows.file == (sub / "wf.yaml").resolve()


def test_defaults(tmp_path):
    s = load_settings(write(tmp_path / "c.toml", GOOD))
    assert (s.server.host, s.server.port) == ("127.0.0.1", 8080)
    assert s.telegram.rate_limit_per_second == 30 and s.telegram.mode == "webhook"
    assert s.notifications.scan_interval_seconds == 60
    assert s.notifications.quiet_hours == "22:00-08:00" and s.notifications.digest_seconds == 20
    assert s.orders.number_pattern == r"^[A-Z]{1,4}[0-9]{6,20}$"
    assert s.workflows.file is None


@pytest.mark.parametrize("text, names", [
    ("[server]\nport = 8080\n", "security.secret_key is required"),
    (GOOD + "[server]\nport = 99999\n", "server.port"),
    (GOOD + '[server]\ntimezone = "Mars/Olympus"\n', "server.timezone"),
    (GOOD + '[database]\nurl = "mysql://x"\n', "database.url"),
    (GOOD + '[telegram]\nmode = "carrier-pigeon"\n', "telegram.mode"),
    (GOOD + '[notifications]\nquiet_hours = "late"\n', "notifications.quiet_hours"),
    (GOOD + '[orders]\nnumber_pattern = "(["\n', "orders.number_pattern"),
    (GOOD + '[telegram]\ntokn = "x"\n', "telegram.tokn is not a known setting"),
    ('[security]\nsecret_key = "short"\n', "security.secret_key"),
    ("[server\nport = 1", "orderbot.toml"),
])
def test_a_bad_value_is_one_line_naming_the_key(tmp_path, text, names):
    f = write(tmp_path / "orderbot.toml", text)
    with pytest.raises(ConfigError) as e:
        load_settings(f)
    msg = str(e.value)
    assert names in msg and "\n" not in msg
    assert "short" not in msg  # a secret's value is never echoed


def test_missing_file_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_bad_config_stops_the_cli_with_exit_code_2(cli, tmp_path):
    bad = write(tmp_path / "bad.toml", GOOD + "[server]\nport = \"eighty\"\n")
    r = cli("-c", str(bad), "migrate")
    assert r.code == 2
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "server.port" in lines[0]
    r = cli("migrate", env={"ORDERBOT_SECURITY__SECRET_KEY": "", "ORDERBOT_CONFIG": str(tmp_path / "none.toml")})
    assert r.code == 2 and "none.toml" in r.err


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path, monkeypatch):
    f = write(tmp_path / "c.toml", GOOD)
    monkeypatch.setenv("ORDERBOT_SERVER__PORT", "eighty")
    with pytest.raises(ConfigError) as e:
        load_settings(f)
    assert "server.port" in str(e.value) and "ORDERBOT_SERVER__PORT" in str(e.value)
