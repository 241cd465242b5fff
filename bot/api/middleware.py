"""Every error of the HTTP interface is JSON: ``{"error": {"code", "message"}}``, and request
bodies are read into their pydantic models.

A field that fails validation is named in ``message`` and in ``field``. Handlers (the API's
and the channels') raise ``adapters.base.HttpError``; the middleware here writes it.
"""
from __future__ import annotations

import json
import logging
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from adapters.base import HttpError, error_response, validation_error
from models.errors import EngineError

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

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
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as e:
        raise HttpError(400, "malformed_json", f"the request body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise HttpError(400, "malformed_json", "the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise validation_error(e) from None


@web.middleware
async def json_errors(request: web.Request, handler):
    """Turn every failure into the JSON error shape, with the right 4xx (or 500) status."""
    try:
        return await handler(request)
    except HttpError as e:
        return error_response(e.status, e.code, e.message, field=e.field, headers=e.headers)
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
