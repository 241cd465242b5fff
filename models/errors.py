"""Errors the progress engine raises; each knows the HTTP status and code it maps to."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def field_path(loc: Sequence[Any]) -> str:
    """A validation error's location as people write it: ``customer.email``, ``nodes[2].key``."""
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


class EngineError(Exception):
    """A refused request: a stable machine code, an English message for logs and the API, and a
    ``reason`` with its ``params`` (node keys, numbers) that the conversation renders in the
    reader's language (``bot/conversation/texts.refusal``)."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, reason: str | None = None,
                 **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.reason = reason or self.code
        self.params = params


class InvalidInput(EngineError):
    """A field that fails validation; ``field`` names it."""

    status = 400
    code = "invalid_field"


class NotFound(EngineError):
    status = 404
    code = "not_found"


class Conflict(EngineError):
    """The same identifier again with different data."""

    status = 409
    code = "conflict"


class WorkflowViolation(EngineError):
    """An event the order's workflow does not allow from where the order stands."""

    status = 422
    code = "workflow_violation"
