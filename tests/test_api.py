"""The integration API over real HTTP: happy paths, every error status with its JSON body,
idempotency under concurrency, and the OpenAPI document."""
from __future__ import annotations

import asyncio
import random

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from bot.app import build_app, make_channel
from models.orders import NodeEvent, Order, OrderException
from models.outbox import Outbox
from models.people import add_staff
from tests.kit.base import Api, order_body

NO = "SO202611240001"


def is_error(data, code: str | None = None) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("error"), dict)
            and {"code", "message"} <= set(data["error"]) and (code is None or data["error"]["code"] == code))


async def test_create_then_read_an_order(api: Api):
    status, data = await api.create(NO, sales_owner="S001", ship_to="上海市浦东新区")
    assert status == 201
    assert data["order_no"] == NO and data["current_node"] == "placed"
    status, data = await api.call("GET", f"/api/v1/orders/{NO}")
    assert status == 200
    for key in ("order_no", "workflow", "current_node", "eta", "promised_date", "late", "events", "exceptions"):
        assert key in data
    assert data["promised_date"] == "2030-01-31" and data["late"] is False
    assert data["events"][0]["event_id"] == "created"
    assert {"event_id", "node", "at", "actor", "source", "note", "data"} <= set(data["events"][0])
    assert data["amount"] == 12345.67 and data["sales_owner"] == "S001"


@pytest.mark.parametrize("written", ["so202611240001", "SO-2026-1124-0001", " so 2026 1124 0001 ",
                                     "ＳＯ２０２６１１２４０００１", "SO—20261124—0001"])
async def test_order_numbers_are_normalised_on_the_way_in(api: Api, written: str):
    await api.create(written)
    status, data = await api.call("GET", f"/api/v1/orders/{NO}")
    assert status == 200 and data["order_no"] == NO
    status, _ = await api.call("GET", "/api/v1/orders/" + written.strip().replace(" ", "%20"))
    assert status == 200


async def test_recreating_the_same_order_is_200_and_different_data_is_409(api: Api):
    assert (await api.create(NO))[0] == 201
    status, data = await api.create(NO)
    assert status == 200 and data["order_no"] == NO
    status, data = await api.create(NO, amount=99.0)
    assert status == 409 and is_error(data, "conflict")
    assert await Order.all().count() == 1


async def test_events_move_the_order_and_a_replay_is_stored_once(api: Api):
    await api.create(NO)
    first = await api.event(NO, "erp-1", "approved", note="ok", at="2026-11-24T10:00:00+08:00")
    again = await api.event(NO, "erp-1", "approved", note="ok", at="2026-11-24T10:00:00+08:00")
    assert first[0] == again[0] == 201
    assert first[1] == again[1]
    assert api.last_headers.get("Idempotent-Replayed") == "true"
    status, data = await api.call("GET", f"/api/v1/orders/{NO}")
    assert data["current_node"] == "approved"
    assert [e["event_id"] for e in data["events"]].count("erp-1") == 1


