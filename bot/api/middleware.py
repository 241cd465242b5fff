"""Every error of the HTTP interface is JSON: ``{"error": {"code", "message"}}``, and request
bodies are read into their pydantic models.

A field that fails validation is named in ``message`` and in ``field``. Handlers (the API's
and the channels') raise ``adapters.base.HttpError``; the middleware here writes it.
"""
from __future__ import annotations

import json
import logging
import re
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from adapters.base import HttpError, error_response, validation_error
from models.errors import EngineError

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
MAX_DEPTH = 32  # levels of nesting in a request body; real ones use 3
BAD_TEXT = re.compile("[\x00\ud800-\udfff]")

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "workflow_violation",
}


async def parse_body(request: web.Request, model: type[M], *, empty_ok: bool = False) -> M:
    """The request body as ``model``; 400 for malformed JSON or a field that fails validation.

    With ``empty_ok`` an empty body stands for ``{}``.
    """
    raw = await request.read()
    if not raw.strip() and empty_ok:
        raw = b"{}"
    return validated(json_body(raw), model)


def json_body(raw: bytes) -> object:
    """A body's JSON, refused (400) when it nests too deep or is no JSON at all."""
    if depth(raw) > MAX_DEPTH:
        raise HttpError(400, "malformed_json", f"the request body is nested too deep (at most {MAX_DEPTH} levels)")
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as e:
        raise HttpError(400, "malformed_json", f"the request body is not valid JSON: {e}") from None


def validated(data: object, model: type[M]) -> M:
    """``data`` as ``model``: 400 when it is no object, holds text no field may, or fails validation."""
    if not isinstance(data, dict):
        raise HttpError(400, "malformed_json", "the request body must be a JSON object")
    check_text(data, ())
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise validation_error(e) from None


def depth(raw: bytes) -> int:
    """How deep the JSON text nests, read before parsing it: deep enough input exhausts the parser's stack."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def check_text(value: object, path: tuple[str, ...]) -> None:
    """Refuse NUL (PostgreSQL text cannot hold it) and lone surrogates (no UTF-8 can) anywhere in a body."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_text(key, path)
            check_text(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_text(item, (*path, str(i)))
    elif isinstance(value, str) and (BAD_TEXT.search(value)):
        name = ".".join(path) or "body"
        raise HttpError(400, "invalid_text", f"{name} holds a NUL character or half of a surrogate pair, which "
                        "no text field may hold", field=name)


@web.middleware
async def json_errors(request: web.Request, handler):
    """Turn every failure into the JSON error shape, with the right 4xx (or 500) status."""
    try:
        return await handler(request)
    except HttpError as e:
        return error_response(e.status, e.code, e.message, field=e.field, headers=e.headers, allowed=e.allowed)
    except EngineError as e:
        return error_response(e.status, e.code, e.message, field=e.field)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = _HTTP_CODES.get(e.status, "http_error")
        message = e.text if e.text and not e.text.startswith(f"{e.status}:") else e.reason
        return error_response(e.status, code, message, headers={k: v for k, v in e.headers.items()
                                                               if k.lower() == "allow"})
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")
