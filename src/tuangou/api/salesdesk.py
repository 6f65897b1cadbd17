"""/api/v1/salesdesk/…: the group-buy sales desk (S1) — customers, orders, their steps, reports.

Thin: validate the shape, call a service or a selector, return a schema. A rep sees only their
own orders, the department all of them, nobody else any (404 for strangers).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from tuangou.accounts.roles import Role
from tuangou.api.schemas import ERRORS, Money
from tuangou.core.errors import NotFound, ValidationFailed
from tuangou.core.ownership import get_visible, require_role, visible_to
from tuangou.core.time import local_date
from tuangou.salesdesk import selectors, services
from tuangou.salesdesk.models import Customer, Order

router = Router(tags=["salesdesk"])

SALES = (Role.SALES_REP, Role.SALES_DEPT)


class ContactIn(Schema):
    name: str = Field(max_length=60)
    phone: str = Field("", max_length=40)


class CustomerIn(Schema):
    name: str = Field(max_length=120)
    kind: Customer.Kind = Customer.Kind.COMPANY
    payment_terms: Customer.Terms = Customer.Terms.CASH
    settlement_day: int | None = Field(None, description="Day of the month for contract-date settlement (1–28)")
    net_days: int | None = Field(None, description="Days after delivery for N-day settlement")
    credit_limit: Decimal | None = Field(None, description="Yuan; empty means no limit. Exceeding it warns.")
    phone: str = Field("", max_length=40)
    address: str = Field("", max_length=200)
    tax_number: str = Field("", max_length=40)
    contacts: list[ContactIn] = []


class CustomerOut(Schema):
    id: int
    name: str
    kind: str
    payment_terms: str
    settlement_day: int | None
    net_days: int | None
    credit_limit: Money | None


class LineIn(Schema):
    product_id: int
    quantity: int
    unit_price: Decimal | None = Field(None, description="Yuan; default: the customer's price list")


class OrderIn(Schema):
    customer_id: int
    lines: list[LineIn]
    source: Order.Source = Order.Source.DIRECT
    contact_id: int | None = None
    agreed_due_date: dt.date | None = Field(None, description="The contract's payment date, if fixed")
    notes: str = ""


class LineOut(Schema):
    id: int
    product_id: int
    product: str
    unit: str
    quantity: int
    unit_price: Money
    amount: Money
    qty_shipped: int
    qty_delivered: int


class StepOut(Schema):
    at: dt.datetime
    actor: str
    from_state: str
    to_state: str
    action: str
    note: str
    documents: list[dict[str, str]]


class OrderOut(Schema):
    id: int
    number: str | None
    customer_id: int
    customer: str
    owner_id: int
    picker_id: int | None
    state: str
    state_title: str
    next_action: str | None
    source: str
    channel: str
    channel_reason: str
    fulfilment_status: str
    invoice_status: str
    payment_status: str
    amount_total: Money
    amount_delivered: Money
    amount_invoiced: Money
    amount_collected: Money
    amount_handed_over: Money
    amount_written_off: Money
    receivable: Money
    due_date: dt.date | None
    credit_warning: bool
    taken_at: dt.datetime
    registered_at: dt.datetime | None


class OrderDetailOut(OrderOut):
    lines: list[LineOut]
    steps: list[StepOut]
    warnings: list[str] = []


class ActionIn(Schema):
    """The fields each action reads; the others are ignored.

    - place: channel (written | phone | sms), reason (for phone/SMS)
    - dispatch: invoice_number, tax_rate, quantities {line id: qty} (default: all open), picker_id, picker_reason
    - sign: receiver_name, receiver_phone, signature (base64 PNG, or a data: URL), cash_received
    - collect: amount, method, reference, accept_overpayment, settle_short_reason
    - write_off: amount_received, overpaid_handling (refund | credit), note
    - register, file, record_performance: nothing
    """

    channel: str = ""
    reason: str = ""
    invoice_number: str = ""
    tax_rate: Decimal = services.DEFAULT_TAX_RATE
    quantities: dict[int, int] | None = None
    picker_id: int | None = None
    picker_reason: str = ""
    receiver_name: str = ""
    receiver_phone: str = ""
    signature: str = ""
    cash_received: Decimal | None = Field(None, description="sign: cash handed over on signing, if any")
    amount: Decimal | None = None
    method: str = "cash"
    reference: str = ""
    accept_overpayment: bool = False
    settle_short_reason: str = ""
    amount_received: Decimal | None = None
    overpaid_handling: str = ""
    note: str = ""


Action = Literal["register", "place", "dispatch", "sign", "collect", "write_off", "file", "record_performance"]


class HandOverIn(Schema):
    rep_id: int
    collection_ids: list[int]
    amount: Decimal


class HandOverOut(Schema):
    id: int
    number: str
    rep_id: int
    amount: Money
    received_at: dt.datetime


class AgingBucketOut(Schema):
    key: str
    title: str
    total: Money
    orders: list[OrderOut]


class AgingOut(Schema):
    today: dt.date
    total: Money
    buckets: list[AgingBucketOut]


class RepCashOut(Schema):
    rep_id: int
    rep: str
    amount: Money
    count: int
    oldest: dt.datetime
    age_hours: int


class RepPerformanceOut(Schema):
    rank: int
    rep_id: int
    rep: str
    amount: Money
    orders: int


class ProductSalesOut(Schema):
    product_id: int
    product: str
    unit: str
    quantity: int
    amount: Money


def _order_out(order: Order, user: Any) -> dict[str, Any]:
    return {
        **{f: getattr(order, f) for f in OrderOut.model_fields if hasattr(order, f)},
        "customer": order.customer.name,
        "state_title": order.get_state_display(),
        "next_action": selectors.next_action(order, user),
        "receivable": order.receivable,
    }


def _detail(order: Order, user: Any, warnings: list[str] | None = None) -> dict[str, Any]:
    lines = [
        {
            "id": ln.pk,
            "product_id": ln.product_id,
            "product": ln.product.name,
            "unit": ln.product.unit,
            "quantity": ln.quantity,
            "unit_price": ln.unit_price,
            "amount": ln.amount,
            "qty_shipped": ln.qty_shipped,
            "qty_delivered": ln.qty_delivered,
        }
        for ln in order.lines.select_related("product")
    ]
    steps = [s.__dict__ for s in selectors.order_steps(order)]
    return {**_order_out(order, user), "lines": lines, "steps": steps, "warnings": warnings or []}


def _visible(request: HttpRequest, order_id: int) -> Order:
    return get_visible(Order.objects.select_related("customer"), request.user, pk=order_id)


@router.get("/salesdesk/customers", response={200: list[CustomerOut], **ERRORS}, summary="Customers")
def customers(request: HttpRequest) -> Any:
    require_role(request.user, *SALES)
    return visible_to(Customer.objects.filter(is_active=True), request.user)


@router.post("/salesdesk/customers", response={201: CustomerOut, **ERRORS}, summary="Add a customer")
def customer_create(request: HttpRequest, payload: CustomerIn) -> Status:
    customer = services.customer_create(
        actor=request.user,
        **payload.dict(exclude={"contacts"}),
        contacts=[(c.name, c.phone) for c in payload.contacts],
    )
    return Status(201, customer)


@router.get("/salesdesk/orders", response={200: list[OrderOut], **ERRORS}, summary="Orders I may see")
def orders(request: HttpRequest, state: str = "", customer: str = "") -> Any:
    require_role(request.user, *SALES)
    qs = selectors.register_ledger(request.user, state=state, customer=customer)
    return [_order_out(o, request.user) for o in qs[:200]]


@router.post(
    "/salesdesk/orders",
    response={201: OrderDetailOut, **ERRORS},
    summary="Take and register an order (接訂單, 登記建檔)",
    description="The caller (a group-buy sales rep) owns the order. Accepts an `Idempotency-Key` header.",
)
def order_create(request: HttpRequest, payload: OrderIn) -> Status:
    order, warnings = services.order_take(
        actor=request.user,
        customer_id=payload.customer_id,
        lines=[services.LineIn(ln.product_id, ln.quantity, ln.unit_price) for ln in payload.lines],
        source=payload.source,
        contact_id=payload.contact_id,
        agreed_due_date=payload.agreed_due_date,
        notes=payload.notes,
        idempotency_key=request.headers.get("Idempotency-Key", "").strip(),
    )
    order.refresh_from_db()
    return Status(201, _detail(order, request.user, warnings))


@router.get("/salesdesk/orders/{order_id}", response={200: OrderDetailOut, **ERRORS}, summary="One order")
def order_detail(request: HttpRequest, order_id: int) -> Any:
    return _detail(_visible(request, order_id), request.user)


def _signature(value: str) -> bytes:
    if value.startswith("data:"):
        value = value.split(",", 1)[-1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed.field(
            "signature", _("The signature is not a base64 PNG."), code="signature_invalid"
        ) from None


@router.post(
    "/salesdesk/orders/{order_id}/actions/{action}",
    response={200: OrderDetailOut, **ERRORS},
    summary="Perform the order's next step",
)
def order_action(request: HttpRequest, order_id: int, action: Action, payload: ActionIn) -> Any:
    order = _visible(request, order_id)
    user, pk = request.user, order.pk
    p = payload
    if action == "register":
        services.order_register(order_id=pk, actor=user)
    elif action == "place":
        services.order_place(order_id=pk, actor=user, channel=p.channel, reason=p.reason)
    elif action == "dispatch":
        services.order_dispatch(
            order_id=pk,
            actor=user,
            invoice_number=p.invoice_number,
            tax_rate=p.tax_rate,
            quantities=p.quantities,
            picker_id=p.picker_id,
            picker_reason=p.picker_reason,
        )
    elif action == "sign":
        services.order_sign(
            order_id=pk,
            actor=user,
            receiver_name=p.receiver_name,
            receiver_phone=p.receiver_phone,
            signature=_signature(p.signature),
            cash_received=p.cash_received,
        )
    elif action == "collect":
        if p.amount is None:
            raise ValidationFailed.field("amount", _("This field is required."), code="required")
        services.order_collect(
            order_id=pk,
            actor=user,
            amount=p.amount,
            method=p.method,
            reference=p.reference,
            accept_overpayment=p.accept_overpayment,
            settle_short_reason=p.settle_short_reason,
        )
    elif action == "write_off":
        if p.amount_received is None:
            raise ValidationFailed.field("amount_received", _("This field is required."), code="required")
        services.order_write_off(
            order_id=pk,
            actor=user,
            amount_received=p.amount_received,
            overpaid_handling=p.overpaid_handling,
            note=p.note,
        )
    elif action == "file":
        services.order_file(order_id=pk, actor=user)
    elif action == "record_performance":
        services.order_record_performance(order_id=pk, actor=user)
    else:  # pragma: no cover - the path type allows no other value
        raise NotFound()
    order.refresh_from_db()
    return _detail(order, user)


@router.post("/salesdesk/hand-overs", response={201: HandOverOut, **ERRORS}, summary="Receive cash from a rep (交款)")
def hand_over(request: HttpRequest, payload: HandOverIn) -> Status:
    record = services.collections_hand_over(
        actor=request.user, rep_id=payload.rep_id, collection_ids=payload.collection_ids, amount=payload.amount
    )
    return Status(201, record)


@router.get("/salesdesk/reports/aging", response={200: AgingOut, **ERRORS}, summary="Receivables aging")
def report_aging(request: HttpRequest, today: dt.date | None = None) -> Any:
    require_role(request.user, *SALES)
    data = selectors.receivables_aging(request.user, today=today)
    for bucket in data["buckets"]:
        bucket["title"] = str(bucket["title"])
        bucket["orders"] = [_order_out(o, request.user) for o in bucket["orders"]]
    return data


@router.get("/salesdesk/reports/overdue", response={200: list[OrderOut], **ERRORS}, summary="Overdue by contract date")
def report_overdue(request: HttpRequest, today: dt.date | None = None) -> Any:
    require_role(request.user, *SALES)
    return [_order_out(o, request.user) for o in selectors.overdue_orders(today=today, user=request.user)]


@router.get("/salesdesk/reports/cash", response={200: list[RepCashOut], **ERRORS}, summary="Cash not handed over")
def report_cash(request: HttpRequest) -> Any:
    require_role(request.user, *SALES)
    return [
        {
            "rep_id": r.rep.pk,
            "rep": str(r.rep),
            "amount": r.amount,
            "count": r.count,
            "oldest": r.oldest,
            "age_hours": r.age_hours,
        }
        for r in selectors.cash_not_handed_over(request.user)
    ]


def _period(date_from: dt.date | None, date_to: dt.date | None) -> tuple[dt.date, dt.date]:
    end = date_to or local_date()
    return date_from or end.replace(day=1), end


@router.get(
    "/salesdesk/reports/performance", response={200: list[RepPerformanceOut], **ERRORS}, summary="Rep performance"
)
def report_performance(request: HttpRequest, date_from: dt.date | None = None, date_to: dt.date | None = None) -> Any:
    require_role(request.user, *SALES)
    start, end = _period(date_from, date_to)
    return [
        {"rank": r["rank"], "rep_id": r["rep"].pk, "rep": str(r["rep"]), "amount": r["amount"], "orders": r["orders"]}
        for r in selectors.rep_performance(date_from=start, date_to=end, user=request.user)
    ]


@router.get(
    "/salesdesk/reports/product-sales", response={200: list[ProductSalesOut], **ERRORS}, summary="Product sales"
)
def report_product_sales(request: HttpRequest, date_from: dt.date | None = None, date_to: dt.date | None = None) -> Any:
    require_role(request.user, *SALES)
    start, end = _period(date_from, date_to)
    return [
        {
            "product_id": r["product"].pk,
            "product": r["product"].name,
            "unit": r["product"].unit,
            "quantity": r["quantity"],
            "amount": r["amount"],
        }
        for r in selectors.product_sales(date_from=start, date_to=end, user=request.user)
    ]