async def test_error_statuses_have_json_bodies(api: Api):
    await api.create(NO)
    # 400: malformed JSON
    status, data = await api.call("POST", "/api/v1/orders", raw=b'{"order_no": "SO2099')
    assert status == 400 and is_error(data, "malformed_json")
    status, data = await api.call("POST", "/api/v1/orders", raw=b'["a list"]')
    assert status == 400 and is_error(data, "malformed_json")
    # 400: a field that fails validation, named
    status, data = await api.call("POST", "/api/v1/orders",
                                  order_body("SO202611240002", customer={"name": "x", "email": "not-an-email"}))
    assert status == 400 and is_error(data, "invalid_field") and data["error"]["field"] == "customer.email"
    status, data = await api.call("POST", "/api/v1/orders", order_body("SO202611240002", promised_date="soon"))
    assert status == 400 and data["error"]["field"] == "promised_date"
    status, data = await api.call("POST", "/api/v1/orders", order_body("SO202611240002", colour="red"))
    assert status == 400 and data["error"]["field"] == "colour"
    status, data = await api.call("POST", "/api/v1/orders", order_body("not a number!"))
    assert status == 400 and data["error"]["field"] == "order_no"
    status, data = await api.call("POST", f"/api/v1/orders/{NO}/events", {"node": "approved"})
    assert status == 400 and data["error"]["field"] == "event_id" and "required" in data["error"]["message"]
    # 401: missing or wrong key
    status, data = await api.call("GET", f"/api/v1/orders/{NO}", key=None)
    assert status == 401 and is_error(data, "unauthorized")
    status, data = await api.call("GET", f"/api/v1/orders/{NO}", key="ob_wrong")
    assert status == 401 and is_error(data, "unauthorized")
    # 404: unknown order, unknown exception, unknown route
    status, data = await api.call("GET", "/api/v1/orders/SO209912319999")
    assert status == 404 and is_error(data, "not_found")
    status, data = await api.call("POST", f"/api/v1/orders/{NO}/exceptions/77/resolve", {})
    assert status == 404 and is_error(data, "not_found")
    status, data = await api.call("GET", "/api/v1/nothing-here")
    assert status == 404 and is_error(data)
    # 405
    status, data = await api.call("DELETE", f"/api/v1/orders/{NO}")
    assert status == 405 and is_error(data, "method_not_allowed")
    # 409: event_id reused for another event
    await api.event(NO, "erp-1", "approved")
    status, data = await api.event(NO, "erp-1", "paid")
    assert status == 409 and is_error(data, "conflict")
    # 422: skipping a node that may not be skipped, an unknown node, going back
    status, data = await api.event(NO, "erp-2", "delivered")
    assert status == 422 and is_error(data, "workflow_violation")
    status, data = await api.event(NO, "erp-3", "teleported")
    assert status == 422 and is_error(data, "workflow_violation")
    status, data = await api.event(NO, "erp-4", "placed")
    assert status == 422 and "rework" in data["error"]["message"]
    # and nothing of the refused requests was stored
    assert await NodeEvent.all().count() == 2
    assert await Order.all().count() == 1


