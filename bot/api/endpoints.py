"""Handlers of the integration API: orders, node events, exceptions, and batches of orders and events."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel

from adapters.base import HttpError, error_body
from bot.api import views
from bot.api.middleware import BAD_TEXT, json_body, parse_body, validated
from bot.api.state import ENGINE, LINKS, PRINCIPAL
from bot.conversation.policy import COMMERCIAL, CONTACT
from models import audit, queries, webhooks
from models.engine import ProgressEngine
from models.errors import EngineError
from models.inputs import AckIn, EventIn, ExceptionIn, OrderIn, OrderPatch, ResolveIn, WebhookIn

MAX_PAGE = 200
MAX_ORDER_NO = 64  # the orders table's column
MAX_QUERY_TEXT = 64
MAX_EMAIL = 254
IDEMPOTENCY_KEY = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 128  # the exception_id column


class OrderList(BaseModel):
    orders: list[views.OrderSummary]
    next_after: int | None


def _json(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=model.model_dump_json(), status=status, content_type="application/json",
                        headers=headers)


def _hidden(request: web.Request, model: BaseModel) -> set[str] | None:
    """The money fields (the view policy's commercial ones) a key without money:read does not get."""
    return None if request[PRINCIPAL].allows("money:read") else COMMERCIAL & set(type(model).model_fields)


def _order_json(request: web.Request, model: BaseModel, status: int = 200) -> web.Response:
    """An order as this key may see it."""
    return web.Response(text=model.model_dump_json(exclude=_hidden(request, model)), status=status,
                        content_type="application/json")


def _visible(request: web.Request, model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude=_hidden(request, model))


def _engine(request: web.Request) -> ProgressEngine:
    return request.app[ENGINE]


def _actor(request: web.Request) -> str:
    return request[PRINCIPAL].name


def _exception_id(request: web.Request) -> int:
    raw = request.match_info["exception_id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise HttpError(404, "not_found", f"no exception {raw[:20]}")
    return int(raw)


def _order_no(request: web.Request) -> str:
    """The order number of the path, refused before the database when no order could have it."""
    raw = request.match_info["order_no"]
    if len(raw) > MAX_ORDER_NO or BAD_TEXT.search(raw):
        raise HttpError(404, "not_found", f"no order {raw[:MAX_ORDER_NO]!r}: order numbers have at most "
                        f"{MAX_ORDER_NO} characters")
    return raw


def _text(request: web.Request, name: str, longest: int = MAX_QUERY_TEXT) -> str | None:
    raw = request.query.get(name)
    if raw is not None and (len(raw) > longest or BAD_TEXT.search(raw)):
        raise HttpError(400, "invalid_field", f"{name} must be text of at most {longest} characters "
                        "without NUL", field=name)
    return raw


async def create_order(request: web.Request) -> web.Response:
    """201 with the new order; 200 with the existing one when the same order is sent again.

    The answer carries a bind token of this order and the links that use it: the first chat
    that follows one sees this order without a code.
    """
    status, created = await _create(request, await parse_body(request, OrderIn))
    return _order_json(request, created, status=status)


async def _create(request: web.Request, body: OrderIn) -> tuple[int, views.CreatedOrder]:
    engine = _engine(request)
    order, created = await engine.create_order(body, source="api", actor=_actor(request))
    token, links = await request.app[LINKS](order.id)
    detail = await views.detail(engine, order)
    return 201 if created else 200, views.CreatedOrder(**detail.model_dump(), bind_token=token, links=links)


async def get_order(request: web.Request) -> web.Response:
    engine = _engine(request)
    order = await engine.get_order(_order_no(request))
    who = request[PRINCIPAL]
    money = COMMERCIAL if who.allows("money:read") else frozenset()
    # Read by an integration: audited like a card shown in a chat, with the sensitive fields it carried.
    await audit.shown("api", None, order.order_no, ("order_no", "status", "eta", *sorted(CONTACT | money)),
                      actor_kind="api", actor_id=who.name, verified_by="api_key")
    return _order_json(request, await views.detail(engine, order))


async def patch_order(request: web.Request) -> web.Response:
    body = await parse_body(request, OrderPatch)
    engine = _engine(request)
    order = await engine.update_order(_order_no(request), body, actor=_actor(request))
    return _order_json(request, await views.detail(engine, order))


async def post_event(request: web.Request) -> web.Response:
    """201 with the event; a replayed event_id answers the same, marked `Idempotent-Replayed: true`."""
    status, out, replayed = await _event(request, _order_no(request), await parse_body(request, EventIn))
    return _json(out, status=status, headers={"Idempotent-Replayed": "true"} if replayed else None)


async def _event(request: web.Request, raw_no: str, body: EventIn) -> tuple[int, views.EventResultOut, bool]:
    engine = _engine(request)
    order_no = engine.normalize(raw_no)
    result = await engine.apply_event(order_no, body, source="api", default_actor=_actor(request))
    return 201, views.event_result_out(order_no, result.event), result.replayed


# ---------------------------------------------------------------- batches
MAX_BATCH = 1000
MAX_BATCH_BODY = 8 * 1024 * 1024  # 1,000 orders with long addresses; single calls keep the app's 1 MB


async def _batch_items(request: web.Request) -> list[Any]:
    """The ``items`` of a batch body: a JSON object holding a list of at most MAX_BATCH."""
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BATCH_BODY:
            raise HttpError(413, "payload_too_large", f"a batch body may have at most {MAX_BATCH_BODY // 2**20} MB")
        chunks.append(chunk)
    data = json_body(b"".join(chunks))
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise HttpError(400, "malformed_json", 'the request body must be a JSON object {"items": [...]}',
                        field="items")
    if set(data) != {"items"}:
        extra = sorted(set(data) - {"items"})[0]
        raise HttpError(400, "invalid_field", f"{extra[:64]} is not a known field", field=extra[:64])
    items = data["items"]
    if not items:
        raise HttpError(400, "invalid_field", "items must hold at least one item", field="items")
    if len(items) > MAX_BATCH:
        raise HttpError(413, "too_many_items", f"a batch holds at most {MAX_BATCH} items, this one {len(items)}",
                        field="items")
    return items


async def _each(items: list[Any], run: Callable[[Any], Awaitable[tuple[int, dict[str, Any], bool]]]
                ) -> web.Response:
    """Every item on its own (its own transaction, its own answer), in order: one refused stops no other.

    An item's ``body`` or ``error`` is exactly what its single call answers (``views.BatchOut``)."""
    results: list[dict[str, Any]] = []
    for i, raw in enumerate(items):
        try:
            status, body, replayed = await run(raw)
            results.append({"index": i, "status": status, "replayed": replayed, "body": body})
        except (HttpError, EngineError) as e:
            results.append({"index": i, "status": e.status, "replayed": False, "error": error_body(
                e.code, e.message, field=e.field, allowed=getattr(e, "allowed", None))})
    failed = sum(1 for r in results if "error" in r)
    return web.Response(body=orjson.dumps({"results": results, "succeeded": len(results) - failed, "failed": failed}),
                        content_type="application/json")


async def orders_batch(request: web.Request) -> web.Response:
    """Up to 1,000 orders, each created (or found again) as ``POST /orders`` would."""
    items = await _batch_items(request)

    async def one(raw: Any) -> tuple[int, dict[str, Any], bool]:
        status, created = await _create(request, validated(raw, OrderIn))
        return status, _visible(request, created), status == 200

    return await _each(items, one)


async def events_batch(request: web.Request) -> web.Response:
    """Up to 1,000 node events, each with its ``order_no``, recorded as ``POST /orders/{no}/events`` would."""
    items = await _batch_items(request)

    async def one(raw: Any) -> tuple[int, dict[str, Any], bool]:
        if isinstance(raw, dict):
            raw = dict(raw)
            order_no = raw.pop("order_no", None)
            if not isinstance(order_no, str) or not order_no.strip():
                raise HttpError(400, "invalid_field", "order_no is required", field="order_no")
            if len(order_no) > MAX_ORDER_NO or BAD_TEXT.search(order_no):
                raise HttpError(404, "not_found", f"no order {order_no[:MAX_ORDER_NO]!r}: order numbers have at "
                                f"most {MAX_ORDER_NO} characters")
        else:
            order_no = ""
        status, out, replayed = await _event(request, order_no, validated(raw, EventIn))
        return status, out.model_dump(mode="json"), replayed

    return await _each(items, one)


def _idempotency_key(request: web.Request, body: ExceptionIn) -> ExceptionIn:
    """The body with its ``exception_id`` from the `Idempotency-Key` header, which means the same."""
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        return body
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or BAD_TEXT.search(key):
        raise HttpError(400, "invalid_field", f"{IDEMPOTENCY_KEY} must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
                        field=IDEMPOTENCY_KEY)
    if body.exception_id is not None and body.exception_id != key:
        raise HttpError(400, "invalid_field", f"the {IDEMPOTENCY_KEY} header ({key[:40]!r}) and exception_id "
                        f"({body.exception_id[:40]!r}) differ; send one, or both alike", field="exception_id")
    return body.model_copy(update={"exception_id": key})


async def open_exception(request: web.Request) -> web.Response:
    """201 with the new exception; 200 with the stored one for a replay of its exception_id (nothing new told)."""
    body = _idempotency_key(request, await parse_body(request, ExceptionIn))
    result = await _engine(request).open_exception(_order_no(request), body, default_actor=_actor(request))
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return _json(views.exception_out(result.exception), status=200 if result.replayed else 201, headers=headers)


async def ack_exception(request: web.Request) -> web.Response:
    body = await parse_body(request, AckIn, empty_ok=True)
    exc = await _engine(request).acknowledge_exception(_order_no(request), _exception_id(request),
                                                       body, default_actor=_actor(request))
    return _json(views.exception_out(exc))


async def resolve_exception(request: web.Request) -> web.Response:
    body = await parse_body(request, ResolveIn, empty_ok=True)
    exc = await _engine(request).resolve_exception(_order_no(request), _exception_id(request),
                                                   body, default_actor=_actor(request))
    return _json(views.exception_out(exc))


def _bool(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise HttpError(400, "invalid_field", f"{name} must be true or false", field=name)


def _int(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise HttpError(400, "invalid_field", f"{name} must be a whole number from {low} to {high}", field=name)
    return int(raw)


def _date(request: web.Request, name: str) -> date | None:
    raw = _text(request, name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise HttpError(400, "invalid_field", f"{name} must be a date written YYYY-MM-DD, not {raw!r}",
                        field=name) from None


def _range(request: web.Request, prefix: str) -> tuple[date | None, date | None]:
    low, high = _date(request, f"{prefix}_from"), _date(request, f"{prefix}_to")
    if low and high and high < low:
        raise HttpError(400, "invalid_field", f"{prefix}_to ({high}) is before {prefix}_from ({low})",
                        field=f"{prefix}_to")
    return low, high


def _phone(request: web.Request) -> str | None:
    raw = _text(request, "phone")
    if not raw:
        return None
    # An unencoded '+' of a query string reads as a space: "+86 138..." arrives as " 86 138...".
    typed = "+" + raw[1:] if raw.startswith(" ") else raw
    if not queries.PHONE_LIKE.match(typed.strip()) or not any(c.isdigit() for c in typed):
        raise HttpError(400, "invalid_field", f"phone must be a phone number (digits, spaces, dashes, brackets, "
                        f"a + in front), not {raw!r}", field="phone")
    return typed


def _search(request: web.Request) -> queries.OrderSearch:
    placed_from, placed_to = _range(request, "created")
    promised_from, promised_to = _range(request, "promised")
    return queries.OrderSearch(
        customer=_text(request, "customer") or None, phone=_phone(request),
        email=_text(request, "email", MAX_EMAIL) or None, placed_from=placed_from, placed_to=placed_to,
        promised_from=promised_from, promised_to=promised_to, text=_text(request, "q") or None)


async def list_orders(request: web.Request) -> web.Response:
    """Orders, oldest first, filtered by node, workflow, sales owner, lateness, open exceptions, customer,
    contact, dates or free text."""
    engine = _engine(request)
    rows, more = await queries.order_page(
        engine.workflows, engine.today(), node=_text(request, "node"), workflow=_text(request, "workflow"),
        sales_owner=_text(request, "sales_owner"), is_late=_bool(request, "late"),
        open_exceptions=bool(_bool(request, "open_exceptions")), search=_search(request), tz=engine.tz,
        after=_int(request, "after", 0, 0, 2**62), limit=_int(request, "limit", 50, 1, MAX_PAGE))
    return _json(OrderList(orders=[views.summary(engine, o) for o in rows],
                           next_after=rows[-1].id if more else None))


# ---------------------------------------------------------------- webhooks
async def create_webhook(request: web.Request) -> web.Response:
    """201 with the webhook and its secret (the only time it is shown)."""
    body = await parse_body(request, WebhookIn)
    now = _engine(request).clock()
    hook = await webhooks.add(body.url, body.events, _actor(request), now)
    await audit.acted(f"api:{_actor(request)}", "webhook.add", f"webhook:{hook.id}", None,
                      {"url": hook.url, "events": hook.events}, at=now)
    return _json(views.CreatedWebhook(**views.webhook_out(hook).model_dump(), secret=hook.secret), status=201)


async def list_webhooks(request: web.Request) -> web.Response:
    return _json(views.WebhookList(webhooks=[views.webhook_out(h) for h in await webhooks.listed()]))


async def delete_webhook(request: web.Request) -> web.Response:
    raw = request.match_info["webhook_id"]
    now = _engine(request).clock()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18) or not await webhooks.remove(int(raw), now):
        raise HttpError(404, "not_found", f"no active webhook {raw[:20]}")
    await audit.acted(f"api:{_actor(request)}", "webhook.remove", f"webhook:{raw}", {"active": True},
                      {"active": False}, at=now)
    return web.Response(status=204)
