"""Batches of orders and events: up to 1,000 items, one result per item in order, each with the
status and body (or error) its single call gives; items independent; replays store nothing new."""
from __future__ import annotations

import time

from models.apikeys import ApiKey, hash_key, new_key
from models.orders import NodeEvent, Order
from models.outbox import Outbox
from tests.kit.base import Api, order_body

ORDERS = "/api/v1/orders/batch"
EVENTS = "/api/v1/events/batch"


def no(i: int) -> str:
    return f"SO2026120{i:05d}"


async def counts() -> tuple[int, int, int]:
    return await Order.all().count(), await NodeEvent.all().count(), await Outbox.all().count()


async def test_a_thousand_orders_with_ten_bad_ones_give_990_created_and_10_errors_in_place(api: Api):
    status, data = await api.create(no(0))  # item 0 sends it again: 200, as a single call would
    assert status == 201
    items = [order_body(no(i)) for i in range(1000)]
    bad = {}
    for i in range(5, 1000, 100):  # ten of them, each bad its own way, as a single call would refuse it
        kind = len(bad) % 5
        if kind == 0:
            items[i] = {"order_no": no(i)}  # no customer
        elif kind == 1:
            items[i] = "not an object"
        elif kind == 2:
            items[i] = order_body(no(i), workflow="nobody-has-this")
        elif kind == 3:
            items[i] = order_body(no(i), promised_date="2030-02-30")
        else:
            items[i] = order_body(no(0), customer={"name": "别人"})  # number taken, other data: 409
        bad[i] = items[i]
    started = time.perf_counter()
    status, data = await api.call("POST", ORDERS, {"items": items})
    took = time.perf_counter() - started
    assert status == 200, data
    assert (data["succeeded"], data["failed"]) == (990, 10)
    results = data["results"]
    assert [r["index"] for r in results] == list(range(1000))
    assert {i for i, r in enumerate(results) if "error" in r} == set(bad)
    for i, item in bad.items():  # the same status and error body the single call gives
        single_status, single = await api.call("POST", "/api/v1/orders", item if isinstance(item, dict) else None,
                                               raw=None if isinstance(item, dict) else b'"not an object"',
                                               headers=None if isinstance(item, dict) else
                                               {"Content-Type": "application/json"})
        assert (results[i]["status"], {"error": results[i]["error"]}) == (single_status, single), i
    assert results[0]["status"] == 200 and results[0]["replayed"] is True
    assert results[1]["status"] == 201 and results[1]["body"]["order_no"] == no(1)
    assert "amount" in results[1]["body"], "the default key reads money, as in the single call"
    assert await Order.all().count() == 990
    print(f"1,000 orders in one batch: {took:.1f} s")


async def test_a_replayed_batch_stores_nothing_new(api: Api):
    orders = [order_body(no(i)) for i in range(20)]
    events = [{"order_no": no(i), "event_id": f"e-{i}-{node}", "node": node}
              for i in range(20) for node in ("approved", "paid")]
    assert (await api.call("POST", ORDERS, {"items": orders}))[1]["failed"] == 0
    status, data = await api.call("POST", EVENTS, {"items": events})
    assert status == 200 and data["failed"] == 0, data
    assert {r["status"] for r in data["results"]} == {201} and not any(r["replayed"] for r in data["results"])
    assert data["results"][1]["body"]["current_node"] == "paid", "events of one order follow each other in order"
    before = await counts()
    again_orders = await api.call("POST", ORDERS, {"items": orders})
    again_events = await api.call("POST", EVENTS, {"items": events})
    assert await counts() == before, "nothing stored, nobody told twice"
    assert all(r["status"] == 200 and r["replayed"] for r in again_orders[1]["results"])
    assert all(r["status"] == 201 and r["replayed"] for r in again_events[1]["results"])


async def test_bad_events_answer_in_place_like_single_calls(api: Api):
    await api.create(no(1))
    items = [
        {"order_no": no(1), "event_id": "a", "node": "approved"},
        {"order_no": "SO2099999999", "event_id": "b", "node": "approved"},  # unknown order: 404
        {"order_no": no(1), "event_id": "c", "node": "delivered"},  # skips nodes: 422
        {"order_no": no(1), "event_id": "a", "node": "paid"},  # same id, other content: 409
        {"event_id": "d", "node": "paid"},  # no order_no: 400
        {"order_no": no(1), "event_id": "e", "node": "paid", "colour": "red"},  # unknown field: 400
        {"order_no": no(1), "event_id": "f", "node": "paid"},
    ]
    status, data = await api.call("POST", EVENTS, {"items": items})
    assert status == 200
    got = [(r["status"], r.get("error", {}).get("code")) for r in data["results"]]
    assert [s for s, _ in got] == [201, 404, 422, 409, 400, 400, 201]
    assert data["results"][4]["error"]["field"] == "order_no"
    assert data["results"][5]["error"]["field"] == "colour"
    for i in (1, 2, 3):
        item = dict(items[i])
        order = item.pop("order_no")
        status, single = await api.call("POST", f"/api/v1/orders/{order}/events", item)
        error = data["results"][i]["error"]  # the order has moved on since, so compare all but the message
        assert (data["results"][i]["status"], error["code"], error.get("field")) == \
            (status, single["error"]["code"], single["error"].get("field")), i
    assert (await Order.get(order_no=no(1))).current_node == "paid"


async def test_a_batch_that_is_not_one_is_refused_and_stores_nothing(api: Api):
    before = await counts()
    too_many = {"items": [order_body(no(i)) for i in range(1001)]}
    for body, raw, expected in (
        (too_many, None, (413, "too_many_items")),
        (None, b"[1, 2]", (400, "malformed_json")),
        (None, b"{not json", (400, "malformed_json")),
        ({"items": {}}, None, (400, "malformed_json")),
        ({"items": []}, None, (400, "invalid_field")),
        ({"items": [order_body(no(1))], "also": 1}, None, (400, "invalid_field")),
        (None, b"[" * 100 + b"]" * 100, (400, "malformed_json")),
    ):
        for path in (ORDERS, EVENTS):
            status, data = await api.call("POST", path, body, raw=raw,
                                          headers={"Content-Type": "application/json"} if raw else None)
            assert (status, data["error"]["code"]) == expected, (path, raw or str(body)[:40])
    assert await counts() == before


async def test_batches_need_the_scopes_of_their_single_calls(api: Api):
    reader = new_key()
    await ApiKey.create(name="reader", prefix=reader[:10], key_hash=hash_key(reader), scopes="orders:read")
    for path, body in ((ORDERS, {"items": [order_body(no(1))]}),
                       (EVENTS, {"items": [{"order_no": no(1), "event_id": "a", "node": "approved"}]})):
        status, data = await api.call("POST", path, body, key=reader)
        assert status == 403 and data["error"]["code"] == "insufficient_scope"
        assert (await api.call("POST", path, body, key=None))[0] == 401
    assert await Order.all().count() == 0
    writer = new_key()
    await ApiKey.create(name="erp", prefix=writer[:10], key_hash=hash_key(writer), scopes="orders:write")
    status, data = await api.call("POST", ORDERS, {"items": [order_body(no(1), cost=10)]}, key=writer)
    assert data["results"][0]["status"] == 201 and "cost" not in data["results"][0]["body"], \
        "money fields are left out without money:read, as in the single call"


async def test_the_openapi_document_lists_both_batches(api: Api):
    _, doc = await api.call("GET", "/api/v1/openapi.json")
    for path in (ORDERS, EVENTS):
        op = doc["paths"][path]["post"]
        assert "requestBody" in op and "200" in op["responses"] and "413" in op["responses"]
