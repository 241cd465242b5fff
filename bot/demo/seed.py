"""The demo's made-up history: staff, customers and orders walked through the real engine.

Orders are placed at random times over the last weeks; each one's story (node events,
exceptions, a failed quality check now and then) is planned up to now and replayed
through the progress engine, so every history is one the engine accepts. Events and
exceptions carry their own past times; a fixed seed makes the demo the same every day.
"""
from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import partial
from itertools import product, takewhile
from zoneinfo import ZoneInfo

from bot.demo.data import (
    AFTER_SALES,
    BRANDS,
    CARRIERS,
    CITIES,
    DAYS,
    ENGLISH_BUYERS,
    FROM_STOCK,
    MOBILE_PREFIXES,
    NOTES,
    PRODUCTS,
    QC_FAIL_RATE,
    REWORK_REASONS,
    ROADS,
    SEED,
    SHOWCASE_EMAIL,
    SHOWCASE_ORDER,
    STAFF,
    SUPPLIERS,
    TRADES,
    TRADING_SHARE,
    TROUBLE,
    TROUBLE_RATE,
)
from models.engine import ProgressEngine
from models.inputs import AckIn, CustomerIn, EventIn, ExceptionIn, ItemIn, OrderIn, ResolveIn
from models.people import StaffMember, add_staff
from models.workflows import Node, Workflow


@dataclass(frozen=True)
class Buyer:
    name: str
    email: str
    phone: str
    locale: str
    ship_to: str
    sales_owner: str


@dataclass(frozen=True)
class Step:
    """One thing that happens to an order, at a simulated time."""

    at: datetime
    body: EventIn | ExceptionIn | AckIn | ResolveIn


def hours(h: float) -> timedelta:
    return timedelta(hours=h)


# ---------------------------------------------------------------- people
async def seed_staff() -> None:
    """The company: an admin, a manager, three sales and an operator per department."""
    if await StaffMember.all().exists():
        return
    for code, name, role, department, telegram, email in STAFF:
        ids = {k: v for k, v in (("telegram", telegram), ("email", email)) if v}
        await add_staff(name, role, code, department, ids, email)


def make_buyers(rng: random.Random) -> list[Buyer]:
    """40 customers: Chinese manufacturers and a few foreign buyers who write in English."""
    sales = [code for code, _, role, *_ in STAFF if role == "sales"]
    out = []
    for (brand, brand_py), (city, city_py, area) in rng.sample(list(product(BRANDS, CITIES)), 35):
        out.append(Buyer(f"{city}{brand}{rng.choice(TRADES)}有限公司", f"caigou@{brand_py}-{city_py}.example",
                         _mobile(rng), "zh", f"{area}{rng.choice(ROADS)}{rng.randint(1, 999)}号",
                         rng.choice(sales)))
    for name, domain, address in ENGLISH_BUYERS:
        out.append(Buyer(name, f"purchasing@{domain}.example", _mobile(rng), "en", address,
                         rng.choice(sales)))
    return out


def _mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def actor_for(node: Node, *, buyer: Buyer) -> str:
    """Who moves an order through ``node``: the manager, the department's operator, else sales."""
    if node.owner_role == "manager":
        return "M001"
    operators = {dept: code for code, _, role, dept, *_ in STAFF if role == "operator"}
    return operators.get(node.department or "", buyer.sales_owner)


# ---------------------------------------------------------------- orders
async def seed_orders(engine: ProgressEngine, n_orders: int, *, seed: int = SEED) -> None:
    """Place ``n_orders`` orders over the last DAYS days and replay their history up to now."""
    rng, now = random.Random(seed), engine.clock()
    buyers, per_day = make_buyers(rng), Counter()
    for k, placed in enumerate(placed_times(rng, n_orders, now, engine.tz)):
        # Each order draws from its own generator: how far one got by now changes no other.
        own = random.Random(seed * 1_000_000 + k)
        day = placed.astimezone(engine.tz).date()
        per_day[day] += 1 + (f"SO{day:%Y%m%d}{per_day[day] + 1:04d}" == SHOWCASE_ORDER)  # that number is taken
        wf = engine.workflows.get("trading" if own.random() < TRADING_SHARE else "standard")
        path, buyer = route(own, wf), own.choice(buyers)
        new = order_in(own, f"SO{day:%Y%m%d}{per_day[day]:04d}", wf, buyer, placed,
                       promise(own, wf, path, day))
        await engine.create_order(new, source="import", actor=buyer.sales_owner)
        steps = plan(own, wf, path, placed, now, partial(actor_for, buyer=buyer))
        await replay(engine, new.order_no, steps)


