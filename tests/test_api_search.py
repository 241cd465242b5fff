"""Finding orders through the API: by customer, phone, e-mail, dates and free text, nodes by their
names; a misspelt filter or a bad value is a 400 naming it, never the whole list."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest
from openapi_spec_validator import validate

from tests.kit.base import Api, order_body

NORTHWIND, HENGXIN, KESTREL = "SO202611200001", "SO202611210001", "SO202611210002"


def customer(name: str, email: str, phone: str, locale: str = "zh") -> dict:
    return {"name": name, "email": email, "phone": phone, "locale": locale}


@pytest.fixture
async def shop(api: Api) -> Api:
    """Three customers; the orders placed either side of midnight in Shanghai (the service's zone)."""
    for no, who, placed, promised in (
        (NORTHWIND, customer("Northwind Trading Ltd.", "purchasing@northwind.example", "+86 138-1234-5678", "en"),
         "2026-11-20T23:30:00+08:00", "2030-12-01"),
        (HENGXIN, customer("苏州恒信精密机械有限公司", "caigou@hengxin-suzhou.example", "(021) 5555 1234"),
         "2026-11-21T00:10:00+08:00", "2030-12-05"),
        (KESTREL, customer("Kestrel Industrial GmbH", "purchasing@kestrel-industrial.example", "13900001111", "en"),
         "2026-11-21T09:00:00+08:00", "2030-12-10"),
    ):
        status, data = await api.call("POST", "/api/v1/orders", order_body(no, customer=who, placed_at=placed,
                                                                           promised_date=promised))
        assert status == 201, data
    return api


async def listed(api: Api, query: str | dict) -> list[str]:
    """The order numbers a list answers (every page), failing on anything but 200."""
    text = query if isinstance(query, str) else urlencode(query)
    status, data = await api.call("GET", f"/api/v1/orders?{text}")
    assert status == 200, data
    return [o["order_no"] for o in data["orders"]]


async def refused(api: Api, query: str | dict) -> dict:
    text = query if isinstance(query, str) else urlencode(query)
    status, data = await api.call("GET", f"/api/v1/orders?{text}")
    assert status == 400, data
    return data["error"]


# ---------------------------------------------------------------- refusals
async def test_a_misspelt_filter_is_a_400_naming_it_not_every_order(shop: Api):
    error = await refused(shop, "nod=qc")
    assert error["code"] == "unknown_parameter" and error["field"] == "nod"
    assert "nod" in error["message"] and "node" in error["message"]
    assert {"node", "customer", "phone", "created_from", "q", "limit"} <= set(error["allowed"])
    error = await refused(shop, {"customer": "Northwind", "colour": "red"})
    assert error["field"] == "colour"


async def test_a_misspelt_filter_without_a_key_is_still_401(shop: Api):
    status, data = await shop.call("GET", "/api/v1/orders?nod=qc", key=None)
    assert status == 401 and data["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("query, field, shown", [
    ({"created_from": "2026-13-01"}, "created_from", "2026-13-01"),
    ({"created_to": "yesterday"}, "created_to", "yesterday"),
    ({"promised_from": "2026/12/01"}, "promised_from", "2026/12/01"),
    ({"created_from": "2026-11-22", "created_to": "2026-11-21"}, "created_to", "2026-11-21"),
    ({"node": "发货了"}, "node", "发货了"),
    ({"workflow": "express"}, "workflow", "express"),
    ({"phone": "call me"}, "phone", "call me"),
])
async def test_a_bad_value_is_a_400_naming_the_parameter_and_the_value(shop: Api, query, field, shown):
    error = await refused(shop, query)
    assert error["code"] == "invalid_field" and error["field"] == field and shown in error["message"], error


async def test_an_unknown_node_lists_the_nodes_there_are(shop: Api):
    error = await refused(shop, {"node": "shipped"})
    assert "outbound" in error["message"] and "出库" in error["message"]


