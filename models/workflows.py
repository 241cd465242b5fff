"""Workflows: the ordered nodes an order passes through, loaded from YAML.

A workflows file is checked as a whole before anything uses it; every problem is reported
as ``FILE:LINE: FIELD: MESSAGE`` so a person can go straight to the line.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.errors import field_path
from models.people import Role

BUILTIN_NAME = "<built-in workflows>"
_KEY = r"^[a-z][a-z0-9_]{0,31}$"


class WorkflowError(Exception):
    """A workflows file that cannot be used; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# ---------------------------------------------------------------- the file's schema
class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NameSpec(_Spec):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class NodeSpec(_Spec):
    key: str = Field(pattern=_KEY)
    name: NameSpec
    sla_hours: float = Field(gt=0, le=24 * 365)
    owner_role: Role
    department: str | None = Field(default=None, min_length=1)
    customer_visible: bool = True
    notify_customer: bool = False
    skippable: bool = False


class WorkflowSpec(_Spec):
    name: NameSpec | None = None
    done_node: str | None = None
    nodes: list[NodeSpec] = Field(min_length=2)


class FileSpec(_Spec):
    exception_kinds: dict[str, NameSpec] | None = None
    workflows: dict[str, WorkflowSpec] = Field(min_length=1)


# ---------------------------------------------------------------- what the engine uses
@dataclass(frozen=True)
class Node:
    key: str
    name_zh: str
    name_en: str
    sla_hours: float
    owner_role: str
    department: str | None
    customer_visible: bool
    notify_customer: bool
    skippable: bool

    def name(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en

    def answers_to(self, word: str) -> bool:
        """Whether ``word`` names this node: its key, its English name (any case) or its Chinese name."""
        return _folded(word) in (self.key, _folded(self.name_en), _folded(self.name_zh))


def _folded(word: str) -> str:
    # Full-width letters, stray spaces and case are how people type names, not a different name.
    return " ".join(unicodedata.normalize("NFKC", word).casefold().split())


@dataclass(frozen=True)
class Workflow:
    """One workflow: its nodes in order and the node that means "delivered"."""

    key: str
    name_zh: str
    name_en: str
    nodes: tuple[Node, ...]
    done_node: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {n.key: i for i, n in enumerate(self.nodes)})

    @property
    def first(self) -> Node:
        return self.nodes[0]

    def has(self, key: str) -> bool:
        return key in self._index  # type: ignore[attr-defined]

    def index(self, key: str) -> int:
        """Position of a node; KeyError for a node this workflow does not have."""
        return self._index[key]  # type: ignore[attr-defined]

    def node(self, key: str) -> Node:
        return self.nodes[self.index(key)]

    def find(self, word: str) -> Node | None:
        """The node ``word`` names (key, Chinese or English name), the one resolver chat and API share."""
        if self.has(word):
            return self.node(word)
        return next((n for n in self.nodes if n.answers_to(word)), None)

    @property
    def done_index(self) -> int:
        return self.index(self.done_node)

    def between(self, a: str, b: str) -> tuple[Node, ...]:
        """The nodes strictly between ``a`` and ``b`` (``a`` before ``b``)."""
        return self.nodes[self.index(a) + 1 : self.index(b)]


@dataclass(frozen=True)
class WorkflowSet:
    """All workflows of an installation plus the exception kinds it knows."""

    workflows: dict[str, Workflow]
    exception_kinds: dict[str, tuple[str, str]]
    source: str

    def get(self, key: str) -> Workflow | None:
        return self.workflows.get(key)

    def nodes_named(self, word: str, workflow: str | None = None) -> dict[str, str]:
        """Workflow key -> the key of its node that ``word`` names, over every workflow (or just ``workflow``)."""
        found = {}
        for wf in self.workflows.values():
            if workflow is None or wf.key == workflow:
                if (node := wf.find(word)) is not None:
                    found[wf.key] = node.key
        return found


DEFAULT_EXCEPTION_KINDS = {
    "delay": ("延误", "Delay"),
    "stockout": ("缺料", "Out of stock"),
    "qc_fail": ("质检不合格", "Failed quality check"),
    "payment": ("付款问题", "Payment issue"),
    "logistics": ("物流异常", "Shipping problem"),
    "custom": ("其他", "Other"),
}


# ---------------------------------------------------------------- loading and checking
def _field(path: tuple[Any, ...]) -> str:
    return field_path(path) or "(top level)"


