"""The console's order list: filters, a search that forgives typos, sorting, pages, and the rows of an export.

Within what the reader may see (``queries.visible_to``, the view policy's rule). The search
looks for the text in order and tracking numbers, customers' names, e-mails and phones
(``queries.text_matches``, as the API does), and forgives typos the way the chat does
(``models.fuzzy``): names close to the one typed, among the customers who share a piece
of it (a character, or a few letters) so the fuzzy pass never reads every customer; a
number close to the one typed, among the newest orders the reader sees, when nothing else
matched. Quick with 100,000 orders (bench/console.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from tortoise.expressions import Q, Subquery

from models import fuzzy
from models.dashboard import over_sla
from models.errors import InvalidInput
from models.numbers import normalize_order_no
from models.orders import NodeEvent, Order, OrderException
from models.people import Customer, Role, StaffMember
from models.queries import (PHONE_LIKE, UNRESOLVED, OrderSearch, late, node_condition, phone_digits, phone_digits_sql,
                            searched, text_matches, visible_numbers, visible_to)
from models.sql import current, execute
from models.workflows import WorkflowSet

SORTS = {"order_no": "order_no", "promised": "promised_date", "created": "placed_at", "node_entered": "node_entered_at"}
DEFAULT_SORT = "-created"
PAGE_SIZE = 50
EXPORT_CAP = 10_000  # rows in one download; the file says so when more matched
NAME_HITS = 200  # customers a name typo may stand for
HOLDING_CAP = 5_000  # customers listed for the order statements; past it they read the customers themselves
MAX_GRAMS = 12
_NOT_A_NAME = re.compile(r"[0-9@]")  # numbers, phones and addresses are not guessed at as names
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class OrderFilter:
    """What the list is asked for; None / False is "any". Dates are days in the service's zone, inclusive."""

    node: str | None = None  # key, Chinese or English name
    late: bool = False
    exceptions: bool = False  # with an exception not yet resolved
    over_sla: bool = False
    owner: str | None = None  # the sales owner's code
    customer: str | None = None  # the customer's name, typos forgiven
    q: str | None = None
    promised_from: date | None = None
    promised_to: date | None = None
    created_from: date | None = None
    created_to: date | None = None
    sort: str = DEFAULT_SORT  # a key of SORTS, "-" in front for newest / largest first


@dataclass
class Listed:
    """One page of the list, or an export's rows (then ``page`` is 1 and ``capped`` says whether rows were left out)."""

    orders: list[Order]
    total: int
    page: int = 1
    pages: int = 1
    open_exceptions: dict[int, int] = field(default_factory=dict)  # order id → unresolved exceptions
    capped: bool = False
    guessed: str | None = None  # the order number a mistyped one was taken for


def check_sort(sort: str) -> str:
    if sort.lstrip("-") not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)} (a '-' in front for descending), not {sort!r}",
                           field="sort")
    return sort


def _grams(folded: str) -> list[str]:
    """Pieces a customer's name must share with the typed one to be compared with it at all."""
    grams: list[str] = []
    words = folded.split(" ")
    long_words = [w for w in words if len(w) > 3 or _CJK.search(w)]
    for word in long_words or words:  # "Ltd" and "Co" would bring in half the customers
        if _CJK.search(word):
            grams += [c for c in word if _CJK.match(c)]
        else:
            size = 3 if len(word) >= 5 else 2
            grams += [word[i:i + size] for i in range(len(word) - size + 1)]
    return list(dict.fromkeys(g for g in grams if "%" not in g and "_" not in g))[:MAX_GRAMS]


def _like() -> str:
    # SQLite's LIKE ignores ASCII case by itself (and UPPER() on every row would triple its cost).
    return "ILIKE" if current().capabilities.dialect == "postgres" else "LIKE"


def _scope(member: StaffMember) -> tuple[str, list]:
    if member.role == Role.SALES:  # typos are forgiven among the reader's own customers only
        return " AND id IN (SELECT customer_id FROM orders WHERE sales_owner = ?)", [member.code]
    return "", []