# ---------------------------------------------------------------- nodes by name
async def test_a_node_is_found_by_its_chinese_or_english_name_as_by_its_key(shop: Api):
    assert (await shop.event(HENGXIN, "wms-1", "审核"))[0] == 201
    for word in ("approved", "审核", "Approved", "APPROVED", " approved "):
        assert await listed(shop, {"node": word}) == [HENGXIN], word
    _, data = await shop.call("GET", "/api/v1/orders?" + urlencode({"node": "审核"}))
    assert data["orders"][0]["current_node"] == "approved"
    assert data["orders"][0]["current_node_name"] == {"zh": "审核", "en": "Approved"}
    assert await listed(shop, {"node": "下单"}) == [NORTHWIND, KESTREL]


async def test_an_order_moved_to_a_node_by_its_chinese_name_stands_at_its_key(shop: Api):
    status, data = await shop.event(NORTHWIND, "erp-1", "审核", note="ok")
    assert status == 201, data
    assert data["previous_node"] == "placed" and data["current_node"] == "approved"
    assert data["event"]["node"] == "approved"
    # the same event again, now by its key, is a replay of it, not a conflict
    status, again = await shop.event(NORTHWIND, "erp-1", "approved", note="ok")
    assert status == 201 and shop.last_headers.get("Idempotent-Replayed") == "true" and again == data
    status, data = await shop.event(NORTHWIND, "erp-2", "Paid")
    assert status == 201 and data["current_node"] == "paid"
    status, data = await shop.event(NORTHWIND, "erp-3", "发货了")
    assert status == 422 and data["error"]["field"] == "node" and "出库" in data["error"]["message"]
    _, order = await shop.call("GET", f"/api/v1/orders/{NORTHWIND}")
    assert order["current_node"] == "paid" and [e["node"] for e in order["events"]] == ["placed", "approved", "paid"]


# ---------------------------------------------------------------- who
async def test_customer_finds_orders_by_part_of_the_name_in_any_case(shop: Api):
    assert await listed(shop, {"customer": "northwind"}) == [NORTHWIND]
    assert await listed(shop, {"customer": "恒信"}) == [HENGXIN]
    assert await listed(shop, {"customer": "INDUSTRIAL gmbh"}) == [KESTREL]
    assert await listed(shop, {"customer": "Trading"}) == [NORTHWIND]
    assert await listed(shop, {"customer": "Acme"}) == []
    assert await listed(shop, {"customer": "%"}) == []  # a LIKE wildcard is a character like any other


@pytest.mark.parametrize("typed", ["13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678",
                                   "+8613812345678", "008613812345678"])
async def test_phone_finds_the_customer_however_the_number_is_written(shop: Api, typed):
    assert await listed(shop, {"phone": typed}) == [NORTHWIND]


async def test_phone_compares_whole_numbers(shop: Api):
    assert await listed(shop, "phone=+8613812345678") == [NORTHWIND]  # '+' left unencoded in the URL
    assert await listed(shop, {"phone": "021-5555-1234"}) == [HENGXIN]
    assert await listed(shop, {"phone": "1381234567"}) == []
    assert await listed(shop, {"phone": "139 0000 1111"}) == [KESTREL]


async def test_email_finds_the_customer_in_any_case(shop: Api):
    assert await listed(shop, {"email": "Purchasing@Northwind.Example"}) == [NORTHWIND]
    assert await listed(shop, {"email": "northwind.example"}) == []  # the whole address, not a part


# ---------------------------------------------------------------- when
async def test_created_dates_are_days_in_the_services_time_zone_both_ends_included(shop: Api):
    # 00:10 on the 21st in Shanghai is the 20th in UTC: it counts as the 21st
    assert await listed(shop, {"created_from": "2026-11-21", "created_to": "2026-11-21"}) == [HENGXIN, KESTREL]
    assert await listed(shop, {"created_to": "2026-11-20"}) == [NORTHWIND]
    assert await listed(shop, {"created_from": "2026-11-20"}) == [NORTHWIND, HENGXIN, KESTREL]
    assert await listed(shop, {"created_from": "2026-11-22"}) == []


