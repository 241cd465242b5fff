"""Workflows: the built-in set, and errors that name file, line and field."""
from __future__ import annotations

from pathlib import Path

import pytest

from models.workflows import WorkflowError, builtin_workflows_text, load_workflows

STANDARD = [
    ("placed", "下单", "Order placed"), ("approved", "审核", "Approved"), ("paid", "付款", "Paid"),
    ("stocking", "备货", "Stocking"), ("production", "生产", "In production"),
    ("qc", "质检", "Quality check"), ("outbound", "出库", "Outbound"), ("in_transit", "运输中", "In transit"),
    ("delivered", "签收", "Delivered"), ("after_sales", "售后", "After-sales"),
]


def test_builtin_standard_workflow():
    ws = load_workflows(None)
    std = ws.get("standard")
    assert [(n.key, n.name_zh, n.name_en) for n in std.nodes] == STANDARD
    assert {n.key for n in std.nodes if n.skippable} == {"production", "qc"}
    assert all(n.customer_visible for n in std.nodes)
    assert {n.key for n in std.nodes if n.notify_customer} == {
        "paid", "production", "outbound", "in_transit", "delivered", "after_sales"}
    assert all(n.sla_hours > 0 and n.owner_role in ("admin", "manager", "sales", "operator") for n in std.nodes)
    assert std.done_node == "delivered"


def test_builtin_trading_workflow_leaves_production_and_qc_out():
    trading = load_workflows(None).get("trading")
    keys = [n.key for n in trading.nodes]
    assert "production" not in keys and "qc" not in keys
    assert keys == [k for k, _, _ in STANDARD if k not in ("production", "qc")]


def test_builtin_exception_kinds():
    assert set(load_workflows(None).exception_kinds) == {"delay", "stockout", "qc_fail", "payment", "logistics",
                                                         "custom"}


def edit(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = builtin_workflows_text()
    assert old in text
    path = tmp_path / "workflows.yaml"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return hits[nth - 1]


def problems(path: Path) -> list[str]:
    with pytest.raises(WorkflowError) as e:
        load_workflows(path)
    return e.value.problems


def test_a_bad_sla_names_file_line_and_field(tmp_path):
    path = edit(tmp_path, "sla_hours: 72", "sla_hours: -5")
    [p] = problems(path)
    assert p.startswith(f"{path}:{line_of(path, 'sla_hours: -5')}: workflows.standard.nodes[2].sla_hours:")


def test_a_duplicate_node_key(tmp_path):
    path = edit(tmp_path, "- key: qc", "- key: production")
    [p] = problems(path)
    assert p.startswith(f"{path}:{line_of(path, '- key: production', 2)}: workflows.standard.nodes[5].key:")
    assert "twice" in p


def test_an_unknown_field_a_bad_role_and_a_missing_name_are_all_reported(tmp_path):
    path = edit(tmp_path, "customer_visible: true\n        notify_customer: false\n      - key: approved",
                "customer_visibel: true\n        notify_customer: false\n      - key: approved")
    text = path.read_text().replace("owner_role: manager", "owner_role: boss", 1)
    text = text.replace("        name: {zh: 付款, en: Paid}\n", "", 1)
    path.write_text(text)
    found = problems(path)
    assert any(f":{line_of(path, 'customer_visibel')}: workflows.standard.nodes[0].customer_visibel:" in p
               for p in found)
    assert any(f":{line_of(path, 'owner_role: boss')}: workflows.standard.nodes[1].owner_role:" in p for p in found)
    assert any("workflows.standard.nodes[2].name: Field required" in p for p in found)


def test_done_node_must_exist(tmp_path):
    path = edit(tmp_path, "done_node: delivered", "done_node: received")
    [p] = problems(path)
    assert f":{line_of(path, 'done_node: received')}: workflows.standard.done_node:" in p


def test_duplicate_yaml_keys_and_syntax_errors(tmp_path):
    path = edit(tmp_path, "        sla_hours: 4\n", "        sla_hours: 4\n        sla_hours: 5\n")
    assert any(f":{line_of(path, 'sla_hours: 5')}: workflows.standard.nodes[0].sla_hours: appears twice" in p
               for p in problems(path))
    path.write_text("workflows:\n  standard:\n    nodes: [\n")
    [p] = problems(path)
    assert p.startswith(f"{path}:") and "(syntax)" in p


def test_workflows_check_command(cli, tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(builtin_workflows_text())
    r = cli("workflows", "check", str(good))
    assert r.code == 0 and "standard: placed → approved" in r.out
    bad = edit(tmp_path, "sla_hours: 24", "sla_hours: soon")
    r = cli("workflows", "check", str(bad))
    assert r.code == 1
    assert f"{bad}:{line_of(bad, 'sla_hours: soon')}: workflows.standard.nodes[1].sla_hours:" in r.err


def test_a_configured_file_is_used_and_a_broken_one_stops_serve(cli, tmp_path):
    path = edit(tmp_path, "sla_hours: 168\n        owner_role: operator\n        department: production",
                "sla_hours: 0\n        owner_role: operator\n        department: production")
    config = Path(cli.config)
    config.write_text(config.read_text() + f'[workflows]\nfile = "{path}"\n')
    r = cli("serve", "--port", "1")
    assert r.code == 2 and "workflows.standard.nodes[4].sla_hours" in r.err