async def seed_showcase(engine: ProgressEngine, *, seed: int = SEED) -> None:
    """The order README.md asks about: the same number in every demo, late, held up in production.

    Placed 12 days ago, promised 8 days after; in production for 8 days with a delay acknowledged
    but not resolved, so the demo's motion leaves it where it is.
    """
    rng, now = random.Random(seed - 1), engine.clock()
    buyers = make_buyers(random.Random(seed))
    buyer = next((b for b in buyers if b.email == SHOWCASE_EMAIL), buyers[0])
    wf = engine.workflows.get("standard")
    day = now.astimezone(engine.tz).date() - timedelta(days=12)
    placed = datetime.combine(day, time(9, 30), tzinfo=engine.tz).astimezone(timezone.utc)
    await engine.create_order(order_in(rng, SHOWCASE_ORDER, wf, buyer, placed, day + timedelta(days=8)),
                              source="import", actor=buyer.sales_owner)
    steps = [Step(at, event(rng, wf.node(key), at, actor_for(wf.node(key), buyer=buyer)))
             for key, at in ((k, placed + hours(h)) for k, h in (("approved", 3), ("paid", 26), ("stocking", 50),
                                                                  ("production", 96)))]
    kind, note = TROUBLE["production"]
    opened = now - hours(50)
    steps += [Step(opened, ExceptionIn(kind=kind, note=note, severity="high", actor="O002", at=opened)),
              Step(opened + hours(2), AckIn(actor="O002", at=opened + hours(2)))]
    await replay(engine, SHOWCASE_ORDER, steps)


def placed_times(rng: random.Random, n: int, now: datetime, tz: ZoneInfo) -> list[datetime]:
    """``n`` times in office hours over the last DAYS days, none after ``now``, oldest first."""
    today, out = now.astimezone(tz).date(), []
    for _ in range(n):
        day = today - timedelta(days=rng.randrange(DAYS))
        at = datetime.combine(day, time(8), tzinfo=tz) + timedelta(minutes=rng.uniform(0, 11 * 60))
        out.append((at if at <= now else at - timedelta(days=1)).astimezone(timezone.utc))
    return sorted(out)


def route(rng: random.Random, wf: Workflow) -> list[Node]:
    """The nodes an order passes; some standard orders come from stock, past production and QC."""
    skip = {"production", "qc"} if wf.key == "standard" and rng.random() < FROM_STOCK else set()
    return [n for n in wf.nodes if n.key not in skip or not n.skippable]


def promise(rng: random.Random, wf: Workflow, path: list[Node], placed: date) -> date:
    """The promised date: the SLAs up to delivery, give or take, as sales tend to promise."""
    sla = sum(n.sla_hours for n in path[: [n.key for n in path].index(wf.done_node)])
    return placed + timedelta(days=round(sla / 24 * rng.uniform(0.8, 1.6)))


def order_in(rng: random.Random, no: str, wf: Workflow, buyer: Buyer, placed: datetime,
             promised: date) -> OrderIn:
    """The order as the ERP sends it: 1-4 items worth 2,000-500,000 CNY, at a cost of 60-85%."""
    target = math.exp(rng.uniform(math.log(3_000), math.log(375_000)))  # after rounding qty: 2k-500k
    weights = [rng.random() + 0.2 for _ in range(rng.randint(1, 4))]
    shares = [target * w / sum(weights) for w in weights]
    affordable = [p for p in PRODUCTS if p[2] <= min(shares)]
    picked = rng.sample(affordable, min(len(shares), len(affordable)))
    items = []
    for share, (name, unit, low, high) in zip(shares, picked):
        price = Decimal(str(round(rng.uniform(low, min(high, share)), 2)))
        items.append(ItemIn(name=name, qty=max(1, round(share / float(price))), unit=unit, unit_price=price))
    amount = sum((i.qty * i.unit_price for i in items), Decimal(0)).quantize(Decimal("0.01"))
    cost = (amount * Decimal(str(round(rng.uniform(0.6, 0.85), 3)))).quantize(Decimal("0.01"))
    customer = CustomerIn(name=buyer.name, email=buyer.email, phone=buyer.phone, locale=buyer.locale)
    return OrderIn(order_no=no, workflow=wf.key, customer=customer, placed_at=placed, promised_date=promised,
                   amount=amount, cost=cost, sales_owner=buyer.sales_owner, ship_to=buyer.ship_to,
                   items=items, supplier=rng.choice(SUPPLIERS) if wf.key == "trading" else None)


