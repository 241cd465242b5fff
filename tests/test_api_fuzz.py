"""Hypothesis over the integration API's bodies, paths and query strings: never a 5xx, and a
refused request leaves every table as it was.

Each endpoint gets a few hundred examples: bodies that are valid but for some fields
replaced by any JSON at all (NUL, lone surrogates, huge numbers, deep lists), raw bytes,
order numbers of any text. Derandomized, so CI runs the same examples every time. The
requests go over real HTTP from a thread, while the test's own loop serves them.
"""
from __future__ import annotations

import asyncio
import http.client
import json
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.orders import NodeEvent, Order, OrderException
from models.outbox import Outbox
from tests.kit.base import Api

NO = "SO202611240001"
EXAMPLES = 200

FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))

scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**80), max_value=2**80)
           | st.floats(allow_nan=False) | st.text() | st.sampled_from(["", "\x00", "\ud800", "a" * 5000,
                                                                       "2026-13-45", "SO1", "approved"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8),
                                                                                          inner, max_size=3),
                      max_leaves=10)


def bodies(valid: dict[str, Any], extra: tuple[str, ...] = ()) -> st.SearchStrategy[bytes]:
    """A valid body with some fields dropped or replaced by any JSON, or bytes of any kind."""
    fields = tuple(valid) + extra
    mutated = st.fixed_dictionaries(
        {}, optional={name: values | st.just(valid.get(name)) for name in fields}).map(
        lambda d: json.dumps({**{k: v for k, v in valid.items() if k not in d}, **d}).encode())
    return mutated | values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200)


ORDER = {"order_no": "SO202611249999", "workflow": "standard", "promised_date": "2030-01-31", "amount": 1.5,
         "customer": {"name": "张三", "email": "zhang@buyer.example", "phone": "13812345678"},
         "ship_to": "上海", "sales_owner": "S001", "items": [{"name": "螺丝", "qty": 2, "unit_price": 1.5}]}
EVENT = {"event_id": "e-1", "node": "approved", "note": "ok", "at": "2026-11-24T10:00:00+08:00",
         "data": {"k": "v"}, "actor": "erp"}
PATCH = {"promised_date": "2030-02-01", "sales_owner": "S002", "ship_to": "北京",
         "customer": {"email": "new@buyer.example"}}
EXCEPTION = {"kind": "qc_fail", "note": "划伤", "severity": "high"}
RESOLVE = {"note": "done", "resolution": "fixed", "actor": "qc"}


class Client:
    """Plain blocking HTTP from the fuzzing thread; the tables read on the test's loop."""

    def __init__(self, api: Api, loop: asyncio.AbstractEventLoop) -> None:
        self.base, self.key, self.loop = urlsplit(api.base), api.key, loop

    def request(self, method: str, path: str, body: bytes | None = None) -> int:
        conn = http.client.HTTPConnection(self.base.hostname, self.base.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers={"Authorization": f"Bearer {self.key}",
                                                           "Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        assert response.status < 500, (method, path, body, response.status, data[:500])
        if response.status >= 400:
            error = json.loads(data)["error"]
            assert error["code"] and error["message"], data
        return response.status

    def tables(self) -> tuple:
        return asyncio.run_coroutine_threadsafe(_tables(), self.loop).result()

    def refused_changes_nothing(self, method: str, path: str, body: bytes | None = None) -> None:
        before = self.tables()
        if self.request(method, path, body) >= 400:
            assert self.tables() == before, (method, path, body)


async def _tables() -> tuple:
    orders = await Order.all().order_by("id").values_list("order_no", "current_node", "promised_date",
                                                           "sales_owner", "ship_to", "version", "customer_id")
    return (tuple(orders), await NodeEvent.all().count(), await OrderException.all().count(),
            await Outbox.all().count())


def fuzz(client: Client) -> None:
    """Every endpoint in turn, EXAMPLES examples each."""
    base = "/api/v1/orders"

    @FUZZ
    @given(bodies(ORDER))
    def create(body: bytes) -> None:
        client.refused_changes_nothing("POST", base, body)

    @FUZZ
    @given(st.dictionaries(st.sampled_from(["node", "workflow", "sales_owner", "late", "open_exceptions",
                                            "after", "limit", "x"]), st.text(max_size=80), max_size=4))
    def listing(query: dict[str, str]) -> None:
        client.request("GET", f"{base}?{urlencode(query, encoding='utf-8', errors='surrogatepass')}")

    numbers = st.text(max_size=100) | st.just(NO)

    @FUZZ
    @given(numbers)
    def read(no: str) -> None:
        client.request("GET", f"{base}/{quote(no, safe='', errors='surrogatepass')}")

    @FUZZ
    @given(numbers, bodies(PATCH, ("apply_to_customer",)))
    def patch(no: str, body: bytes) -> None:
        client.refused_changes_nothing("PATCH", f"{base}/{quote(no, safe='', errors='surrogatepass')}", body)

    @FUZZ
    @given(bodies(EVENT, ("rework", "reason")))
    def event(body: bytes) -> None:
        client.refused_changes_nothing("POST", f"{base}/{NO}/events", body)

    @FUZZ
    @given(bodies(EXCEPTION, ("actor", "at")))
    def exception(body: bytes) -> None:
        client.refused_changes_nothing("POST", f"{base}/{NO}/exceptions", body)

    @FUZZ
    @given(st.text(max_size=30) | st.just("1"), st.sampled_from(["ack", "resolve"]), bodies(RESOLVE, ("at",)))
    def settle(exception_id: str, verb: str, body: bytes) -> None:
        client.refused_changes_nothing("POST", f"{base}/{NO}/exceptions/"
                                               f"{quote(exception_id, safe='', errors='surrogatepass')}/{verb}", body)

    for run in (create, listing, read, patch, event, exception, settle):
        run()


async def test_no_input_gives_a_5xx_or_half_a_write(api: Api):
    assert (await api.create(NO))[0] == 201
    assert (await api.call("POST", f"/api/v1/orders/{NO}/exceptions", {"kind": "qc_fail"}))[0] == 201
    await asyncio.to_thread(fuzz, Client(api, asyncio.get_running_loop()))
