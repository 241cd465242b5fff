"""The OpenAPI 3.1 document, built from the route table and the pydantic models it names."""
from __future__ import annotations

import re
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from adapters.base import Route

_REF = "#/components/schemas/{model}"
_ERROR_TEXT = {
    400: "Malformed JSON, or a field that fails validation (named in `error.field`)",
    401: "Missing or wrong API key",
    403: "Refused",
    404: "No such order (or exception)",
    409: "The same order number or event_id again with different data",
    413: "The request, or a text in it, is too long",
    422: "An event or move the order's workflow does not allow",
    503: "The database does not answer",
}
_STATUS_TEXT = {200: "OK", 201: "Created", 101: "Switching Protocols: the WebSocket is open"}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "field": {"type": "string", "description": "the field that failed validation"},
                       "allowed": {"type": "array", "items": {"type": "string"},
                                   "description": "the values the field may take (the known query parameters, "
                                                  "say), where they are few"}},
    }},
}


def _version() -> str:
    try:
        return version("orderbot")
    except PackageNotFoundError:
        return "0"


def _schemas(routes: tuple[Route, ...]) -> tuple[dict, dict]:
    pairs: list[tuple[type[BaseModel], str]] = []
    for r in routes:
        if r.body is not None:
            pairs.append((r.body, "validation"))
        if r.response is not None:
            pairs.append((r.response, "serialization"))
    keys, defs = models_json_schema(list(dict.fromkeys(pairs)), ref_template=_REF)
    return keys, defs.get("$defs", {})


def _operation(r: Route, refs: dict) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": r.summary,
        "operationId": r.handler.__name__,
        "tags": [r.tag],
        "parameters": [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in re.findall(r"{(\w+)}", r.path)
        ] + [
            {"name": q.name, "in": "query", "required": False, "description": q.description,
             "schema": {"type": q.type, **({"format": q.format} if q.format else {})}}
            for q in r.query
        ] + [
            {"name": h.name, "in": "header", "required": False, "description": h.description,
             "schema": {"type": h.type}}
            for h in r.headers
        ],
        "responses": {},
    }
    if r.body is not None:
        op["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": refs[(r.body, "validation")]}}}
    if r.description:
        op["description"] = r.description
    ok: dict[str, Any] = {"description": _STATUS_TEXT.get(r.status, "OK")}
    if r.response is not None:
        ok["content"] = {"application/json": {"schema": refs[(r.response, "serialization")]}}
    elif r.path.endswith("openapi.json"):
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    elif r.media:
        ok["content"] = {media: {"schema": {"type": "string"}} for media in r.media}
    op["responses"][str(r.status)] = ok
    if r.status == 201:
        op["responses"]["200"] = {"description": "The same request again: the existing resource",
                                  "content": ok.get("content", {})}
    error_text = {**_ERROR_TEXT, **dict(r.error_text)}
    for status in r.errors:
        op["responses"][str(status)] = {"description": error_text.get(status, "Error"), "content": {
            "application/json": {"schema": {"$ref": _REF.format(model="Error")}}}}
    if r.scope:
        op["description"] = (op.get("description", "") + f"\n\nNeeds an API key with the `{r.scope}` scope "
                             "(or `admin`).").strip()
    if r.auth:
        op["security"] = [{"bearer": [r.scope] if r.scope else []}]
    else:
        op["security"] = []
    return op


@lru_cache(maxsize=4)
def document(routes: tuple[Route, ...]) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document for ``routes``."""
    refs, defs = _schemas(routes)
    defs["Error"] = _ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        paths.setdefault(r.path, {})[r.method.lower()] = _operation(r, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "orderbot integration API",
            "version": _version(),
            "description": "Push orders, node events and exceptions from an ERP, OMS or WMS; read progress. "
                           "Every error is JSON: {\"error\": {\"code\", \"message\"}}.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a key from `orderbot apikey create`"}},
        },
    }