def _escaped(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def customers_holding(text: str, member: StaffMember) -> list[int] | None:
    """The customers whose name or e-mail holds ``text``, or whose phone holds its digits (as
    ``queries.text_matches`` asks); None when there are more than ``HOLDING_CAP``."""
    like, (scope, params) = _like(), _scope(member)
    held = _escaped(text)
    where, values = f"name {like} ? ESCAPE '\\' OR email {like} ? ESCAPE '\\'", [held, held]
    if PHONE_LIKE.match(text) and len(digits := phone_digits(text)) >= 3 and digits.isdigit():
        where += f" OR {phone_digits_sql(digits)} LIKE ?"
        values.append(f"%{digits}%")
    rows = await execute(f"SELECT id FROM customers WHERE ({where}){scope} LIMIT {HOLDING_CAP + 1}",
                         values + params)
    return None if len(rows) > HOLDING_CAP else [r["id"] for r in rows]


async def customers_named(typed: str, member: StaffMember) -> list[int]:
    """The customers whose name is a typo away from ``typed`` (fuzzy.close_names), among those sharing a piece of it."""
    folded = fuzzy.fold(typed)
    if _NOT_A_NAME.search(folded) or fuzzy.name_cutoff(len(folded)) > 100 or not (grams := _grams(folded)):
        return []
    like, (scope, params) = _like(), _scope(member)
    shares = " OR ".join(f"name {like} ?" for _ in grams)
    rows = await execute(f"SELECT id, name FROM customers WHERE ({shares}){scope}", [f"%{g}%" for g in grams] + params)
    return [cid for cid, _ in fuzzy.close_names(folded, ((r["id"], r["name"]) for r in rows), NAME_HITS)]


async def _text(text: str, member: StaffMember) -> Q:
    """``queries.text_matches`` with the customers' part read once (a list the order statements use), and
    names a typo away."""
    holding = await customers_holding(text, member)
    if holding is None:  # too many to list: the statement reads the customers itself
        cond = text_matches(text)
    else:
        number = normalize_order_no(text)
        cond = Q(customer_id__in=holding) if holding else Q(id=-1)
        if number.isascii() and number.isalnum():  # numbers are letters and digits: a name is not looked for there
            cond |= Q(order_no__contains=number) | Q(tracking_no__contains=number)
    named = await customers_named(text, member)
    return cond | Q(customer_id__in=named) if named else cond


async def _condition(workflows: WorkflowSet, member: StaffMember, f: OrderFilter, today: date, now: datetime,
                     tz: tzinfo) -> Q:
    cond = visible_to(member)
    if f.node:
        cond &= node_condition(workflows, f.node)
    if f.late:
        cond &= late(workflows, today)
    if f.over_sla:
        cond &= over_sla(workflows, now)
    if f.exceptions:
        cond &= Q(id__in=Subquery(OrderException.filter(status__in=UNRESOLVED).values("order_id")))
    if f.owner:
        cond &= Q(sales_owner=f.owner.strip().upper())
    cond &= searched(OrderSearch(placed_from=f.created_from, placed_to=f.created_to,
                                 promised_from=f.promised_from, promised_to=f.promised_to), tz)
    if f.customer and f.customer.strip():
        cond &= await _named(f.customer.strip(), member)
    if f.q and f.q.strip():
        cond &= await _text(f.q.strip(), member)
    return cond


async def _named(name: str, member: StaffMember) -> Q:
    """Orders of the customers whose name holds ``name`` or is a typo away from it."""
    like, (scope, params) = _like(), _scope(member)
    rows = await execute(f"SELECT id FROM customers WHERE name {like} ? ESCAPE '\\'{scope} LIMIT {HOLDING_CAP + 1}",
                         [_escaped(name), *params])
    if len(rows) > HOLDING_CAP:
        found = Q(customer_id__in=Subquery(Customer.filter(name__icontains=name).values("id")))
    else:
        found = Q(customer_id__in=[r["id"] for r in rows]) if rows else Q(id=-1)
    named = await customers_named(name, member)
    return found | Q(customer_id__in=named) if named else found


def _ordering(sort: str) -> tuple[str, str]:
    column = SORTS[check_sort(sort).lstrip("-")]
    return (f"-{column}", "-id") if sort.startswith("-") else (column, "id")


async def _guess(member: StaffMember, f: OrderFilter) -> str | None:
    """The order number a mistyped one in the search stands for, among the newest the reader sees."""
    number = normalize_order_no(f.q or "")
    if len(number) < 6 or not number.isalnum():
        return None
    return fuzzy.closest(number, await visible_numbers(member))


async def _counts(orders: list[Order]) -> dict[int, int]:
    if not orders:
        return {}
    rows = await OrderException.filter(order_id__in=[o.id for o in orders], status__in=UNRESOLVED) \
        .values_list("order_id", flat=True)
    counts: dict[int, int] = {}
    for oid in rows:
        counts[oid] = counts.get(oid, 0) + 1
    return counts


async def find(workflows: WorkflowSet, member: StaffMember, f: OrderFilter, *, today: date, now: datetime,
               tz: tzinfo, page: int = 1, size: int = PAGE_SIZE) -> Listed:
    """One page of the orders ``f`` asks for that ``member`` may see; a page past the last gives the last."""
    qs = Order.filter(await _condition(workflows, member, f, today, now, tz))
    total = await qs.count()
    guessed = None
    if total == 0 and f.q and (guessed := await _guess(member, f)):
        qs = Order.filter(await _condition(workflows, member, OrderFilter(**{**f.__dict__, "q": guessed}),
                                           today, now, tz))
        total = await qs.count()
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    rows = await qs.order_by(*_ordering(f.sort)).offset((page - 1) * size).limit(size).prefetch_related("customer")
    return Listed(rows, total, page, pages, await _counts(rows), guessed=guessed)


async def export_rows(workflows: WorkflowSet, member: StaffMember, f: OrderFilter, *, today: date, now: datetime,
                      tz: tzinfo, cap: int = EXPORT_CAP) -> Listed:
    """Every order the list shows for ``f``, in its order, up to ``cap``."""
    listed = await find(workflows, member, f, today=today, now=now, tz=tz, size=cap)
    listed.capped = listed.total > len(listed.orders)
    return listed


async def node_times(order_ids: list[int]) -> dict[int, dict[str, datetime]]:
    """When each order last entered each node (its timeline as dates), for an export's columns."""
    found: dict[int, dict[str, datetime]] = {i: {} for i in order_ids}
    for start in range(0, len(order_ids), 900):  # under SQLite's cap on a statement's parameters
        rows = await NodeEvent.filter(order_id__in=order_ids[start:start + 900], kind__not="update") \
            .order_by("id").values_list("order_id", "node", "at")
        for order_id, node, at in rows:
            found[order_id][node] = at
    return found


async def sales_owners() -> list[tuple[str, str]]:
    """The sales members an order list may be narrowed to, as (code, name), by name."""
    return list(await StaffMember.filter(role=Role.SALES).order_by("name", "code").values_list("code", "name"))


def is_late(workflows: WorkflowSet, order: Order, today: date) -> bool:
    """Past its promised date and not yet at its workflow's done node (as ``queries.late`` asks)."""
    wf = workflows.get(order.workflow)
    if order.promised_date is None or order.promised_date >= today or wf is None or not wf.has(order.current_node):
        return False
    return wf.index(order.current_node) < wf.done_index
