"""Outgoing webhooks against a local receiver: signed as the README says, delivered once the
receiver recovers, never twice, given up after 24 hours and sent again on request, disabled
by 410, and not lost when the server is killed between the change and the delivery."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.webhook import WebhookSender
from models import webhooks
from models.apikeys import ApiKey, hash_key, new_key
from models.outbox import Outbox
from models.webhooks import Webhook, WebhookAttempt
from notifications.sending import OutboxSender
from tests.kit.base import ROOT, Api, free_port, healthy, order_body
from tests.kit.fakes import Clock

NO = "SO202612070101"


def readme_verify():
    """The verification snippet exactly as README.md shows it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"## Webhooks.*?```python\n(.*?)```", text, re.S).group(1)
    space: dict = {}
    exec(compile(code, "README.md", "exec"), space)  # noqa: S102 - our own README's snippet
    return space["verify"]


class Receiver:
    """Another system's endpoint: keeps what it is sent, answers the statuses it is given (then 200)."""

    def __init__(self) -> None:
        self.got: list[tuple[dict, bytes]] = []
        self.answers: list[int] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append((dict(request.headers), await request.read()))
        return web.Response(status=self.answers.pop(0) if self.answers else 200)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        return app


@pytest.fixture
async def receiver():
    r = Receiver()
    server = TestServer(r.app(), host="127.0.0.1")
    await server.start_server()
    r.url = str(server.make_url("/hook"))
    yield r
    await server.close()


@pytest.fixture
async def clocked(engine):
    engine.clock = Clock(datetime.now(timezone.utc))
    return engine.clock


@pytest.fixture
async def sender(engine, settings, clocked):
    channel = WebhookSender(clock=clocked)
    yield OutboxSender(settings.notifications, engine, {"webhook": channel})
    await channel.shutdown()


async def moved(api: Api, node: str = "approved", event_id: str = "erp-1") -> None:
    status, _ = await api.event(NO, event_id, node)
    assert status == 201


async def test_a_delivery_is_signed_as_the_readme_shows_and_carries_the_event(api: Api, engine, receiver, sender):
    hook = await webhooks.add(receiver.url, ["node_entered", "exception_opened"], "test", engine.clock())
    assert (await api.create(NO))[0] == 201
    await moved(api)
    await sender.run_once()
    [(headers, body)] = receiver.got
    verify = readme_verify()
    assert verify(hook.secret, body, headers["X-Orderbot-Signature"])
    assert not verify(hook.secret, body + b" ", headers["X-Orderbot-Signature"]), "another body does not verify"
    assert not verify("whsec_other", body, headers["X-Orderbot-Signature"])
    event = json.loads(body)
    assert (event["type"], event["data"]["order_no"], event["data"]["node"], event["data"]["previous_node"]) == \
        ("node_entered", NO, "approved", "placed")
    assert headers["X-Orderbot-Event"] == "node_entered" and headers["X-Orderbot-Delivery"] == event["id"]
    status, _ = await api.call("POST", f"/api/v1/orders/{NO}/exceptions", {"kind": "stockout", "note": "缺料"})
    assert status == 201
    await sender.run_once()
    assert json.loads(receiver.got[-1][1])["type"] == "exception_opened"


async def test_a_receiver_that_fails_twice_gets_the_delivery_once_it_recovers(api: Api, engine, receiver, sender,
                                                                              clocked):
    await webhooks.add(receiver.url, ["node_entered"], "test", engine.clock())
    await api.create(NO)
    receiver.answers = [500, 503]
    await moved(api)
    await sender.run_once()
    clocked.advance(seconds=16)  # the first retry comes 5-15 s on
    await sender.run_once()
    clocked.advance(seconds=31)  # the second 10-30 s after that
    await sender.run_once()
    assert len(receiver.got) == 3 and len({h["X-Orderbot-Delivery"] for h, _ in receiver.got}) == 1
    [row] = await Outbox.filter(audience="webhook")
    assert row.status == "sent"
    codes = await WebhookAttempt.filter(outbox_id=row.id).order_by("id").values_list("status_code", flat=True)
    assert codes == [500, 503, 200]
    clocked.advance(hours=2)
    await sender.run_once()
    assert len(receiver.got) == 3, "delivered is done with"


