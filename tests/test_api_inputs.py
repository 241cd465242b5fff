"""Inputs that gave 500s (issue 12, finding 7): each is now a 4xx with the usual error body and
changes nothing."""
from __future__ import annotations

import json

import pytest

from models.orders import NodeEvent, Order, OrderException
from tests.kit.base import Api

NO = "SO202611240001"
LONG = "SO" + "9" * 70


def is_error(data, status: int, got: int) -> bool:
    return got == status and isinstance(data, dict) and {"code", "message"} <= set(data.get("error", {}))


async def snapshot() -> tuple:
    orders = [(o.order_no, o.current_node, o.promised_date, o.sales_owner, o.ship_to, o.version)
              for o in await Order.all().order_by("id")]
    events = await NodeEvent.all().count()
    exceptions = await OrderException.all().count()
    return orders, events, exceptions


async def test_json_nested_two_thousand_deep_is_400(api: Api):
    await api.create(NO)
    before = await snapshot()
    deep = b'{"event_id": "e1", "node": "approved", "data": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    status, data = await api.call("POST", f"/api/v1/orders/{NO}/events", raw=deep,
                                  headers={"Content-Type": "application/json"})
    assert is_error(data, 400, status) and "deep" in data["error"]["message"]
    nested = {"event_id": "e2", "node": "approved", "data": json.loads("[" * 40 + "]" * 40)}
    status, data = await api.call("POST", f"/api/v1/orders/{NO}/events", nested)
    assert is_error(data, 400, status), "the limit is 32 levels"
    assert await snapshot() == before


@pytest.mark.parametrize("method, path, body", [
    ("GET", f"/api/v1/orders/{LONG}", None),
    ("PATCH", f"/api/v1/orders/{LONG}", {"promised_date": "2030-02-01"}),
    ("POST", f"/api/v1/orders/{LONG}/events", {"event_id": "e1", "node": "approved"}),
    ("POST", f"/api/v1/orders/{LONG}/exceptions", {"kind": "qc_fail"}),
    ("POST", f"/api/v1/orders/{LONG}/exceptions/1/ack", {}),
    ("POST", f"/api/v1/orders/{LONG}/exceptions/1/resolve", {}),
    ("POST", f"/api/v1/orders/{NO}/exceptions/{'9' * 40}/ack", {}),
])
async def test_an_order_number_over_64_characters_is_404(api: Api, method, path, body):
    await api.create(NO)
    before = await snapshot()
    status, data = await api.call(method, path, body)
    assert is_error(data, 404, status), (status, data)
    assert await snapshot() == before


@pytest.mark.parametrize("path, body, field", [
    (f"/api/v1/orders/{NO}/events", b'{"event_id": "e1", "node": "approved", "data": {"k": "\\ud800"}}', "data.k"),
    (f"/api/v1/orders/{NO}/events", b'{"event_id": "e1", "node": "approved", "note": "a\\udfffb"}', "note"),
    (f"/api/v1/orders/{NO}/events", b'{"event_id": "e1", "node": "approved", "data": {"\\ud800": 1}}', "data"),
    ("/api/v1/orders", b'{"order_no": "SO1", "customer": {"name": "\\ud83d"}}', "customer.name"),
])
async def test_a_lone_surrogate_anywhere_is_400_naming_the_field(api: Api, path, body, field):
    await api.create(NO)
    before = await snapshot()
    status, data = await api.call("POST", path, raw=body, headers={"Content-Type": "application/json"})
    assert is_error(data, 400, status) and data["error"].get("field") == field, (status, data)
    assert await snapshot() == before


@pytest.mark.parametrize("method, path, body, field", [
    ("PATCH", f"/api/v1/orders/{NO}", {"ship_to": "上海\x00浦东"}, "ship_to"),
    ("PATCH", f"/api/v1/orders/{NO}", {"customer": {"name": "张\x00三"}}, "customer.name"),
    ("POST", f"/api/v1/orders/{NO}/events", {"event_id": "e\x001", "node": "approved"}, "event_id"),
    ("POST", f"/api/v1/orders/{NO}/events", {"event_id": "e1", "node": "approved", "data": {"x": ["\x00"]}},
     "data.x.0"),
    ("POST", f"/api/v1/orders/{NO}/exceptions", {"kind": "qc_fail", "note": "\x00"}, "note"),
    ("POST", "/api/v1/orders", {"order_no": "SO2", "customer": {"name": "x"}, "ship_to": "\x00"}, "ship_to"),
])
async def test_nul_is_refused_on_every_field(api: Api, method, path, body, field):
    await api.create(NO)
    before = await snapshot()
    status, data = await api.call(method, path, body)
    assert is_error(data, 400, status) and data["error"].get("field") == field, (status, data)
    assert await snapshot() == before


@pytest.mark.parametrize("query", ["node=%00", "sales_owner=a%00b", "workflow=" + "x" * 300, "node=%ED%A0%80"])
async def test_bad_query_strings_are_400(api: Api, query):
    await api.create(NO)
    status, data = await api.call("GET", f"/api/v1/orders?{query}")
    assert status in (200, 400) and (status == 200 or is_error(data, 400, status)), (status, data)
    assert status == 400 or "%ED" in query


async def test_a_nul_in_the_order_number_of_the_path_is_404(api: Api):
    status, data = await api.call("GET", "/api/v1/orders/SO1%00")
    assert is_error(data, 404, status), (status, data)
