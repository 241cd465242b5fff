"""The route table of the HTTP interface: registration and the OpenAPI document both read it.

A route exists only by being listed here (or declared by a channel adapter, which
documents its own and which the application mounts), so the document cannot forget one.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from aiohttp import web
from pydantic import BaseModel

from adapters.base import HttpError, Query, Route, error_response
from bot.api import endpoints, views
from bot.api.state import KEYS, MOUNTED, PRINCIPAL
from models.inputs import AckIn, EventIn, ExceptionIn, OrderIn, OrderPatch, ResolveIn, WebhookIn
from models.sql import ping

API = "/api/v1"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Health(BaseModel):
    status: str
    database: str


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 (JSON error) when it does not."""
    try:
        await ping()
    except Exception as e:  # noqa: BLE001 - any failure of the database is "unhealthy"
        return error_response(503, "database_unavailable", f"the database does not answer: {type(e).__name__}")
    return web.Response(text=Health(status="ok", database="ok").model_dump_json(), content_type="application/json")


async def openapi(request: web.Request) -> web.Response:
    """The document of every route served: this table's and those the running channels mounted."""
    from bot.api.openapi import document

    return web.json_response(document(ROUTES + request.app.get(MOUNTED, ())))


def _authenticated(handler: Handler, scope: str | None) -> Handler:
    @wraps(handler)
    async def check(request: web.Request) -> web.StreamResponse:
        who = request[PRINCIPAL] = await request.app[KEYS].principal(request)
        if scope is not None and not who.allows(scope):
            raise HttpError(403, "insufficient_scope", f"this API key lacks the scope {scope} "
                            f"(orderbot apikey create --scope {scope})")
        return await handler(request)

    return check