async def test_a_replayed_event_is_never_delivered_twice(api: Api, engine, receiver, sender):
    await webhooks.add(receiver.url, ["node_entered"], "test", engine.clock())
    await api.create(NO)
    await moved(api)
    await moved(api)  # the ERP sends the same event again
    await sender.run_once()
    await moved(api)
    await sender.run_once()
    assert len(receiver.got) == 1 and await Outbox.filter(audience="webhook").count() == 1


async def test_only_the_events_asked_for_and_410_disables(api: Api, engine, receiver, sender):
    hook = await webhooks.add(receiver.url, ["exception_opened"], "test", engine.clock())
    await api.create(NO)
    await moved(api)
    assert await Outbox.filter(audience="webhook").count() == 0, "node_entered was not asked for"
    receiver.answers = [410]
    await api.call("POST", f"/api/v1/orders/{NO}/exceptions", {"kind": "stockout"})
    await sender.run_once()
    hook = await Webhook.get(id=hook.id)
    assert not hook.active and "410" in hook.disabled_why
    [row] = await Outbox.filter(audience="webhook")
    assert row.status == "failed" and "410" in row.last_error
    await api.call("POST", f"/api/v1/orders/{NO}/exceptions", {"kind": "qc_fail"})
    assert await Outbox.filter(audience="webhook").count() == 1, "a disabled webhook is owed nothing new"


async def test_after_24_hours_a_delivery_fails_is_listed_and_can_be_sent_again(api: Api, engine, receiver, sender,
                                                                               clocked):
    hook = await webhooks.add(receiver.url, ["node_entered"], "test", engine.clock())
    await api.create(NO)
    receiver.answers = [500] * 1000
    await moved(api)
    for _ in range(26):
        await sender.run_once()
        clocked.advance(hours=1)
    await sender.run_once()
    [failed] = await webhooks.deliveries(hook.id, failed=True)
    assert failed.status == "failed" and failed.last_code == 500 and failed.attempts >= 12
    row = await Outbox.get(id=failed.id)
    assert "24 hours" in row.last_error and "500" in row.last_error
    tried = len(receiver.got)
    receiver.answers = []
    assert await webhooks.redeliver([failed.id], clocked()) == (1, [])
    await sender.run_once()
    assert len(receiver.got) == tried + 1 and (await Outbox.get(id=failed.id)).status == "sent"
    assert (await webhooks.redeliver([failed.id], clocked()))[1], "a delivered one is not sent again"


async def test_requests_and_late_orders_are_events_too(api: Api, engine, receiver, sender, settings):
    from models.messages import Target
    from models.orders import Order
    from models.requests import record
    from notifications.scanner import Scanner
    from notifications.triggers import Triggers

    await webhooks.add(receiver.url, ["request_created", "order_late"], "test", engine.clock())
    await api.create(NO, promised_date="2026-01-01")
    await record(await Order.get(order_no=NO), "expedite", "快点发货", Target("telegram", "5001"), None,
                 engine.clock())
    await Scanner(engine, Triggers(engine, settings.notifications)).late()
    await Scanner(engine, Triggers(engine, settings.notifications)).late()  # told once
    await sender.run_once()
    types = sorted(json.loads(body)["type"] for _, body in receiver.got)
    assert types == ["order_late", "request_created"]


