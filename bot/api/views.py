"""An order as the outside sees it: the API's response bodies and the CLI's `order show`.

The models here describe the full record; the view policies decide which parts of it an
audience may see. The pydantic models double as the OpenAPI response schemas.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_type_hints

from pydantic import BaseModel, Field, create_model

from models import access
from models.engine import ProgressEngine
from models.inputs import EventIn, JsonDecimal, OrderIn
from models.orders import EventRecord, Order, OrderCommercial, OrderException, events_of
from models.workflows import Workflow


class Name(BaseModel):
    zh: str
    en: str


# An event as the API shows it: the stored EventRecord, without the database's own keys.
EventOut = create_model("EventOut", **{name: (hint, ...) for name, hint in get_type_hints(EventRecord).items()
                                       if name not in ("id", "fingerprint")})


class ExceptionOut(BaseModel):
    id: int = Field(description="the service's number of the exception, for the ack and resolve routes")
    exception_id: str | None = Field(description="your own id of it (`exception_id` or `Idempotency-Key`), if given")
    kind: str
    status: Literal["open", "acknowledged", "resolved"]
    severity: str
    node: str
    note: str | None
    opened_by: str | None
    opened_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str | None
    resolution_note: str | None


class NodeOut(BaseModel):
    key: str
    name: Name
    state: Literal["done", "skipped", "current", "pending"]
    entered_at: datetime | None
    sla_hours: float
    customer_visible: bool


class CustomerOut(BaseModel):
    name: str
    email: str | None
    phone: str | None
    locale: str


MONEY = "Only for keys with the `money:read` scope (or `admin`): absent from the answer otherwise."


class OrderSummary(BaseModel):
    order_no: str
    workflow: str
    current_node: str
    current_node_name: Name | None
    node_entered_at: datetime
    eta: datetime | None
    promised_date: date | None
    late: bool
    node_overdue: bool
    sales_owner: str | None


class OrderDetail(OrderSummary):
    customer: CustomerOut
    ship_to: str | None
    items: list[dict[str, Any]]
    carrier: str | None
    tracking_no: str | None
    amount: Annotated[JsonDecimal | None, Field(description=MONEY)]
    currency: str | None
    unit_prices: Annotated[list[dict[str, Any]] | None, Field(description=MONEY)]
    cost: Annotated[JsonDecimal | None, Field(description=MONEY)]
    profit: Annotated[JsonDecimal | None, Field(description=MONEY)]
    supplier: Annotated[str | None, Field(description=MONEY)]
    nodes: list[NodeOut]
    events: list[EventOut]
    exceptions: list[ExceptionOut]
    placed_at: datetime
    created_at: datetime
    updated_at: datetime
    version: int


class BindLinks(BaseModel):
    """Ways for the customer to link a chat without a code (put them in the order confirmation)."""

    telegram: str | None  # https://t.me/<bot>?start=<token>, once the bot's username is known
    wechat_scene: str  # the scene of a WeChat parametric QR code
    web: str | None  # the web chat, when [server] public_url is set


@dataclass(frozen=True)
class LinkMaker:
    """A fresh bind token for one order and the links that use it (``links`` of ``POST /orders``).

    Each token opens that one order, for the first chat that uses it, for 30 days
    (``models.access``).
    """

    public_url: str | None
    telegram_username: Callable[[], str | None]  # known once the Telegram channel has asked getMe
    clock: Callable[[], datetime]

    async def __call__(self, order_id: int) -> tuple[str, BindLinks]:
        token = await access.new_token(order_id, self.clock())
        bot_name, public = self.telegram_username(), self.public_url
        return token, BindLinks(telegram=f"https://t.me/{bot_name}?start={token}" if bot_name else None,
                                wechat_scene=f"bind_{token}", web=f"{public}/chat?start={token}" if public else None)


class CreatedOrder(OrderDetail):
    bind_token: str
    links: BindLinks


class EventResultOut(BaseModel):
    order_no: str
    previous_node: str | None
    current_node: str
    event: EventOut


def event_out(e: EventRecord) -> EventOut:
    return EventOut(**{name: getattr(e, name) for name in EventOut.model_fields})


def exception_out(x: OrderException) -> ExceptionOut:
    return ExceptionOut(
        id=x.id, exception_id=x.exception_id, kind=x.kind, status=x.status, severity=x.severity, node=x.node,
        note=x.note,
        opened_by=x.opened_by, opened_at=x.opened_at, acknowledged_by=x.acknowledged_by,
        acknowledged_at=x.acknowledged_at, resolved_by=x.resolved_by, resolved_at=x.resolved_at,
        resolution=x.resolution, resolution_note=x.resolution_note,
    )


def event_result_out(order_no: str, e: EventRecord) -> EventResultOut:
    """What a node-event request answers; built from the stored event, so a replay answers alike."""
    return EventResultOut(order_no=order_no, previous_node=e.from_node, current_node=e.node, event=event_out(e))


def _name(wf: Workflow | None, key: str) -> Name | None:
    if wf is None or not wf.has(key):
        return None
    n = wf.node(key)
    return Name(zh=n.name_zh, en=n.name_en)


def summary(engine: ProgressEngine, order: Order) -> OrderSummary:
    wf = engine.workflows.get(order.workflow)
    now = engine.clock()
    return OrderSummary(
        order_no=order.order_no, workflow=order.workflow, current_node=order.current_node,
        current_node_name=_name(wf, order.current_node), node_entered_at=order.node_entered_at,
        eta=engine.eta(order, now), promised_date=order.promised_date, late=engine.is_late(order, now),
        node_overdue=engine.node_overdue(order, now), sales_owner=order.sales_owner,
    )


def timeline(wf: Workflow | None, current: str, events: list[EventRecord]) -> list[NodeOut]:
    """Every node of the workflow with its state; entered_at from the latest entry into it."""
    if wf is None:
        return []
    entered: dict[str, datetime] = {}
    for e in events:  # oldest first: a later entry (after rework) wins
        if e.kind != "update":
            entered[e.node] = e.at
    here = wf.index(current) if wf.has(current) else -1
    out = []
    for i, n in enumerate(wf.nodes):
        if i < here:
            state = "done" if n.key in entered else "skipped"
        elif i == here:
            state = "current"
        else:
            state = "pending"
        out.append(NodeOut(key=n.key, name=Name(zh=n.name_zh, en=n.name_en), state=state,
                           entered_at=entered.get(n.key) if state in ("done", "current") else None,
                           sla_hours=n.sla_hours, customer_visible=n.customer_visible))
    return out


async def detail(engine: ProgressEngine, order: Order) -> OrderDetail:
    """The whole record of one order: timeline, events, exceptions, contact and commercial data."""
    events = await events_of(order.id)
    exceptions = await OrderException.filter(order_id=order.id).order_by("id")
    customer = await order.customer
    money = await OrderCommercial.filter(order_id=order.id).first()
    profit = (money.amount - money.cost) if money and money.amount is not None and money.cost is not None else None
    wf = engine.workflows.get(order.workflow)
    return OrderDetail(
        **summary(engine, order).model_dump(),
        customer=CustomerOut(name=customer.name, email=customer.email, phone=customer.phone,
                             locale=customer.locale),
        ship_to=order.ship_to, items=order.items, carrier=order.carrier, tracking_no=order.tracking_no,
        amount=money.amount if money else None, currency=money.currency if money else None,
        unit_prices=money.unit_prices if money else None, cost=money.cost if money else None,
        profit=profit, supplier=money.supplier if money else None,
        nodes=timeline(wf, order.current_node, events),
        events=[event_out(e) for e in events], exceptions=[exception_out(x) for x in exceptions],
        placed_at=order.placed_at, created_at=order.created_at, updated_at=order.updated_at,
        version=order.version,
    )


# ---------------------------------------------------------------- batches
class EventBatchItem(EventIn):
    """A node event with the order it belongs to."""

    order_no: str = Field(min_length=1, max_length=64)


class OrderBatchIn(BaseModel):
    items: list[OrderIn] = Field(min_length=1, max_length=1000)


class EventBatchIn(BaseModel):
    items: list[EventBatchItem] = Field(min_length=1, max_length=1000)


class BatchError(BaseModel):
    code: str
    message: str
    field: str | None = None
    allowed: list[str] | None = None


class BatchResult(BaseModel):
    """One item's answer: the status and body (or error) its single call would have given."""

    index: int
    status: int
    replayed: bool = Field(False, description="the item was stored before (an idempotent replay): nothing new")
    body: dict[str, Any] | None = None
    error: BatchError | None = None


class BatchOut(BaseModel):
    results: list[BatchResult]
    succeeded: int
    failed: int


# ---------------------------------------------------------------- webhooks
class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    disabled_why: str | None = None


class CreatedWebhook(WebhookOut):
    secret: str = Field(description="signs every delivery (X-Orderbot-Signature); shown in this answer only")


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


def webhook_out(h) -> WebhookOut:
    return WebhookOut(id=h.id, url=h.url, events=h.events, active=h.active, created_at=h.created_at,
                      disabled_why=h.disabled_why)
