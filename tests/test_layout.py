"""The layout holds: every import follows an arrow ARCHITECTURE.md allows, no two files import
each other (directly or round about), SQL is written only in ``models/``, and only ``models/``
(and ``bot/db.py``, which sets the ORM up) touch the ORM's own modules. Test modules share
code only through ``tests/kit``.

Imports are read with ``ast`` from every product file: module level, inside functions and
under ``TYPE_CHECKING`` alike. The allowed arrows are read from ARCHITECTURE.md's table, so
the document and the code cannot drift apart.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from tests.kit.base import ROOT

PACKAGES = ("bot", "adapters", "handlers", "ledger", "models", "notifications")
SQL = re.compile(r"\b(SELECT\s[\s\S]*\sFROM\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|CREATE\s+"
                 r"(TABLE|INDEX)\s|ALTER\s+TABLE\s|PRAGMA\s+\w)")
ORM_ALLOWED = ("models", "bot.db")


def modules() -> dict[str, Path]:
    """Every product module by dotted name (migrations are Tortoise's, generated)."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every module ``name`` imports (of any package), with the line: ``from a.b import c`` names
    ``a.b.c`` when that is a module, else ``a.b``; relative imports are resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield (full if full in MODULES else base), node.lineno


def part_of(name: str) -> str:
    """The part of the layout a module belongs to, as ARCHITECTURE.md names them."""
    if name == "adapters.base" or name == "adapters":
        return name
    if name.startswith("adapters."):
        return "adapters.<channel>"
    for part in ("bot.conversation", "bot.api", "bot.console"):
        if name == part or name.startswith(part + "."):
            return part
    return name.split(".")[0]


def allowed_arrows() -> dict[str, set[str]]:
    """ARCHITECTURE.md's table of arrows: part -> the parts it may import."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text.split("## Arrows", 1)[1].split("\n## ", 1)[0]
    arrows: dict[str, set[str]] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`"):
            arrows[cells[0].strip("`")] = set(re.findall(r"`([^`]+)`", cells[2]))
    return arrows


ARROWS = allowed_arrows()


def test_the_architecture_names_every_part():
    assert {part_of(name) for name in MODULES} <= set(ARROWS), "a part ARCHITECTURE.md does not describe"


def _channel(name: str) -> str:
    return name.split(".")[1]


def test_every_import_follows_an_allowed_arrow():
    wrong = []
    for name, path in MODULES.items():
        source = part_of(name)
        for target, line in imports(name, path):
            if target.split(".")[0] not in PACKAGES:
                continue  # the standard library and third parties
            goal = part_of(target)
            if goal == source and (goal != "adapters.<channel>" or _channel(target) == _channel(name)):
                continue  # within one part (a channel's package: its own only)
            if "*" in ARROWS[source] or goal in ARROWS[source]:
                continue
            wrong.append(f"{path.relative_to(ROOT)}:{line}: {name} ({source}) imports {target} ({goal})")
    assert not wrong, "\n".join(wrong)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle a depth-first walk of ``graph`` runs into, as the path round it."""
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1  # on the current path
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2  # done

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return found


def test_no_two_files_import_each_other_even_round_about():
    graph = {name: {t for t, _ in imports(name, path) if t in MODULES and t != name} for name, path in MODULES.items()}
    assert not (found := circles(graph)), "\n".join(" -> ".join(c) for c in found)


def test_the_circle_check_finds_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def _strings(tree: ast.AST) -> Iterator[tuple[str, int]]:
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.value, node.lineno


def test_sql_is_written_only_in_models():
    found = []
    for name, path in MODULES.items():
        if part_of(name) == "models":
            continue
        for text, line in _strings(ast.parse(path.read_text(encoding="utf-8"))):
            if SQL.search(text):
                found.append(f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}")
    assert not found, "\n".join(found)


def test_only_models_use_the_orm_itself():
    found = [f"{path.relative_to(ROOT)}:{line}: imports {target}"
             for name, path in MODULES.items() if not name.startswith(ORM_ALLOWED)
             for target, line in imports(name, path) if target.split(".")[0] == "tortoise"]
    assert not found, "\n".join(found)


def test_the_sql_pattern_finds_sql_and_not_prose():
    assert SQL.search("SELECT id FROM orders WHERE x = ?") and SQL.search("UPDATE outbox SET status = ?")
    assert SQL.search("INSERT INTO audit_log (at) VALUES (?)") and SQL.search("DELETE FROM inbound_dedupe")
    assert not SQL.search("select a node from the list") and not SQL.search("update the order")


def test_tests_share_only_through_the_kit():
    found = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests") \
                    and not (node.module or "").startswith("tests.kit"):
                found.append(f"{path.name}:{node.lineno}: from {node.module} import ...")
    assert not found, "\n".join(found)