async def test_the_api_manages_webhooks_with_its_own_scope(api: Api, receiver):
    status, made = await api.call("POST", "/api/v1/webhooks", {"url": receiver.url, "events": ["node_entered"]})
    assert status == 201 and made["secret"].startswith("whsec_") and made["events"] == ["node_entered"]
    status, listed = await api.call("GET", "/api/v1/webhooks")
    assert status == 200 and [h["id"] for h in listed["webhooks"]] == [made["id"]] and "secret" not in listed["webhooks"][0]
    for body, field in (({"url": receiver.url, "events": ["node_moved"]}, "events[0]"),
                        ({"url": "ftp://x", "events": ["node_entered"]}, "url"),
                        ({"url": receiver.url, "events": []}, "events")):
        status, data = await api.call("POST", "/api/v1/webhooks", body)
        assert status == 400 and data["error"]["field"] == field, body
    reader = new_key()
    await ApiKey.create(name="erp", prefix=reader[:10], key_hash=hash_key(reader), scopes="orders:read orders:write")
    status, data = await api.call("GET", "/api/v1/webhooks", key=reader)
    assert status == 403 and data["error"]["code"] == "insufficient_scope"
    assert (await api.call("DELETE", f"/api/v1/webhooks/{made['id']}"))[0] == 204
    assert (await api.call("DELETE", f"/api/v1/webhooks/{made['id']}"))[0] == 404
    assert (await api.call("DELETE", "/api/v1/webhooks/abc"))[0] == 404


def test_the_cli_adds_lists_and_refuses_bad_input(cli):
    made = cli("webhook", "add", "https://erp.example/hook", "--events", "node_entered,order_late")
    assert made.code == 0, made.err
    assert made.out.strip().startswith("whsec_") and "webhook #1" in made.err
    listed = cli("webhook", "list")
    assert "https://erp.example/hook" in listed.out and "node_entered,order_late" in listed.out
    bad = cli("webhook", "add", "https://erp.example/hook", "--events", "node_moved")
    assert bad.code != 0 and "node_moved" in bad.err and "Traceback" not in bad.err
    bad = cli("webhook", "add", "erp.example/hook", "--events", "node_entered")
    assert bad.code != 0 and "URL" in bad.err
    assert cli("webhook", "redeliver", "99").code != 0
    assert cli("webhook", "remove", "1").code == 0 and "no active webhook" in cli("webhook", "remove", "1").err


async def test_killed_between_the_change_and_the_delivery_it_still_delivers_after_restart(settings, engine, cli):
    """kill -9 while the delivery waits for its retry; the receiver comes up; the restarted server delivers it."""
    port, hook_port = free_port(), free_port()
    url = f"http://127.0.0.1:{hook_port}/hook"
    secret = cli("webhook", "add", url, "--events", "node_entered").out.strip()
    key = new_key()
    await ApiKey.create(name="erp", prefix=key[:10], key_hash=hash_key(key))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
    env.update(ORDERBOT_CONFIG=str(cli.config), PYTHONPATH=str(ROOT))

    def serve() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    import aiohttp

    first = serve()
    try:
        assert await healthy(port, first, 60)
        headers = {"Authorization": f"Bearer {key}"}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}/api/v1/orders", json=order_body(NO), headers=headers) as r:
                assert r.status == 201
            async with http.post(f"http://127.0.0.1:{port}/api/v1/orders/{NO}/events",
                                 json={"event_id": "e1", "node": "approved"}, headers=headers) as r:
                assert r.status == 201
        for _ in range(100):  # the first try fails (nobody listens yet) and the row waits for its retry
            if await WebhookAttempt.all().count():
                break
            await asyncio.sleep(0.1)
        assert await WebhookAttempt.all().count() >= 1
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    got = Receiver()
    server = TestServer(got.app(), host="127.0.0.1", port=hook_port)
    await server.start_server()
    second = serve()
    try:
        assert await healthy(port, second, 60)
        for _ in range(300):
            if got.got:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        assert len(got.got) == 1
        headers, body = got.got[0]
        assert readme_verify()(secret, body, headers["X-Orderbot-Signature"])
        assert json.loads(body)["data"]["order_no"] == NO
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(20)
        await server.close()