def _known_query(handler: Handler, known: tuple[str, ...]) -> Handler:
    """Refuse a query parameter the route does not take: a misspelt filter must not quietly list everything."""
    @wraps(handler)
    async def check(request: web.Request) -> web.StreamResponse:
        for name in request.query:
            if name not in known:
                raise HttpError(400, "unknown_parameter", f"unknown query parameter {name[:64]!r}; known: "
                                f"{', '.join(known)}", field=name[:64], allowed=known)
        return await handler(request)

    return check


ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", healthz, "Whether the service runs and reaches its database",
          response=Health, errors=(503,), auth=False, tag="service"),
    Route("GET", API + "/openapi.json", openapi, "This document (OpenAPI 3.1)", auth=False, tag="service"),
    Route("POST", API + "/orders", endpoints.create_order, "Create an order; it stands at its workflow's first node",
          body=OrderIn, response=views.CreatedOrder, status=201, errors=(400, 401, 403, 409), scope="orders:write"),
    Route("GET", API + "/orders", endpoints.list_orders, "List orders, oldest first",
          response=endpoints.OrderList, errors=(400, 401, 403), scope="orders:read",
          description="Filters combine (all must hold). Dates are days in the service's time zone, both ends "
                      "included. A query parameter not listed here is refused (400 `unknown_parameter`, "
                      "`error.field` naming it, `error.allowed` listing these).",
          error_text=((400, "An unknown query parameter, or a bad value (a date that is not one, a node or "
                             "workflow nobody has); `error.field` names the parameter"),),
          query=(
              Query("node", "string", "only orders standing at this node: its key (`outbound`) or its "
                    "Chinese or English name (`出库`, `Outbound`, any case)"),
              Query("workflow", "string", "only orders of this workflow"),
              Query("sales_owner", "string", "only orders of this sales member (code)"),
              Query("late", "boolean", "only late (true) or on-time (false) orders"),
              Query("open_exceptions", "boolean", "only orders with an exception not yet resolved"),
              Query("customer", "string", "only orders whose customer's name contains this (any case)"),
              Query("phone", "string", "only orders of the customer with this phone number (compared as digits: "
                    "spaces, dashes, brackets and +86 do not count)"),
              Query("email", "string", "only orders of the customer with this e-mail address (any case)"),
              Query("created_from", "string", "only orders placed (`placed_at`) on or after this day",
                    format="date"),
              Query("created_to", "string", "only orders placed (`placed_at`) on or before this day",
                    format="date"),
              Query("promised_from", "string", "only orders promised on or after this day", format="date"),
              Query("promised_to", "string", "only orders promised on or before this day", format="date"),
              Query("q", "string", "free text: part of the order number or the courier's tracking number, or of "
                    "the customer's name, phone number or e-mail address"),
              Query("after", "integer", "the `next_after` of the previous page"),
              Query("limit", "integer", "at most this many (1-200, default 50)"),
          )),
    Route("POST", API + "/orders/batch", endpoints.orders_batch, "Create up to 1,000 orders in one call",
          body=views.OrderBatchIn, response=views.BatchOut, errors=(400, 401, 403, 413), scope="orders:write",
          description="Each item is what `POST /orders` takes, and is created (or found again) on its own, in "
                      "its own transaction: a refused item stops no other. The answer has one result per item, "
                      "in order: `status` and `body`, or `status` and `error`, exactly as the single call would "
                      "answer (201 created, 200 the same order again, with `replayed`; 400, 409). Sending the "
                      "same batch again stores nothing new. The body may have at most 8 MB.",
          error_text=((400, "The body is not `{\"items\": [...]}` with 1 to 1,000 items"),
                      (413, "More than 1,000 items, or a body over 8 MB"))),
    Route("POST", API + "/events/batch", endpoints.events_batch, "Record up to 1,000 node events in one call",
          body=views.EventBatchIn, response=views.BatchOut, errors=(400, 401, 403, 413), scope="events:write",
          description="Each item is what `POST /orders/{order_no}/events` takes, plus its `order_no`; items are "
                      "recorded one after the other, in order (so several events of one order may follow each "
                      "other in one batch), each on its own: a refused item (404, 409, 422, 400) stops no other. "
                      "One result per item, in order, with the single call's status and body or error; a replayed "
                      "`event_id` answers 201 with `replayed: true` and stores nothing.",
          error_text=((400, "The body is not `{\"items\": [...]}` with 1 to 1,000 items"),
                      (413, "More than 1,000 items, or a body over 8 MB"))),
    Route("POST", API + "/webhooks", endpoints.create_webhook, "Tell a URL of events (a signed JSON POST each)",
          body=WebhookIn, response=views.CreatedWebhook, status=201, errors=(400, 401, 403),
          scope="webhooks:admin", tag="webhooks",
          description="Each delivery is a JSON POST `{id, type, created_at, data}` with the header "
                      "`X-Orderbot-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" under the "
                      "secret>`; `X-Orderbot-Delivery` is the event's id. Retried with backoff for 24 hours; a URL "
                      "answering 410 is disabled. The answer's `secret` is shown only here."),
    Route("GET", API + "/webhooks", endpoints.list_webhooks, "The webhooks", response=views.WebhookList,
          errors=(401, 403), scope="webhooks:admin", tag="webhooks"),
    Route("DELETE", API + "/webhooks/{webhook_id}", endpoints.delete_webhook, "Stop telling a webhook",
          status=204, errors=(401, 403, 404), scope="webhooks:admin", tag="webhooks"),
    Route("GET", API + "/orders/{order_no}", endpoints.get_order, "One order: timeline, events, exceptions",
          response=views.OrderDetail, errors=(401, 403, 404), scope="orders:read"),
    Route("PATCH", API + "/orders/{order_no}", endpoints.patch_order,
          "Change promised date, sales owner, customer contact or ship-to",
          body=OrderPatch, response=views.OrderDetail, errors=(400, 401, 403, 404), scope="orders:write"),
    Route("POST", API + "/orders/{order_no}/events", endpoints.post_event,
          "Record a node event; idempotent on event_id", body=EventIn, response=views.EventResultOut,
          status=201, errors=(400, 401, 403, 404, 409, 422), scope="events:write"),
    Route("POST", API + "/orders/{order_no}/exceptions", endpoints.open_exception,
          "Open an exception; idempotent on exception_id (or Idempotency-Key)",
          body=ExceptionIn, response=views.ExceptionOut, status=201, errors=(400, 401, 403, 404, 409),
          scope="events:write",
          description="Give the exception an id of your own (`exception_id` in the body, or the `Idempotency-Key` "
                      "header: the same thing; both, and they must agree) and a retry is safe: the same id with "
                      "the same content answers 200 with the exception stored the first time, marked "
                      "`Idempotent-Replayed: true`, and writes and tells nobody anything new. Ids are unique per "
                      "order. Without an id every request opens a new exception.",
          error_text=((400, "A field that fails validation (named in `error.field`), or an `Idempotency-Key` "
                            "that differs from the body's `exception_id`"),
                      (409, "The same exception_id (or Idempotency-Key) again with different content")),
          headers=(Query(endpoints.IDEMPOTENCY_KEY, "string", "the same as the body's `exception_id` "
                         "(1-128 characters); if both are sent they must be equal"),)),
    Route("POST", API + "/orders/{order_no}/exceptions/{exception_id}/ack", endpoints.ack_exception,
          "Acknowledge an exception (someone has it)", body=AckIn, response=views.ExceptionOut,
          errors=(400, 401, 403, 404), scope="events:write"),
    Route("POST", API + "/orders/{order_no}/exceptions/{exception_id}/resolve", endpoints.resolve_exception,
          "Resolve an exception", body=ResolveIn, response=views.ExceptionOut, errors=(400, 401, 403, 404),
          scope="events:write"),
)


def register(app: web.Application) -> None:
    """Add every route of the table to ``app``, behind the API key check where it says so."""
    for r in ROUTES:
        handler = _known_query(r.handler, tuple(q.name for q in r.query)) if r.query else r.handler
        app.router.add_route(r.method, r.path, _authenticated(handler, r.scope) if r.auth else handler)