def _locate(root: yaml.Node | None, path: tuple[Any, ...]) -> int:
    """1-based line of the deepest YAML node on ``path`` (the key's line for a mapping entry)."""
    node, line = root, (root.start_mark.line + 1 if root is not None else 1)
    for p in path:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(p):
                    node, line = v, k.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(p, int) and p < len(node.value):
            node = node.value[p]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _duplicate_keys(node: yaml.Node | None, path: tuple[Any, ...] = ()) -> list[tuple[int, tuple, str]]:
    found: list[tuple[int, tuple, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
            if key in seen:
                found.append((k.start_mark.line + 1, path + (key,), "appears twice"))
            seen.add(key)
            found += _duplicate_keys(v, path + (key,))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            found += _duplicate_keys(v, path + (i,))
    return found


def _semantic_problems(spec: FileSpec) -> list[tuple[tuple, str]]:
    problems: list[tuple[tuple, str]] = []
    for wkey, wf in spec.workflows.items():
        base = ("workflows", wkey)
        if not re.match(_KEY, wkey):
            problems.append((base, "a workflow key is lower case letters, digits and _"))
        keys: set[str] = set()
        for i, n in enumerate(wf.nodes):
            if n.key in keys:
                problems.append((base + ("nodes", i, "key"), f"node {n.key!r} appears twice"))
            keys.add(n.key)
        if wf.nodes[0].skippable:
            problems.append((base + ("nodes", 0, "skippable"), "the first node cannot be skippable"))
        if wf.done_node is not None and wf.done_node not in keys:
            problems.append((base + ("done_node",), f"{wf.done_node!r} is not a node of this workflow"))
    for kind in (spec.exception_kinds or {}):
        if not re.match(_KEY, kind):
            problems.append((("exception_kinds", kind), "an exception kind is lower case letters, digits and _"))
    return problems


def _build(spec: FileSpec, source: str) -> WorkflowSet:
    workflows = {}
    for wkey, wf in spec.workflows.items():
        nodes = tuple(
            Node(n.key, n.name.zh, n.name.en, n.sla_hours, n.owner_role.value, n.department,
                 n.customer_visible, n.notify_customer, n.skippable)
            for n in wf.nodes
        )
        done = wf.done_node or ("delivered" if any(n.key == "delivered" for n in nodes) else nodes[-1].key)
        name = wf.name or NameSpec(zh=wkey, en=wkey)
        workflows[wkey] = Workflow(wkey, name.zh, name.en, nodes, done)
    kinds = (
        {k: (v.zh, v.en) for k, v in spec.exception_kinds.items()}
        if spec.exception_kinds
        else dict(DEFAULT_EXCEPTION_KINDS)
    )
    return WorkflowSet(workflows, kinds, source)


def parse_workflows(text: str, source: str) -> WorkflowSet:
    """Check and build a workflows document; WorkflowError lists every problem with its line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        raise WorkflowError([f"{source}:{line}: (syntax): {e.problem or e}"]) from None
    problems = [(line, _field(p), msg) for line, p, msg in _duplicate_keys(root)]
    if not isinstance(data, dict):
        raise WorkflowError([f"{source}:1: (top level): expected a mapping with a 'workflows' key"])
    try:
        spec = FileSpec.model_validate(data)
    except ValidationError as e:
        for err in e.errors():
            loc = tuple(err["loc"])
            problems.append((_locate(root, loc), _field(loc), err["msg"]))
    else:
        for loc, msg in _semantic_problems(spec):
            problems.append((_locate(root, loc), _field(loc), msg))
    if problems:
        problems.sort(key=lambda p: p[0])
        raise WorkflowError([f"{source}:{line}: {field}: {msg}" for line, field, msg in problems])
    return _build(spec, source)


def load_workflows(path: Path | None) -> WorkflowSet:
    """The workflows of ``path``, or the built-in set when no file is configured."""
    if path is None:
        text = resources.files("models").joinpath("workflows.yaml").read_text(encoding="utf-8")
        return parse_workflows(text, BUILTIN_NAME)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise WorkflowError([f"{path}:0: (file): cannot be read: {e.strerror}"]) from None
    return parse_workflows(text, str(path))


def builtin_workflows_text() -> str:
    """The built-in workflows file, as `orderbot init` writes it for editing."""
    return resources.files("models").joinpath("workflows.yaml").read_text(encoding="utf-8")
