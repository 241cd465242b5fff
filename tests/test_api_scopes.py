"""API key scopes (issue 12, finding 5): a key reads and writes only what it was given; money
fields are absent without `money:read`; keys made before scopes keep every right."""
from __future__ import annotations

import asyncio
import json
import os
import re
import uuid

from tortoise import Tortoise
from tortoise.migrations.executor import MigrationTarget

from bot.db import apply_migrations, database
from bot.db import _executor as executor
from models.apikeys import ApiKey, hash_key, new_key
from models.audit import AuditLog
from tests.kit.base import PG_URL, Api, pg_admin, with_db

NO = "SO202611240001"
MONEY = {"amount", "unit_prices", "cost", "profit", "supplier"}


async def key_with(*scopes: str) -> str:
    key = new_key()
    await ApiKey.create(name="scoped", prefix=key[:10], key_hash=hash_key(key), scopes=" ".join(scopes))
    return key


async def test_a_read_only_key_reads_without_money_and_writes_nothing(api: Api):
    """Failed before: every key read cost, profit and supplier, and could write everything."""
    status, _ = await api.create(NO, cost=8000, supplier="宁波五金厂",
                                 items=[{"name": "螺丝", "qty": 2, "unit_price": 1.5}])
    assert status == 201
    reader = await key_with("orders:read")
    status, data = await api.call("GET", f"/api/v1/orders/{NO}", key=reader)
    assert status == 200 and data["order_no"] == NO
    assert not MONEY & set(data), "money fields are absent, not null"
    # 8000 as a value, not as digits of a timestamp's microseconds ("48.800034")
    assert not re.search(r"(?<![\d.])8000(?![\d])", json.dumps(data)) and "宁波" not in str(data)
    for method, path, body in (("POST", "/api/v1/orders", {"order_no": "SO2", "customer": {"name": "x"}}),
                               ("PATCH", f"/api/v1/orders/{NO}", {"promised_date": "2030-02-01"}),
                               ("POST", f"/api/v1/orders/{NO}/events", {"event_id": "e1", "node": "approved"}),
                               ("POST", f"/api/v1/orders/{NO}/exceptions", {"kind": "qc_fail"})):
        status, data = await api.call(method, path, body, key=reader)
        assert status == 403 and data["error"]["code"] == "insufficient_scope", (method, path, data)
    status, data = await api.call("GET", f"/api/v1/orders/{NO}", key=await key_with("orders:read", "money:read"))
    assert data["cost"] == 8000 and data["supplier"] == "宁波五金厂" and data["profit"] == 12345.67 - 8000
    reads = await AuditLog.filter(order_no=NO, actor_kind="api").order_by("id")
    assert [("cost" in r.fields_shown, r.verified_by) for r in reads] == [(False, "api_key"), (True, "api_key")], \
        "every read of an order through the API is audited with what it showed"


async def test_each_write_scope_opens_its_own_routes(api: Api):
    writer, events = await key_with("orders:write"), await key_with("events:write")
    status, created = await api.call("POST", "/api/v1/orders", {"order_no": NO, "customer": {"name": "张三"},
                                                                "amount": 10}, key=writer)
    assert status == 201 and "amount" not in created, "writing an order does not show its money back"
    assert (await api.call("GET", f"/api/v1/orders/{NO}", key=writer))[0] == 403
    assert (await api.call("POST", f"/api/v1/orders/{NO}/events", {"event_id": "e1", "node": "approved"},
                           key=writer))[0] == 403
    assert (await api.call("POST", f"/api/v1/orders/{NO}/events", {"event_id": "e1", "node": "approved"},
                           key=events))[0] == 201
    assert (await api.call("PATCH", f"/api/v1/orders/{NO}", {"ship_to": "x"}, key=events))[0] == 403


