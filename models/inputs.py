"""What callers hand the progress engine: the API's request bodies, the CLI, imports, the demo.

One definition serves validation (a 400 naming the field), the engine and the OpenAPI
document. Unknown fields are refused so a misspelt field never passes silently.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, PlainSerializer, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Locale = Literal["zh", "en"]
# Exact in Python, a plain JSON number on the wire.
AsNumber = PlainSerializer(float, return_type=float, when_used="json")
JsonDecimal = Annotated[Decimal, AsNumber]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2), AsNumber]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()\-]{3,40}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def fingerprint(self) -> str:
        """A digest of exactly what was asked, to tell a replay from a different request."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()


class CustomerIn(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: EmailStr | None = None
    phone: Phone | None = None
    locale: Locale = "zh"


class ItemIn(_In):
    sku: Annotated[str, StringConstraints(max_length=64)] | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    qty: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=4), AsNumber]
    unit: Annotated[str, StringConstraints(max_length=16)] | None = None
    unit_price: Money | None = None


class OrderIn(_In):
    """A new order, as an ERP sends it."""

    order_no: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    workflow: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "standard"
    customer: CustomerIn
    promised_date: date | None = None
    amount: Money | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"
    sales_owner: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    ship_to: Annotated[str, StringConstraints(max_length=1000)] | None = None
    items: list[ItemIn] = Field(default_factory=list, max_length=500)
    cost: Money | None = None
    supplier: Annotated[str, StringConstraints(max_length=200)] | None = None
    placed_at: datetime | None = None


class EventData(BaseModel):
    """Facts that come with an event; carrier and tracking number are understood, others kept."""

    model_config = ConfigDict(extra="allow")
    carrier: Annotated[str, StringConstraints(max_length=32)] | None = None
    tracking_no: Annotated[str, StringConstraints(max_length=64)] | None = None


class EventIn(_In):
    """An order entering a node. ``event_id`` makes it idempotent: a replay stores nothing new."""

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    node: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    at: datetime | None = None
    actor: Annotated[str, StringConstraints(max_length=128)] | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    data: EventData = Field(default_factory=EventData)
    rework: bool = False
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class CustomerPatch(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    locale: Locale | None = None


class OrderPatch(_In):
    """Changes to an order; only the fields present are changed (null clears one)."""

    promised_date: date | None = None
    sales_owner: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    customer: CustomerPatch | None = None
    ship_to: Annotated[str, StringConstraints(max_length=1000)] | None = None
    apply_to_customer: bool = Field(False, description=(
        "false (the default): a change of `customer` applies to this order only (the order gets a customer "
        "record of its own); true: to every order of this customer"))

    def given(self) -> dict[str, Any]:
        """Only the fields the caller sent (null included), customer fields flattened."""
        out = {k: getattr(self, k) for k in self.model_fields_set if k not in ("customer", "apply_to_customer")}
        if self.customer is not None:
            out.update({f"customer.{k}": getattr(self.customer, k) for k in self.customer.model_fields_set})
        return out


class ExceptionIn(_In):
    """A problem holding an order up; ``at`` (default now) lets an import carry past times.

    ``exception_id`` makes it idempotent, as ``event_id`` does an event: the same id again opens nothing.
    """

    exception_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(None, description=(
        "your own id of this exception (unique per order; or send it as the `Idempotency-Key` header): "
        "the same id with the same content again answers 200 with the exception stored the first time and "
        "tells nobody again; with other content 409"))
    kind: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    severity: Literal["low", "normal", "high", "urgent"] = "normal"
    actor: Annotated[str, StringConstraints(max_length=128)] | None = None
    at: datetime | None = None


class AckIn(_In):
    actor: Annotated[str, StringConstraints(max_length=128)] | None = None
    at: datetime | None = None


class ResolveIn(_In):
    actor: Annotated[str, StringConstraints(max_length=128)] | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    resolution: Annotated[str, StringConstraints(max_length=64)] | None = None
    at: datetime | None = None


class WebhookIn(_In):
    """A URL to tell of events (``models/webhooks.EVENTS``)."""

    url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+[^\s]*$", max_length=2000)]
    events: list[Literal["node_entered", "exception_opened", "exception_resolved", "request_created",
                         "order_late"]] = Field(min_length=1)
