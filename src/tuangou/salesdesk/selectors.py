"""Reads of the sales desk: the register, queues, the order's path and the reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Min, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from tuangou.accounts.models import User
from tuangou.catalog.models import Product
from tuangou.core.money import ZERO, money
from tuangou.core.ownership import visible_to
from tuangou.core.time import local_date, now
from tuangou.core.workflow import engine
from tuangou.core.workflow.layout import format_duration
from tuangou.core.workflow.render_svg import Highlight, render_svg
from tuangou.core.workflow.stats import step_stats
from tuangou.salesdesk.models import Collection, Order, PerformanceRecord, ProductSale
from tuangou.salesdesk.process import SALES_ORDER

# The page that performs each step's action, by the step an order waits at.
STEP_ACTIONS: dict[str, str] = {
    "registering": "register",
    "placing": "place",
    "dispatching": "dispatch",
    "signing": "sign",
    "collecting": "collect",
    "writing_off": "write_off",
    "rep_filing": "file",
    "dept_filing": "record_performance",
}
# The declared action that tells who may perform each page's step.
_PAGE_ROUTE = {
    "register": "register",
    "place": "place_written",
    "dispatch": "dispatch",
    "sign": "sign",
    "collect": "collect",
    "write_off": "write_off",
    "file": "file",
    "record_performance": "record_performance",
}


def orders_visible(user: Any) -> QuerySet[Order]:
    return visible_to(Order.objects.select_related("customer", "owner", "picker"), user)


def register_ledger(
    user: Any,
    *,
    state: str = "",
    customer: str = "",
    owner_id: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    number: str = "",
) -> QuerySet[Order]:
    """The 團購渠道銷售登記表: registered orders, newest first, with the usual filters."""
    qs = orders_visible(user).filter(number__isnull=False)
    if state:
        qs = qs.filter(state=state)
    if customer:
        qs = qs.filter(customer__name__icontains=customer)
    if owner_id:
        qs = qs.filter(owner_id=owner_id)
    if date_from:
        qs = qs.filter(registered_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(registered_at__date__lte=date_to)
    if number:
        qs = qs.filter(number__icontains=number)
    return qs.order_by("-registered_at", "-id")


def next_action(order: Order, user: Any) -> str | None:
    """The page name of the step `user` can perform on `order` now, if any."""
    page = STEP_ACTIONS.get(order.state)
    if page is None:
        return None
    route = SALES_ORDER.route(order.state, _PAGE_ROUTE[page])
    if route is None:  # pragma: no cover - the table follows the declaration
        return None
    from tuangou.core.ownership import has_role

    roles = [r for r in route.by if r != "owner"]
    if roles and has_role(user, *roles):
        return page
    if "owner" in route.by and SALES_ORDER.owner is not None and SALES_ORDER.owner(order, user):
        return page
    return None


def my_orders(user: Any) -> list[tuple[Order, str | None]]:
    """A rep's open orders with the next thing to do on each, those waiting on them first."""
    qs = orders_visible(user).exclude(state__in=SALES_ORDER.final_states).order_by("-taken_at")
    rows = [(o, next_action(o, user)) for o in qs]
    return sorted(rows, key=lambda r: r[1] is None)


def department_queue(user: Any) -> list[dict[str, Any]]:
    """Open orders grouped by the step they wait at, in the order of the flow."""
    qs = orders_visible(user).exclude(state__in=SALES_ORDER.final_states).order_by("taken_at")
    groups: dict[str, list[Order]] = {}
    for order in qs:
        groups.setdefault(order.state, []).append(order)
    result = []
    for name, title in SALES_ORDER.state_choices:
        if name in groups:
            result.append({"state": name, "title": title, "orders": groups[name]})
    return result


# -- the order on its diagram ----------------------------------------------------------------------


@dataclass
class Step:
    at: dt.datetime
    actor: str
    from_state: str
    to_state: str
    action: str
    note: str
    documents: list[dict[str, str]] = field(default_factory=list)

    @property
    def from_title(self) -> str:
        return _state_title(self.from_state)

    @property
    def to_title(self) -> str:
        return _state_title(self.to_state)


def _state_title(name: str) -> str:
    node = SALES_ORDER.nodes.get(name)
    return str(node.title) if node is not None else name


def order_steps(order: Order) -> list[Step]:
    """The order's transition log (the engine's), oldest first, with the documents attached."""
    return [
        Step(
            at=r.at,
            actor=str(r.actor) if r.actor else "",
            from_state=r.from_state,
            to_state=r.to_state,
            action=r.action,
            note=r.note,
            documents=[{"code": code, "ref": ref or ""} for code, ref in (r.documents or {}).items()],
        )
        for r in engine.history(order, process=SALES_ORDER.name)
    ]


def order_diagram(order: Order, steps: list[Step] | None = None) -> str:
    """The S1 swimlane diagram as SVG with this order's path and current step highlighted."""
    steps = order_steps(order) if steps is None else steps
    highlight = Highlight.from_steps(
        SALES_ORDER, [(s.from_state, s.to_state, s.action) for s in steps], current=order.state
    )
    return render_svg(SALES_ORDER, highlight=highlight)


