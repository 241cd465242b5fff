"""What a channel adapter is: a small protocol, wrapped around a vendor SDK, never inheriting it.

An adapter turns the channel's raw input into ``InboundMessage`` (``parse``: pure, None for
what it does not understand), sends a ``Reply`` to a ``Target`` (``send``: a ``Delivery``
that says sent, or failed and whether trying again may help), declares the HTTP routes it
serves (``routes``: the application mounts and documents them) and starts and stops its
own background work. It owns the rules of its platform for messages the bot sends first
(WeChat's 48-hour window, e-mail's pacing per domain): ``send`` is told the ``Occasion``.

Each channel package exports a ``Channel``: its name, the settings section it declares
(composed into the config by ``bot/config.py``), why it cannot run with given settings, and
how to make it from those settings and the ``Host``. Adapters never import the
conversation, handlers, notifications, the API or the application: what they need from
them (the conversation to hand messages to, the bot's words) comes in the ``Host``.
Everything outside ``adapters/`` reaches an adapter only through this module.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from models.errors import field_path
from models.messages import Brand, Delivery, InboundMessage, Reply, Target

OnMessage = Callable[[InboundMessage], Awaitable[list[Reply]]]
Words = Callable[[str, str], str]  # the conversation's words: (key, locale) -> text
S = TypeVar("S")


class Section(BaseModel):
    """A section of the config file; an unknown key in it is an error, not a silent typo."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Occasion:
    """Why a message goes out unasked: a notice's kind and facts, for the adapter's proactive rules."""

    kind: str
    order_no: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # the sender's now (its clock may be a test's)


@dataclass(frozen=True)
class Host:
    """What the application hands every adapter."""

    secret_key: str
    public_url: str | None = None
    listen_url: str | None = None  # http://HOST:PORT that serve binds; the service's address when public_url is unset
    on_message: OnMessage | None = None  # the conversation; None where a channel only sends
    words: Words | None = None
    brand: Brand = field(default_factory=Brand)  # the company: the chat page's title, the foot of mail


class Adapter(Protocol):
    """One channel. See the module docstring."""

    name: str
    routes: Sequence[Route]

    def parse(self, raw: Any) -> InboundMessage | None: ...

    async def send(self, target: Target, reply: Reply, occasion: Occasion | None = None) -> Delivery: ...

    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...


@dataclass(frozen=True)
class Channel(Generic[S]):
    """A channel as the application registers it (``bot/channels.py``)."""

    name: str
    settings: type[S]  # its config section, ``[name]``
    problem: Callable[[S], str | None]  # why it cannot run with these settings (said once at start-up)
    make: Callable[[S, Host], Adapter]


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at line ends, else at spaces."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n")
    if text.strip() or not pieces:
        pieces.append(text)
    return pieces


# ---------------------------------------------------------------- HTTP, shared with the API
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Query:
    name: str
    type: str
    description: str
    format: str | None = None  # an OpenAPI format of the value (``date``), where its type says too little


@dataclass(frozen=True)
class Route:
    """One documented route: what it takes, what it answers, which errors it can give."""

    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    auth: bool = True
    scope: str | None = None  # the API key scope it needs (bot/api), when it needs one
    query: tuple[Query, ...] = field(default_factory=tuple)
    tag: str = "orders"
    description: str = ""  # more than the summary says (markdown)
    media: tuple[str, ...] = ()  # the media types of a success body that is not JSON (a page, a script)
    error_text: tuple[tuple[int, str], ...] = ()  # what an error status means here, where the usual text misleads
    headers: tuple[Query, ...] = ()  # request headers it reads, documented as header parameters


class HttpError(Exception):
    """Raised by a handler to answer with a JSON error (the application's middleware writes it)."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None, allowed: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}
        self.allowed = allowed


def error_response(status: int, code: str, message: str, *, field: str | None = None,
                   headers: dict[str, str] | None = None, allowed: tuple[str, ...] | None = None) -> web.Response:
    """Every error of the HTTP interface: ``{"error": {"code", "message"[, "field"][, "allowed"]}}``."""
    return web.json_response({"error": error_body(code, message, field=field, allowed=allowed)}, status=status,
                             headers=headers)


def error_body(code: str, message: str, *, field: str | None = None,
               allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The object under ``"error"``: also each failed item's ``error`` in a batch answer."""
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    if allowed is not None:
        body["allowed"] = list(allowed)
    return body


def validation_error(err: ValidationError) -> HttpError:
    """A pydantic failure as a 400 naming the first bad field."""
    first = err.errors()[0]
    name = field_path(first["loc"]) or "(body)"
    if first["type"] == "missing":
        msg = f"{name} is required"
    elif first["type"] == "extra_forbidden":
        msg = f"{name} is not a known field"
    else:
        msg = f"{name}: {first['msg']}"
    more = len(err.errors()) - 1
    if more:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return HttpError(400, "invalid_field", msg, field=name)
