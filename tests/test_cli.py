"""The `orderbot` command as a person runs it: set-up, keys, staff, orders, serving."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import aiohttp
import click
import pytest
from aiohttp.test_utils import TestServer
from click.testing import CliRunner

from bot.api.auth import KeyChecker
from bot.api.state import KEYS
from bot.app import build_app
from bot.cli import cli as orderbot_cli
from models.inputs import CustomerIn, OrderIn
from tests.kit.base import PG_URL, free_port, healthy


def all_commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,)
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, prefix + (name,))


def test_help_on_every_command(cli):
    top = cli("--help")  # the installed entry point, once
    assert top.code == 0
    for reserved in ("chat", "nlu", "init", "migrate", "serve", "demo", "staff", "apikey", "order", "event",
                     "workflows"):
        assert f"  {reserved}" in top.out
    runner = CliRunner()
    for path in all_commands(orderbot_cli):
        r = runner.invoke(orderbot_cli, [*path, "--help"], prog_name="orderbot")
        assert r.exit_code == 0 and "Usage: orderbot " + " ".join(path) in r.output, path


def test_init_writes_config_with_a_fresh_secret_and_a_workflows_file(cli, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("init", "--dir", str(a)).code == 0
    assert cli("init", "--dir", str(b)).code == 0
    ca = tomllib.loads((a / "orderbot.toml").read_text())
    cb = tomllib.loads((b / "orderbot.toml").read_text())
    assert len(ca["security"]["secret_key"]) >= 32 and ca["security"]["secret_key"] != cb["security"]["secret_key"]
    assert (a / "workflows.yaml").exists()
    assert cli("workflows", "check", str(a / "workflows.yaml")).code == 0
    again = cli("init", "--dir", str(a))
    assert again.code == 1 and "--force" in again.err
    # the written file is usable as it stands
    r = cli("-c", str(a / "orderbot.toml"), "migrate")
    assert r.code == 0 and (a / "orderbot.db").exists()


def test_migrate_is_idempotent(cli, tmp_path):
    cfg = tmp_path / "fresh.toml"
    cfg.write_text(f'[database]\nurl = "sqlite://{tmp_path}/fresh.db"\n[security]\nsecret_key = "0123456789abcdefXYZ"\n')
    first = cli("-c", str(cfg), "migrate")
    assert first.code == 0 and "applied orderbot.0001_initial" in first.out
    second = cli("-c", str(cfg), "migrate")
    assert second.code == 0 and "already current" in second.out


async def test_apikey_create_list_revoke(cli, settings, engine):
    r = cli("apikey", "create", "--name", "erp")
    assert r.code == 0
    key = r.out.strip().splitlines()[-1]
    assert key.startswith("ob_") and " " not in key
    listed = cli("apikey", "list")
    assert "erp" in listed.out and "active" in listed.out and key not in listed.out

    app = build_app(settings, engine)
    app[KEYS] = KeyChecker(cache_seconds=0)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as s:
            url = str(server.make_url("/api/v1/orders"))
            async with s.get(url, headers={"Authorization": f"Bearer {key}"}) as resp:
                assert resp.status == 200
            revoked = await asyncio.to_thread(cli, "apikey", "revoke", "erp")
            assert revoked.code == 0
            async with s.get(url, headers={"Authorization": f"Bearer {key}"}) as resp:
                assert resp.status == 401
    finally:
        await server.close()
    assert "revoked" in cli("apikey", "list").out
    assert cli("apikey", "revoke", "erp").code == 1


def test_staff_add_and_list(cli):
    r = cli("staff", "add", "--name", "王销售", "--role", "sales", "--code", "S001", "--telegram", "2002",
            "--email", "Wang@Corp.example")
    assert r.code == 0 and "S001" in r.out
    r = cli("staff", "add", "--name", "李仓", "--role", "operator", "--department", "warehouse", "--wechat", "o_abc")
    assert r.code == 0 and "O001" in r.out
    listed = cli("staff", "list").out
    assert "王销售" in listed and "telegram:2002" in listed and "email:wang@corp.example" in listed
    assert "warehouse" in listed and "wechat:o_abc" in listed
    dup = cli("staff", "add", "--name", "X", "--role", "sales", "--code", "s001")
    assert dup.code == 1 and "S001" in dup.err
    taken = cli("staff", "add", "--name", "Y", "--role", "manager", "--telegram", "2002")
    assert taken.code == 1 and "telegram:2002" in taken.err
    assert "Y" not in cli("staff", "list").out.split()
    bad = cli("staff", "add", "--name", "Z", "--role", "king")
    assert bad.code == 2 and "king" in bad.err


async def test_order_show_and_event(cli, engine):
    await engine.create_order(OrderIn(order_no="SO202611240001", customer=CustomerIn(name="张三", email="z@a.example"),
                                      amount="10"))
    r = await asyncio.to_thread(cli, "event", "so-2026-1124-0001", "approved", "--note", "审核通过")
    assert r.code == 0 and "placed → approved" in r.out
    r = await asyncio.to_thread(cli, "event", "SO202611240001", "delivered")
    assert r.code == 1 and "cannot skip" in r.err
    r = await asyncio.to_thread(cli, "order", "show", "SO202611240001")
    assert r.code == 0 and "approved" in r.out and "审核通过" in r.out and "z@a.example" in r.out
    r = await asyncio.to_thread(cli, "order", "show", "SO209912310001")
    assert r.code == 1 and "no order SO209912310001" in r.err


def _serve(cli_config: Path, port: int, env_extra: dict | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
    env.update({"ORDERBOT_CONFIG": str(cli_config), **(env_extra or {})})
    return subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


async def test_serve_on_a_new_sqlite_database_migrates_and_stops_cleanly(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'[database]\nurl = "sqlite://{tmp_path}/new.db"\n[security]\nsecret_key = "0123456789abcdefXYZ"\n')
    port = free_port()
    proc = _serve(cfg, port)
    try:
        assert await healthy(port, proc, 30), proc.stdout.read() if proc.poll() is not None else "no answer"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set ORDERBOT_TEST_DATABASE_URL")
async def test_serve_on_an_unmigrated_postgres_database_refuses(tmp_path):
    import uuid

    from tests.kit.base import pg_admin, with_db

    name = f"orderbot_unmigrated_{uuid.uuid4().hex[:8]}"
    await pg_admin(PG_URL, f'CREATE DATABASE "{name}"')
    try:
        cfg = tmp_path / "pg.toml"
        cfg.write_text(f'[database]\nurl = "{with_db(PG_URL, name)}"\n[security]\nsecret_key = "0123456789abcdefXYZ"\n')
        proc = _serve(cfg, free_port())
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 1 and "orderbot migrate" in out
    finally:
        await pg_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_audit_lists_who_was_shown_an_order(cli, engine):
    from models.audit import AuditLog

    await AuditLog.create(actor_kind="staff", actor_id="M001", order_no="SO202611240001", channel="telegram",
                          verified_by="staff", fields_shown=["amount", "order_no"], chat_id="2001")
    r = await asyncio.to_thread(cli, "audit", "so-2026-1124-0001")
    assert r.code == 0 and "staff:M001" in r.out and "amount,order_no" in r.out and "telegram" in r.out
    r = await asyncio.to_thread(cli, "audit", "SO209912310001")
    assert r.code == 0 and "nobody" in r.out


# ---------------------------------------------------------------- no config at all
NEEDS_NO_CONFIG = {("init",), ("demo",), ("nlu",), ("workflows", "check")}
ARGS = {  # every command that needs settings, with arguments it would accept
    ("migrate",): [], ("serve",): [], ("staff", "add"): ["--name", "王伟", "--role", "sales"], ("staff", "list"): [],
    ("apikey", "create"): ["--name", "erp"], ("apikey", "list"): [], ("apikey", "revoke"): ["erp"],
    ("order", "show"): ["SO202611210388"], ("order", "link"): ["SO202611210388"], ("order", "list"): [],
    ("export",): ["--format", "csv"], ("event",): ["SO202611210388", "paid"], ("chat",): ["--as", "telegram:1"],
    ("mailbox",): [], ("audit",): ["SO202611210388"], ("outbox", "list"): [], ("outbox", "replay"): ["--failed"], ("console-link",): ["A001"],
    ("staff", "edit"): ["S001", "--name", "王伟"], ("staff", "disable"): ["S001"], ("staff", "enable"): ["S001"],
    ("staff", "bind"): ["S001", "telegram:1"], ("staff", "unbind"): ["S001", "telegram:1"],
    ("staff", "reassign"): ["S001", "--to", "S002"],
    ("webhook", "add"): ["https://erp.example/hook", "--events", "node_entered"], ("webhook", "list"): [],
    ("import",): ["ledger.csv"], ("webhook", "remove"): ["1"], ("webhook", "deliveries"): [], ("webhook", "redeliver"): ["1"],
}


def _newcomers_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
    env["TMPDIR"] = str(tmp_path)  # no demo of anyone else's running in there
    return env


def test_staff_list_where_there_is_no_config_says_so_and_to_run_init(tmp_path):
    p = subprocess.run([sys.executable, "-m", "bot", "staff", "list"], cwd=tmp_path, env=_newcomers_env(tmp_path),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("orderbot: no config file") and "run `orderbot init`" in p.stderr
    assert "secret_key" not in p.stderr and "Traceback" not in p.stderr and p.stdout == ""
    assert list(tmp_path.iterdir()) == [], "no database was made"


def test_every_command_that_needs_a_config_says_there_is_none(tmp_path, monkeypatch):
    import tempfile

    leaves = {path for path in all_commands(orderbot_cli) if not isinstance(_command(path), click.Group)}
    assert leaves == set(ARGS) | NEEDS_NO_CONFIG, "a new command: put it in ARGS or NEEDS_NO_CONFIG"
    for key in [k for k in os.environ if k.startswith("ORDERBOT_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for path, args in ARGS.items():
        r = CliRunner().invoke(orderbot_cli, [*path, *args], prog_name="orderbot")
        assert r.exit_code == 2, (path, r.output)
        assert "no config file" in r.stderr and "orderbot init" in r.stderr and "secret_key" not in r.stderr, path
    assert list(tmp_path.iterdir()) == []


def _command(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = orderbot_cli
    for name in path:
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    return cmd