async def test_promised_dates_include_both_ends(shop: Api):
    assert await listed(shop, {"promised_from": "2030-12-05", "promised_to": "2030-12-10"}) == [HENGXIN, KESTREL]
    assert await listed(shop, {"promised_to": "2030-12-01"}) == [NORTHWIND]
    assert await listed(shop, {"promised_from": "2030-12-02", "promised_to": "2030-12-04"}) == []


# ---------------------------------------------------------------- free text
async def test_q_finds_an_order_by_number_tracking_number_name_phone_or_email(shop: Api):
    await shop.event(KESTREL, "wms-1", "approved")
    for node in ("paid", "stocking", "production", "qc"):
        await shop.event(KESTREL, f"wms-{node}", node)
    status, _ = await shop.event(KESTREL, "wms-out", "outbound",
                                 data={"carrier": "SF", "tracking_no": "SF1502938475610"})
    assert status == 201
    for text, found in (("so2026-1120", [NORTHWIND]), ("202611210001", [HENGXIN]), ("20261121", [HENGXIN, KESTREL]),
                        ("sf 150293", [KESTREL]), ("精密机械", [HENGXIN]), ("northwind", [NORTHWIND]),
                        ("5555 1234", [HENGXIN]), ("1381234", [NORTHWIND]), ("kestrel-industrial", [KESTREL]),
                        ("nobody", [])):
        assert await listed(shop, {"q": text}) == found, text


# ---------------------------------------------------------------- together
async def test_filters_combine_with_each_other_and_with_paging(shop: Api):
    await shop.event(HENGXIN, "e-1", "approved")
    await shop.call("POST", "/api/v1/orders", order_body(
        "SO202611210003", customer=customer("苏州恒信精密机械有限公司", "caigou@hengxin-suzhou.example",
                                            "(021) 5555 1234"),
        placed_at="2026-11-21T10:00:00+08:00", promised_date="2020-01-01", sales_owner="S002"))
    assert await listed(shop, {"customer": "恒信"}) == [HENGXIN, "SO202611210003"]
    assert await listed(shop, {"customer": "恒信", "node": "下单"}) == ["SO202611210003"]
    assert await listed(shop, {"customer": "恒信", "late": "true"}) == ["SO202611210003"]
    assert await listed(shop, {"customer": "恒信", "late": "false"}) == [HENGXIN]
    assert await listed(shop, {"email": "caigou@hengxin-suzhou.example", "sales_owner": "S002"}) == ["SO202611210003"]
    assert await listed(shop, {"q": "恒信", "created_from": "2026-11-21", "promised_to": "2030-12-31",
                               "node": "Approved"}) == [HENGXIN]
    assert await listed(shop, {"node": "下单", "created_from": "2026-11-21"}) == [KESTREL, "SO202611210003"]
    # paged as before: next_after carries the filter's place
    status, page1 = await shop.call("GET", "/api/v1/orders?" + urlencode({"created_from": "2026-11-21", "limit": 2}))
    assert status == 200 and [o["order_no"] for o in page1["orders"]] == [HENGXIN, KESTREL]
    _, page2 = await shop.call("GET", "/api/v1/orders?" + urlencode(
        {"created_from": "2026-11-21", "limit": 2, "after": page1["next_after"]}))
    assert [o["order_no"] for o in page2["orders"]] == ["SO202611210003"] and page2["next_after"] is None


async def test_the_openapi_document_lists_the_search_filters_and_stays_valid(api: Api):
    status, doc = await api.call("GET", "/api/v1/openapi.json", key=None)
    assert status == 200
    validate(doc)
    params = {p["name"]: p for p in doc["paths"]["/api/v1/orders"]["get"]["parameters"]}
    assert {"customer", "phone", "email", "created_from", "created_to", "promised_from", "promised_to",
            "q", "node"} <= set(params)
    assert params["created_from"]["schema"] == {"type": "string", "format": "date"}
    assert "出库" in params["node"]["description"]
    assert "allowed" in doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
