"""Delivering one webhook event: a JSON POST signed with the webhook's secret.

``X-Orderbot-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` (the receiver
checks it and the time, so a copied request cannot be replayed later); ``X-Orderbot-Event``
is the type and ``X-Orderbot-Delivery`` the event's id, for the receiver to drop a repeat.
2xx is delivered; 410 Gone disables the webhook; anything else, or no answer within 10 s,
is tried again later by the outbox sender. Every try is logged (``webhook_attempts``).
"""
from __future__ import annotations

import hashlib
import hmac
import time

import aiohttp
import orjson

from adapters.base import Occasion, Route
from models import webhooks
from models.messages import Delivery, InboundMessage, Reply, Target
from models.schedule import utcnow

SIGNATURE = "X-Orderbot-Signature"
TIMEOUT = aiohttp.ClientTimeout(total=10)


def sign(secret: str, body: bytes, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


class WebhookSender:
    """The ``webhook`` channel of the outbox sender: a target's address is the webhook's id."""

    name = "webhook"
    routes: tuple[Route, ...] = ()

    def __init__(self, clock=None) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._clock = clock or utcnow

    def parse(self, raw: object) -> InboundMessage | None:
        return None

    async def send(self, target: Target, reply: Reply, occasion: Occasion | None = None) -> Delivery:
        hook = await webhooks.active(int(target.address)) if target.address.isdigit() else None
        if hook is None or occasion is None:
            return Delivery.failed("the webhook was removed or disabled", retryable=False, unreachable=True)
        event = occasion.payload["event"]
        body = orjson.dumps(event)
        headers = {"Content-Type": "application/json", "User-Agent": "orderbot-webhooks",
                   SIGNATURE: sign(hook.secret, body, int(time.time())), "X-Orderbot-Event": event["type"],
                   "X-Orderbot-Delivery": event["id"]}
        outbox_id = int(occasion.payload.get("outbox_id", 0))
        started = time.perf_counter()
        try:
            async with self.session.post(hook.url, data=body, headers=headers, allow_redirects=False) as r:
                status = r.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            await webhooks.attempted(outbox_id, hook.id, self._clock(), None, f"{type(e).__name__}: {e}",
                                     int((time.perf_counter() - started) * 1000))
            return Delivery.failed(f"{hook.url}: {type(e).__name__}: {e}", retryable=True)
        await webhooks.attempted(outbox_id, hook.id, self._clock(), status, None,
                                 int((time.perf_counter() - started) * 1000))
        if 200 <= status < 300:
            return Delivery.sent()
        if status == 410:
            await webhooks.disable(hook.id, f"{hook.url} answered 410 Gone", self._clock())
            return Delivery.failed(f"{hook.url} answered 410 Gone: the webhook is disabled", retryable=False)
        return Delivery.failed(f"{hook.url} answered {status}", retryable=True)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()