async def test_an_oversized_body_is_a_json_413(api: Api):
    status, data = await api.call("POST", "/api/v1/orders", raw=b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert status == 413 and is_error(data)


async def test_patch_changes_promised_date_owner_contact_and_ship_to(api: Api):
    await api.create(NO)
    status, data = await api.call("PATCH", f"/api/v1/orders/{NO}", {
        "promised_date": "2020-02-15", "sales_owner": "S002", "ship_to": "深圳市南山区",
        "customer": {"email": "Li@Buyer.example", "phone": "13900000000"}})
    assert status == 200
    assert data["promised_date"] == "2020-02-15" and data["late"] is True
    assert data["sales_owner"] == "S002" and data["ship_to"] == "深圳市南山区"
    assert data["customer"]["email"] == "li@buyer.example" and data["customer"]["name"] == "张三"
    status, data = await api.call("PATCH", f"/api/v1/orders/{NO}", {"promised_date": "someday"})
    assert status == 400 and data["error"]["field"] == "promised_date"
    status, data = await api.call("PATCH", "/api/v1/orders/SO209912319999", {"ship_to": "x"})
    assert status == 404


async def test_exception_lifecycle(api: Api):
    await api.create(NO)
    status, x = await api.call("POST", f"/api/v1/orders/{NO}/exceptions", {"kind": "stockout", "note": "缺料"})
    assert status == 201 and x["status"] == "open" and x["kind"] == "stockout"
    status, data = await api.call("POST", f"/api/v1/orders/{NO}/exceptions", {"kind": "bad-luck"})
    assert status == 400 and data["error"]["field"] == "kind"
    status, data = await api.call("POST", f"/api/v1/orders/{NO}/exceptions/{x['id']}/ack")
    assert status == 200 and data["status"] == "acknowledged" and data["acknowledged_by"] == "erp-test"
    status, data = await api.call("POST", f"/api/v1/orders/{NO}/exceptions/{x['id']}/resolve",
                                  {"note": "到货了", "resolution": "restocked"})
    assert status == 200 and data["status"] == "resolved"
    _, order = await api.call("GET", f"/api/v1/orders/{NO}")
    assert [(e["id"], e["kind"], e["status"]) for e in order["exceptions"]] == [(x["id"], "stockout", "resolved")]


async def test_a_retried_exception_is_stored_once_and_alerts_once(api: Api):
    await add_staff("王销售", "sales", "S001", "sales", {"telegram": "2002"}, None)  # told of the order's exceptions
    await api.create(NO, sales_owner="S001")
    path, body = f"/api/v1/orders/{NO}/exceptions", {"kind": "stockout", "note": "缺料"}
    status, first = await api.call("POST", path, {**body, "exception_id": "wms-hold-7"})
    assert status == 201 and first["exception_id"] == "wms-hold-7" and "Idempotent-Replayed" not in api.last_headers
    status, again = await api.call("POST", path, {**body, "exception_id": "wms-hold-7"})
    assert status == 200 and again == first and api.last_headers.get("Idempotent-Replayed") == "true"
    status, by_header = await api.call("POST", path, body, headers={"Idempotency-Key": "wms-hold-7"})
    assert status == 200 and by_header == first, "the header and the body's exception_id are the same thing"
    status, both = await api.call("POST", path, {**body, "exception_id": "wms-hold-7"},
                                  headers={"Idempotency-Key": "wms-hold-7"})
    assert status == 200 and both == first
    # an ERP retrying while the first try is still being written
    answers = await asyncio.gather(*(api.call("POST", path, body, headers={"Idempotency-Key": "wms-hold-8"})
                                     for _ in range(6)))
    assert sorted(s for s, _ in answers) == [200] * 5 + [201]
    assert len({d["id"] for _, d in answers}) == 1
    assert await OrderException.all().count() == 2
    assert await Outbox.filter(kind="exception_opened").count() == 2, "one alert for each exception, not per try"
    _, order = await api.call("GET", f"/api/v1/orders/{NO}")
    assert [x["exception_id"] for x in order["exceptions"]] == ["wms-hold-7", "wms-hold-8"]
    # without an id every request is a new exception, as before
    assert (await api.call("POST", path, body))[0] == 201 and (await api.call("POST", path, body))[0] == 201
    assert await OrderException.all().count() == 4


async def test_a_conflicting_replay_gets_409(api: Api):
    await add_staff("王销售", "sales", "S001", "sales", {"telegram": "2002"}, None)
    await api.create(NO, sales_owner="S001")
    await api.create("SO202611240002", sales_owner="S001")
    path = f"/api/v1/orders/{NO}/exceptions"
    assert (await api.call("POST", path, {"exception_id": "qc-1", "kind": "qc_fail", "note": "划伤"}))[0] == 201
    status, data = await api.call("POST", path, {"exception_id": "qc-1", "kind": "qc_fail", "note": "裂纹"})
    assert status == 409 and is_error(data, "conflict") and "qc-1" in data["error"]["message"]
    status, data = await api.call("POST", path, {"kind": "delay"}, headers={"Idempotency-Key": "qc-1"})
    assert status == 409 and is_error(data, "conflict")
    # the header and the body naming two different ids is a mistake of the caller
    status, data = await api.call("POST", path, {"exception_id": "qc-2", "kind": "delay"},
                                  headers={"Idempotency-Key": "qc-3"})
    assert status == 400 and is_error(data, "invalid_field") and data["error"]["field"] == "exception_id"
    status, data = await api.call("POST", path, {"kind": "delay"}, headers={"Idempotency-Key": "k" * 129})
    assert status == 400 and data["error"]["field"] == "Idempotency-Key"
    status, data = await api.call("POST", path, {"exception_id": "", "kind": "delay"})
    assert status == 400 and data["error"]["field"] == "exception_id"
    assert await OrderException.all().count() == 1, "nothing refused was stored"
    assert await Outbox.filter(kind="exception_opened").count() == 1, "and nobody was told of it"
    # ids are the order's own: another order's qc-1 is another exception
    status, other = await api.call("POST", "/api/v1/orders/SO202611240002/exceptions",
                                   {"exception_id": "qc-1", "kind": "delay"})
    assert status == 201 and other["exception_id"] == "qc-1"


async def test_list_filters_late_orders_and_pages(api: Api):
    for i in range(1, 6):
        await api.create(f"SO20261124000{i}", promised_date="2020-01-01" if i % 2 else "2030-01-01")
    await api.call("POST", "/api/v1/orders/SO202611240003/exceptions", {"kind": "delay"})
    status, data = await api.call("GET", "/api/v1/orders?late=true")
    assert status == 200 and [o["order_no"] for o in data["orders"]] == [
        "SO202611240001", "SO202611240003", "SO202611240005"]
    _, data = await api.call("GET", "/api/v1/orders?late=false")
    assert [o["order_no"] for o in data["orders"]] == ["SO202611240002", "SO202611240004"]
    _, data = await api.call("GET", "/api/v1/orders?open_exceptions=true")
    assert [o["order_no"] for o in data["orders"]] == ["SO202611240003"]
    _, page1 = await api.call("GET", "/api/v1/orders?limit=2")
    _, page2 = await api.call("GET", f"/api/v1/orders?limit=2&after={page1['next_after']}")
    assert len(page1["orders"]) == 2 and page2["orders"][0]["order_no"] == "SO202611240003"
    status, data = await api.call("GET", "/api/v1/orders?limit=0")
    assert status == 400 and data["error"]["field"] == "limit"


async def test_twenty_concurrent_events_leave_a_consistent_history(api: Api):
    """Ten forward events, each sent twice, all at once in shuffled order."""
    await api.create(NO)
    nodes = ["approved", "paid", "stocking", "production", "qc", "outbound", "in_transit", "delivered",
             "after_sales", "after_sales"]
    requests = [(f"ev-{i}", node) for i, node in enumerate(nodes)] * 2
    random.Random(7).shuffle(requests)
    answers = await asyncio.gather(*(api.event(NO, eid, node) for eid, node in requests))
    assert {status for status, _ in answers} <= {201, 422}
    _, order = await api.call("GET", f"/api/v1/orders/{NO}")
    stored = order["events"]
    ids = [e["event_id"] for e in stored]
    assert len(ids) == len(set(ids)), "an event was stored twice"
    accepted = {data["event"]["event_id"] for status, data in answers if status == 201}
    assert accepted == set(ids) - {"created"}, "an accepted event is missing from the history"
    for before, after in zip(stored, stored[1:]):
        assert after["from_node"] == before["node"], "history does not chain"
    assert order["current_node"] == stored[-1]["node"]
    # each request of a pair got the same answer as its twin when both were accepted
    by_id: dict[str, list] = {}
    for (eid, _), (status, data) in zip(requests, answers):
        by_id.setdefault(eid, []).append((status, data))
    for pair in by_id.values():
        if all(s == 201 for s, _ in pair):
            assert pair[0][1] == pair[1][1]


async def test_healthz_and_openapi_need_no_key(api: Api):
    status, data = await api.call("GET", "/healthz", key=None)
    assert status == 200 and data["database"] == "ok"
    status, doc = await api.call("GET", "/api/v1/openapi.json", key=None)
    assert status == 200 and doc["openapi"].startswith("3.1")


async def test_openapi_is_valid_and_documents_every_route(settings, engine):
    app = build_app(settings, engine, channels=[make_channel("web", settings)])  # channels document their routes
    # The console's pages are for people (README › Staff console), not part of the HTTP interface.
    served = {(r.method, r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"
              and not getattr(r.handler, "__module__", "").startswith("bot.console")
              and not r.resource.canonical.startswith("/console/static")}
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        doc = await (await client.get("/api/v1/openapi.json")).json()
    validate(doc)
    assert len(served) >= 9 and ("GET", "/chat") in served
    for method, path in served:
        assert method.lower() in doc["paths"].get(path, {}), f"{method} {path} is served but undocumented"
    post_events = doc["paths"]["/api/v1/orders/{order_no}/events"]["post"]
    assert {"400", "401", "404", "409", "422"} <= set(post_events["responses"])
    open_exception = doc["paths"]["/api/v1/orders/{order_no}/exceptions"]["post"]
    assert {"200", "201", "409"} <= set(open_exception["responses"])
    assert {"in": "header", "name": "Idempotency-Key"}.items() <= next(
        p for p in open_exception["parameters"] if p["in"] == "header").items()
    assert "exception_id" in doc["components"]["schemas"]["ExceptionIn"]["properties"]
