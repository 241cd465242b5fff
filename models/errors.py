"""Errors the progress engine raises; each knows the HTTP status and code it maps to."""
from __future__ import annotations


class EngineError(Exception):
    """A refused request, with a stable machine code and a message for people."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


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