# ---------------------------------------------------------------- history
def plan(rng: random.Random, wf: Workflow, path: list[Node], placed: datetime, now: datetime,
         actor: Callable[[Node], str]) -> list[Step]:
    """What happens to one order after it is placed, up to ``now``: node events and exceptions."""
    keys = [n.key for n in path]
    trouble = rng.choice([k for k in keys if k in TROUBLE]) if rng.random() < TROUBLE_RATE else None
    qc_fails = "qc" in keys and rng.random() < QC_FAIL_RATE
    steps: list[Step] = []
    i, t, pace = 0, placed, 1.0
    while t <= now:
        node = path[i]
        # SLAs are a little optimistic: most nodes take somewhat longer.
        stay, pace = hours(node.sla_hours * rng.triangular(0.4, 2.0, 1.6) * pace), 1.0
        if node.key == "qc" and qc_fails:
            more, t = qc_failure(rng, t, stay, actor(node))
            steps, qc_fails, i, pace = steps + more, False, keys.index("production"), 0.3
            continue
        if node.key == trouble:
            more, leave = exception_steps(rng, node.key, t, stay, actor(node))
            steps, trouble = steps + more, None
            if leave is None:
                break
            stay = leave - t
        if i + 1 == len(path) or (node.key == wf.done_node and rng.random() > AFTER_SALES):
            break
        t, i = t + stay, i + 1
        steps.append(Step(t, event(rng, path[i], t, actor(path[i]))))
    return list(takewhile(lambda s: s.at <= now, steps))


def event(rng: random.Random, node: Node, at: datetime, actor: str) -> EventIn:
    """Entering ``node``; leaving the warehouse comes with a carrier and tracking number."""
    data = {}
    if node.key == "outbound":
        carrier = rng.choice(list(CARRIERS))
        digits = "".join(rng.choices("0123456789", k=CARRIERS[carrier]))
        data = {"carrier": carrier, "tracking_no": carrier + digits}
    return EventIn(event_id=f"demo-{node.key}-{at:%Y%m%d%H%M%S}", node=node.key, at=at, actor=actor,
                   note=NOTES.get(node.key), data=data)


def exception_steps(rng: random.Random, node: str, entered: datetime, stay: timedelta, actor: str
                    ) -> tuple[list[Step], datetime | None]:
    """A problem at ``node``: its steps, and when the order moves on (None: it stays stuck)."""
    kind, note = TROUBLE[node]
    opened = entered + stay * rng.uniform(0.2, 0.8)
    severity = rng.choice(("normal", "normal", "high", "urgent"))
    steps = [Step(opened, ExceptionIn(kind=kind, note=note, severity=severity, actor=actor, at=opened))]
    fate = rng.choices(("open", "acknowledged", "resolved"), weights=(5, 2, 3))[0]
    if fate == "open":
        return steps, None
    acked = opened + hours(rng.uniform(0.5, 8))
    steps.append(Step(acked, AckIn(actor=actor, at=acked)))
    if fate == "acknowledged":
        return steps, None
    resolved = acked + hours(rng.uniform(12, 120))
    steps.append(Step(resolved, ResolveIn(actor=actor, resolution="fixed", note="已处理，恢复正常进度",
                                          at=resolved)))
    return steps, resolved + hours(rng.uniform(1, 12))


def qc_failure(rng: random.Random, entered: datetime, stay: timedelta, actor: str
               ) -> tuple[list[Step], datetime]:
    """QC fails: an exception and rework back in production; returns the steps and when it went back."""
    failed = entered + stay * rng.uniform(0.3, 0.9)
    back, reason = failed + hours(1), rng.choice(REWORK_REASONS)
    rework = EventIn(event_id=f"demo-rework-{back:%Y%m%d%H%M%S}", node="production", at=back, actor=actor,
                     rework=True, reason=reason)
    return [Step(failed, ExceptionIn(kind="qc_fail", note=reason, severity="high", actor=actor, at=failed)),
            Step(back, rework),
            Step(back, ResolveIn(actor=actor, resolution="rework", note="已返工，重新质检", at=back))], back


async def replay(engine: ProgressEngine, order_no: str, steps: list[Step]) -> None:
    """Apply ``steps`` through the engine; each carries its own past time."""
    exc_id = 0
    for step in steps:
        match step.body:
            case EventIn() as ev:
                await engine.apply_event(order_no, ev, source="import")
            case ExceptionIn() as new:
                exc_id = (await engine.open_exception(order_no, new, source="import")).exception.id
            case AckIn() as ack:
                await engine.acknowledge_exception(order_no, exc_id, ack, source="import")
            case ResolveIn() as done:
                await engine.resolve_exception(order_no, exc_id, done, source="import")
