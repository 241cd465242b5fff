"""The progress engine: moves a workflow allows, idempotency, ETA, lateness, exceptions, hooks."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone

import pytest

from models.engine import Change, ProgressEngine
from models.errors import Conflict, InvalidInput, NotFound, WorkflowViolation
from models.inputs import AckIn, CustomerIn, EventIn, ExceptionIn, OrderIn, OrderPatch, ResolveIn
from models.orders import NodeEvent, Order
from models.outbox import Outbox
from models.people import Customer


def new_order(no: str = "SO202611240001", **extra) -> OrderIn:
    data = {"order_no": no, "customer": CustomerIn(name="张三", email="Zhang@Buyer.example"),
            "promised_date": date(2030, 1, 31), "amount": "100.50"}
    data.update(extra)
    return OrderIn(**data)


def ev(event_id: str, node: str, **extra) -> EventIn:
    return EventIn(event_id=event_id, node=node, **extra)


async def test_a_new_order_stands_at_the_first_node(engine: ProgressEngine):
    order, created = await engine.create_order(new_order("so-2026 1124-0001"))
    assert created and order.order_no == "SO202611240001"
    assert order.current_node == "placed"
    history = await NodeEvent.filter(order_id=order.id)
    assert [(e.kind, e.node) for e in history] == [("create", "placed")]


async def test_same_order_again_is_the_same_order_and_different_data_conflicts(engine: ProgressEngine):
    first, _ = await engine.create_order(new_order())
    again, created = await engine.create_order(new_order("ＳＯ２０２６１１２４０００１"))
    assert not created and again.id == first.id
    with pytest.raises(Conflict):
        await engine.create_order(new_order(amount="99"))
    assert await Order.all().count() == 1


async def test_orders_with_the_same_email_share_a_customer(engine: ProgressEngine):
    a, _ = await engine.create_order(new_order("SO202611240001"))
    b, _ = await engine.create_order(new_order("SO202611240002", customer=CustomerIn(name="张三",
                                                                                      email="zhang@buyer.example")))
    assert a.customer_id == b.customer_id
    assert (await Customer.get(id=a.customer_id)).email == "zhang@buyer.example"


async def test_bad_number_and_unknown_workflow_name_the_field(engine: ProgressEngine):
    with pytest.raises(InvalidInput) as e:
        await engine.create_order(new_order("hello"))
    assert e.value.field == "order_no"
    with pytest.raises(InvalidInput) as e:
        await engine.create_order(new_order(workflow="rocket"))
    assert e.value.field == "workflow"


async def test_forward_moves_and_skipping_skippable_nodes(engine: ProgressEngine):
    await engine.create_order(new_order())
    for i, node in enumerate(["approved", "paid", "stocking"]):
        await engine.apply_event("SO202611240001", ev(f"e{i}", node))
    result = await engine.apply_event("SO202611240001", ev("e9", "outbound"))  # over production and qc
    assert result.event.skipped == ["production", "qc"]
    order = await engine.get_order("SO202611240001")
    assert order.current_node == "outbound"


async def test_a_non_skippable_node_cannot_be_skipped(engine: ProgressEngine):
    await engine.create_order(new_order())
    with pytest.raises(WorkflowViolation) as e:
        await engine.apply_event("SO202611240001", ev("e1", "paid"))
    assert "approved" in e.value.message
    order = await engine.get_order("SO202611240001")
    assert order.current_node == "placed"
    assert await NodeEvent.filter(order_id=order.id).count() == 1


async def test_unknown_node_is_a_violation(engine: ProgressEngine):
    await engine.create_order(new_order())
    with pytest.raises(WorkflowViolation):
        await engine.apply_event("SO202611240001", ev("e1", "teleported"))


async def test_going_back_only_as_rework_with_a_reason(engine: ProgressEngine):
    await engine.create_order(new_order())
    for i, node in enumerate(["approved", "paid", "stocking", "production", "qc"]):
        await engine.apply_event("SO202611240001", ev(f"e{i}", node))
    with pytest.raises(WorkflowViolation):
        await engine.apply_event("SO202611240001", ev("back", "production"))
    with pytest.raises(WorkflowViolation):
        await engine.apply_event("SO202611240001", ev("back", "production", rework=True))
    with pytest.raises(WorkflowViolation):
        await engine.apply_event("SO202611240001", ev("fwd", "outbound", rework=True, reason="x"))
    r = await engine.apply_event("SO202611240001", ev("back", "production", rework=True, reason="焊点不良"))
    assert r.event.kind == "rework" and r.event.note == "焊点不良"
    assert (await engine.get_order("SO202611240001")).current_node == "production"


async def test_replayed_event_is_stored_once_and_answers_alike(engine: ProgressEngine):
    await engine.create_order(new_order())
    first = await engine.apply_event("SO202611240001", ev("erp-1", "approved", note="ok"))
    again = await engine.apply_event("SO202611240001", ev("erp-1", "approved", note="ok"))
    assert not first.replayed and again.replayed
    assert again.event.id == first.event.id
    assert await NodeEvent.filter(event_id="erp-1").count() == 1
    with pytest.raises(Conflict):
        await engine.apply_event("SO202611240001", ev("erp-1", "paid"))


async def test_same_node_again_is_an_update_that_keeps_the_node_time(engine: ProgressEngine):
    await engine.create_order(new_order())
    for i, node in enumerate(["approved", "paid", "stocking", "outbound"]):
        await engine.apply_event("SO202611240001", ev(f"e{i}", node))
    before = await engine.get_order("SO202611240001")
    r = await engine.apply_event("SO202611240001", ev("track", "outbound",
                                                      data={"carrier": "SF", "tracking_no": "sf 1502 9384 75610"}))
    after = await engine.get_order("SO202611240001")
    assert r.event.kind == "update"
    assert after.node_entered_at == before.node_entered_at
    assert after.tracking_no == "SF1502938475610" and after.carrier == "SF"


async def test_unknown_order(engine: ProgressEngine):
    with pytest.raises(NotFound):
        await engine.apply_event("SO209912310001", ev("e1", "approved"))


async def test_event_far_in_the_future_is_refused(engine: ProgressEngine):
    await engine.create_order(new_order())
    with pytest.raises(InvalidInput) as e:
        await engine.apply_event("SO202611240001", ev("e1", "approved",
                                                      at=datetime.now(timezone.utc) + timedelta(days=3)))
    assert e.value.field == "at"


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_eta_is_the_sum_of_remaining_slas_and_late_follows_the_promised_date(engine: ProgressEngine):
    t0 = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
    clock = FrozenClock(t0)
    engine.clock = clock
    await engine.create_order(new_order(placed_at=t0, promised_date=date(2026, 11, 22)))
    order = await engine.get_order("SO202611240001")
    wf = engine.workflows.get("standard")
    before_done = wf.nodes[: wf.done_index]
    assert engine.eta(order) == t0 + timedelta(hours=sum(n.sla_hours for n in before_done))
    # Past the promised date in Shanghai (UTC+8) but not yet in UTC: late already.
    clock.now = datetime(2026, 11, 22, 16, 30, tzinfo=timezone.utc)
    assert engine.is_late(order)
    clock.now = datetime(2026, 11, 22, 15, 30, tzinfo=timezone.utc)
    assert not engine.is_late(order)
    # Stuck past its SLA: the ETA moves with the clock.
    clock.now = t0 + timedelta(days=30)
    assert engine.eta(order) == clock.now + timedelta(hours=sum(n.sla_hours for n in before_done[1:]))
    assert engine.node_overdue(order)


async def test_delivered_orders_are_never_late(engine: ProgressEngine):
    await engine.create_order(new_order(promised_date=date(2020, 1, 1)))
    for i, node in enumerate(["approved", "paid", "stocking", "outbound", "in_transit"]):
        await engine.apply_event("SO202611240001", ev(f"e{i}", node))
    assert engine.is_late(await engine.get_order("SO202611240001"))
    await engine.apply_event("SO202611240001", ev("done", "delivered"))
    order = await engine.get_order("SO202611240001")
    assert not engine.is_late(order) and engine.eta(order) is None


async def test_exceptions_open_acknowledge_resolve(engine: ProgressEngine):
    await engine.create_order(new_order())
    with pytest.raises(InvalidInput):
        await engine.open_exception("SO202611240001", ExceptionIn(kind="alien_invasion"))
    x = (await engine.open_exception("SO202611240001", ExceptionIn(kind="stockout", note="缺料 A-13"),
                                     default_actor="erp")).exception
    assert (x.status, x.node, x.opened_by) == ("open", "placed", "erp")
    x = await engine.acknowledge_exception("SO202611240001", x.id, AckIn(actor="王仓"))
    assert x.status == "acknowledged" and x.acknowledged_by == "王仓"
    x = await engine.resolve_exception("SO202611240001", x.id, ResolveIn(note="到货", resolution="restocked"))
    assert x.status == "resolved" and x.resolution == "restocked"
    again = await engine.resolve_exception("SO202611240001", x.id, ResolveIn(note="again"))
    assert again.resolution_note == "到货"
    with pytest.raises(NotFound):
        await engine.resolve_exception("SO202611240001", 9999, ResolveIn())


async def test_patch_changes_only_what_is_given(engine: ProgressEngine):
    await engine.create_order(new_order(sales_owner="S001", ship_to="上海市"))
    order = await engine.update_order("SO202611240001", OrderPatch(promised_date=date(2031, 2, 1),
                                                                   customer={"phone": "+86 139 0000 0000"}))
    assert order.promised_date == date(2031, 2, 1)
    assert order.sales_owner == "S001" and order.ship_to == "上海市"
    assert (await order.customer).phone == "+86 139 0000 0000"
    order = await engine.update_order("SO202611240001", OrderPatch(ship_to=None))
    assert order.ship_to is None


async def test_hooks_write_in_the_same_transaction(engine: ProgressEngine):
    seen: list[str] = []

    async def outbox_writer(changes: list[Change], conn) -> None:
        for change in changes:
            seen.append(change.kind)
            await Outbox.create(event_key=f"{change.order.order_no}:{change.kind}:{len(seen)}", channel="test",
                                address="a", kind=change.kind, next_attempt_at=change.at, using_db=conn)

    engine.add_hook(outbox_writer)
    await engine.create_order(new_order())
    await engine.apply_event("SO202611240001", ev("e1", "approved"))
    await engine.apply_event("SO202611240001", ev("e1", "approved"))  # a replay: no change, no hook
    assert seen == ["order_created", "node_entered"]
    assert await Outbox.all().count() == 2


async def test_a_failing_hook_rolls_the_change_back(engine: ProgressEngine):
    await engine.create_order(new_order())

    async def broken(changes: list[Change], conn) -> None:
        await Outbox.create(event_key="x", channel="test", address="a", kind=changes[0].kind,
                            next_attempt_at=changes[0].at, using_db=conn)
        raise RuntimeError("outbox unavailable")

    engine.add_hook(broken)
    with pytest.raises(RuntimeError):
        await engine.apply_event("SO202611240001", ev("e1", "approved"))
    order = await engine.get_order("SO202611240001")
    assert order.current_node == "placed" and order.version == 1
    assert await NodeEvent.filter(event_id="e1").count() == 0
    assert await Outbox.all().count() == 0


async def test_twenty_concurrent_events_for_one_order_none_lost_none_doubled(engine: ProgressEngine):
    await engine.create_order(new_order())
    await engine.apply_event("SO202611240001", ev("a", "approved"))
    results = await asyncio.gather(*(
        engine.apply_event("SO202611240001", ev(f"note-{i}", "approved", note=f"check {i}")) for i in range(20)
    ))
    assert not any(r.replayed for r in results)
    order = await engine.get_order("SO202611240001")
    assert await NodeEvent.filter(order_id=order.id, kind="update").count() == 20
    assert order.version == 1 + 1 + 20
    assert order.current_node == "approved"


async def test_a_change_holds_the_order_against_other_processes(engine: ProgressEngine, settings):
    """Inside a change the order is locked before it is read, so another process (a CLI command,
    a second server) waits for its turn instead of writing over a stale read."""
    from tortoise.transactions import in_transaction

    await engine.create_order(new_order())
    url = settings.database.url
    async with in_transaction():
        await engine.get_order("SO202611240001", for_update=True)
        if url.startswith("sqlite://"):
            import sqlite3

            other = sqlite3.connect(url[len("sqlite://"):], timeout=0.2)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("UPDATE orders SET version = version + 1")
                    other.commit()
            finally:
                other.close()
        else:
            import asyncpg

            other = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
            try:
                with pytest.raises(asyncpg.exceptions.LockNotAvailableError):
                    await other.execute("SELECT 1 FROM orders WHERE order_no = $1 FOR UPDATE NOWAIT",
                                        "SO202611240001")
            finally:
                await other.close()


async def test_a_batch_answers_each_event_on_its_own(engine: ProgressEngine):
    """Events arriving together are written together, but each gets its own answer."""
    for n in range(1, 5):
        await engine.create_order(new_order(f"SO20261124000{n}"))
    await engine.apply_event("SO202611240004", ev("done-before", "approved"))
    outcomes = await asyncio.gather(
        engine.apply_event("SO202611240001", ev("a", "approved")),
        engine.apply_event("SO202611240002", ev("b", "delivered")),          # may not skip
        engine.apply_event("SO209912319999", ev("c", "approved")),          # no such order
        engine.apply_event("SO202611240004", ev("done-before", "approved")),  # a replay
        engine.apply_event("SO202611240003", ev("d", "approved")),
        return_exceptions=True,
    )
    assert not outcomes[0].replayed and outcomes[0].event.node == "approved"
    assert isinstance(outcomes[1], WorkflowViolation)
    assert isinstance(outcomes[2], NotFound)
    assert outcomes[3].replayed
    assert not outcomes[4].replayed
    assert [o.current_node for o in await Order.all().order_by("order_no")] == [
        "approved", "placed", "approved", "approved"]


async def test_events_of_one_order_sent_together_apply_in_the_order_sent(engine: ProgressEngine):
    await engine.create_order(new_order())
    nodes = ["approved", "paid", "stocking", "production", "qc", "outbound"]
    results = await asyncio.gather(*(engine.apply_event("SO202611240001", ev(f"e{i}", n))
                                     for i, n in enumerate(nodes)))
    assert [r.event.from_node for r in results] == ["placed", *nodes[:-1]]
    assert (await engine.get_order("SO202611240001")).current_node == "outbound"


async def test_a_hook_failing_for_one_event_fails_only_that_event(engine: ProgressEngine):
    for n in range(1, 4):
        await engine.create_order(new_order(f"SO20261124000{n}"))

    async def picky(changes: list[Change], conn) -> None:
        for change in changes:
            if change.order.order_no == "SO202611240002":
                raise RuntimeError("no outbox for this one")
            await Outbox.create(event_key=change.order.order_no, channel="test", address="a", kind=change.kind,
                                next_attempt_at=change.at, using_db=conn)

    engine.add_hook(picky)
    outcomes = await asyncio.gather(*(engine.apply_event(f"SO20261124000{n}", ev("x", "approved"))
                                      for n in range(1, 4)), return_exceptions=True)
    assert isinstance(outcomes[1], RuntimeError)
    assert not isinstance(outcomes[0], Exception) and not isinstance(outcomes[2], Exception)
    assert [o.current_node for o in await Order.all().order_by("order_no")] == ["approved", "placed", "approved"]
    assert sorted(await Outbox.all().values_list("event_key", flat=True)) == ["SO202611240001", "SO202611240003"]