async def test_the_openapi_document_names_each_routes_scope_and_the_money_fields(api: Api):
    _, doc = await api.call("GET", "/api/v1/openapi.json", key=None)
    get = doc["paths"]["/api/v1/orders/{order_no}"]["get"]
    assert get["security"] == [{"bearer": ["orders:read"]}] and "orders:read" in get["description"]
    assert doc["paths"]["/api/v1/orders/{order_no}/events"]["post"]["security"] == [{"bearer": ["events:write"]}]
    schemas = doc["components"]["schemas"]
    answers = [s["properties"] for name, s in schemas.items() if name in ("OrderDetail", "CreatedOrder")]
    assert len(answers) == 2 and all("money:read" in str(p[f]) for p in answers for f in MONEY)


async def test_the_cli_makes_keys_with_the_scopes_asked(cli):
    result = cli("apikey", "create", "--name", "bi", "--scope", "orders:read,money:read")
    assert result.code == 0 and "orders:read money:read" in result.out
    plain = cli("apikey", "create", "--name", "erp")
    assert plain.code == 0 and "orders:read orders:write events:write" in plain.out
    bad = cli("apikey", "create", "--name", "x", "--scope", "orders:delete")
    assert bad.code != 0 and "orders:delete" in bad.err and "money:read" in bad.err
    assert "money:read" in cli("apikey", "list").out


async def test_keys_made_before_scopes_keep_every_right_after_the_upgrade(tmp_path):
    """The migration gives existing keys `admin`, so an upgrade breaks no ERP."""
    if PG_URL:
        name = f"orderbot_upgrade_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        url = with_db(PG_URL, name)
        await pg_admin(PG_URL, f'CREATE DATABASE "{name}"')
    else:
        url = f"sqlite://{tmp_path / 'upgrade.db'}"
    try:
        async with database(url):
            await executor().migrate([MigrationTarget("orderbot", "0005_late_marks")])
            conn = Tortoise.get_connection("default")
            await conn.execute_query("INSERT INTO api_keys (name, prefix, key_hash, created_at) "
                                     "VALUES ('erp', 'ob_x', 'h', CURRENT_TIMESTAMP)")
            # a code pending as the upgrade runs: the new column must fill in for it too
            await conn.execute_query("INSERT INTO challenges (session_key, code_hash, attempts, expires_at, "
                                     "created_at) VALUES ('telegram:1', 'h', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
            assert "orderbot.0006_security" in await apply_migrations()
            _, rows = await conn.execute_query("SELECT scopes FROM api_keys")
            assert [dict(r)["scopes"] for r in rows] == ["admin"]
    finally:
        if PG_URL:
            await asyncio.sleep(0)
            await pg_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------- finding 10: one order's contact
async def test_a_contact_change_through_one_order_stays_with_that_order(api: Api):
    """Failed before: changing one order's customer e-mail changed it for all that customer's orders."""
    from models.audit import OrderChange

    await api.create(NO)
    await api.create("SO202611240002")
    status, data = await api.call("PATCH", f"/api/v1/orders/{NO}", {"customer": {"email": "new@buyer.example"}})
    assert status == 200 and data["customer"]["email"] == "new@buyer.example"
    _, other = await api.call("GET", "/api/v1/orders/SO202611240002")
    assert other["customer"]["email"] == "zhang@buyer.example", "the customer's other order keeps its contact"
    [row] = await OrderChange.filter(order_no=NO)
    assert (row.field, json.loads(row.before), json.loads(row.after), row.actor, row.scope) == (
        "customer.email", "zhang@buyer.example", "new@buyer.example", "erp-test", "order")


async def test_apply_to_customer_changes_every_order_of_the_customer(api: Api):
    from models.audit import OrderChange

    await api.create(NO)
    await api.create("SO202611240002")
    status, _ = await api.call("PATCH", f"/api/v1/orders/{NO}", {"customer": {"phone": "13900000000"},
                                                                  "apply_to_customer": True})
    assert status == 200
    for no in (NO, "SO202611240002"):
        assert (await api.call("GET", f"/api/v1/orders/{no}"))[1]["customer"]["phone"] == "13900000000"
    [row] = await OrderChange.filter(order_no=NO)
    assert (row.field, row.scope) == ("customer.phone", "customer")