def step_times() -> list[dict[str, Any]]:
    """Where orders wait (S7): per step, how many passed, median and 90th percentile of the
    time spent, how many wait now and how many of those are past the step's time limit."""

    def text(value: dt.timedelta | None) -> str:
        return format_duration(value) if value is not None else ""

    return [
        {
            **s.as_dict(),
            "stats": s,
            "median": text(s.median),
            "p90": text(s.p90),
            "time_limit": text(s.time_limit),
        }
        for s in step_stats(SALES_ORDER)
        if not s.is_end
    ]


# -- money reports ---------------------------------------------------------------------------------

AGING_BUCKETS: list[tuple[str, Any, int | None, int | None]] = [
    ("current", _("Current"), None, 0),
    ("1_30", _("1–30 days"), 1, 30),
    ("31_60", _("31–60 days"), 31, 60),
    ("61_90", _("61–90 days"), 61, 90),
    ("over_90", _("Over 90 days"), 91, None),
]


def receivables(user: Any) -> QuerySet[Order]:
    """Orders whose signed-for goods are not yet fully paid and not written off."""
    return (
        orders_visible(user)
        .filter(written_off_at__isnull=True, amount_delivered__gt=F("amount_collected"))
        .order_by("due_date", "pk")
    )


def days_overdue(order: Order, today: dt.date) -> int:
    return (today - order.due_date).days if order.due_date else 0


def receivables_aging(user: Any, *, today: dt.date | None = None) -> dict[str, Any]:
    """Receivables by days past the due date: current, 1–30, 31–60, 61–90, over 90 days."""
    day = today or local_date()
    buckets = {key: {"key": key, "title": title, "total": ZERO, "orders": []} for key, title, _lo, _hi in AGING_BUCKETS}
    for order in receivables(user):
        late = days_overdue(order, day)
        for key, _title, lo, hi in AGING_BUCKETS:
            if (lo is None or late >= lo) and (hi is None or late <= hi):
                buckets[key]["total"] += order.receivable
                buckets[key]["orders"].append(order)
                break
    total = money(sum((b["total"] for b in buckets.values()), ZERO))
    return {"buckets": list(buckets.values()), "total": total, "today": day}


def overdue_orders(*, today: dt.date | None = None, user: Any = None) -> QuerySet[Order]:
    """Orders past their payment date (the contract date for 定期結賬 customers) with money owed."""
    day = today or local_date()
    qs = (
        Order.objects.select_related("customer", "owner")
        .filter(written_off_at__isnull=True, due_date__lt=day, amount_delivered__gt=F("amount_collected"))
        .order_by("due_date", "pk")
    )
    return visible_to(qs, user) if user is not None else qs


@dataclass
class RepCash:
    rep: User
    amount: Decimal
    count: int
    oldest: dt.datetime
    collections: list[Collection]

    @property
    def age_days(self) -> int:
        return (now() - self.oldest).days

    @property
    def age_hours(self) -> int:
        return int((now() - self.oldest).total_seconds() // 3600)


def cash_not_handed_over(user: Any) -> list[RepCash]:
    """Money collected by each rep and not yet handed to the department, oldest first."""
    visible = orders_visible(user).values("pk")
    rows = (
        Collection.objects.filter(hand_over__isnull=True, order__in=visible)
        .values("collected_by")
        .annotate(amount=Sum("amount"), count=Count("id"), oldest=Min("collected_at"))
        .order_by("oldest")
    )
    reps = User.objects.in_bulk([r["collected_by"] for r in rows])
    pending: dict[int, list[Collection]] = {}
    for c in (
        Collection.objects.filter(hand_over__isnull=True, order__in=visible)
        .select_related("order", "order__customer")
        .order_by("collected_at")
    ):
        pending.setdefault(c.collected_by_id, []).append(c)
    return [
        RepCash(
            reps[r["collected_by"]], money(r["amount"]), r["count"], r["oldest"], pending.get(r["collected_by"], [])
        )
        for r in rows
    ]


def rep_performance(*, date_from: dt.date, date_to: dt.date, user: Any = None) -> list[dict[str, Any]]:
    """業績: performance recorded per rep in the period, ranked by sales."""
    qs = PerformanceRecord.objects.filter(period__gte=date_from, period__lte=date_to)
    if user is not None:
        qs = qs.filter(order__in=orders_visible(user).values("pk"))
    rows = list(qs.values("rep").annotate(amount=Sum("amount"), orders=Count("id")).order_by("-amount", "rep"))
    reps = User.objects.in_bulk([r["rep"] for r in rows])
    return [
        {"rank": i, "rep": reps[r["rep"]], "amount": money(r["amount"]), "orders": r["orders"]}
        for i, r in enumerate(rows, start=1)
    ]


def product_sales(*, date_from: dt.date, date_to: dt.date, user: Any = None) -> list[dict[str, Any]]:
    """產品銷售: quantities and amounts per product recorded in the period (after write-off)."""
    qs = ProductSale.objects.filter(period__gte=date_from, period__lte=date_to)
    if user is not None:
        qs = qs.filter(order__in=orders_visible(user).values("pk"))
    rows = list(qs.values("product").annotate(quantity=Sum("quantity"), amount=Sum("amount")).order_by("-amount"))
    products = Product.objects.in_bulk([r["product"] for r in rows])
    return [{"product": products[r["product"]], "quantity": r["quantity"], "amount": money(r["amount"])} for r in rows]
