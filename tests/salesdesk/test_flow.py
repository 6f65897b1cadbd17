"""The eight steps of S1, for a cash customer and for a credit customer, through the services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest

from tuangou.accounts.models import User
from tuangou.catalog.models import Product
from tuangou.core.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from tuangou.core.time import local_date
from tuangou.messaging.models import OutboxMessage
from tuangou.salesdesk import selectors, services
from tuangou.salesdesk.models import Customer, Order, PerformanceRecord, ProductSale

from .conftest import tiny_png

pytestmark = pytest.mark.django_db


def _documents(order: Order) -> dict[str, list[str]]:
    docs: dict[str, list[str]] = {}
    for step in selectors.order_steps(order):
        for d in step.documents:
            docs.setdefault(d["code"], []).append(d["ref"])
    return docs


def test_cash_customer_through_all_eight_steps(
    take: Callable[..., Order], rep: User, dept: User, cash_customer: Customer, wine: Product
) -> None:
    order = take(cash_customer)
    assert order.state == "placing"
    assert order.number and order.number.startswith(f"TG{local_date().year}-")
    assert order.owner == rep
    assert order.amount_total == Decimal("1480.00")

    services.order_place(order_id=order.pk, actor=rep, channel="written")
    shipment = services.order_dispatch(order_id=order.pk, actor=dept, invoice_number="FP-0001")
    order.refresh_from_db()
    assert order.state == "signing"
    assert shipment.picker == rep and order.picker == rep
    assert order.invoice_status == Order.Invoicing.INVOICED
    assert shipment.invoice is not None and shipment.invoice.tax_amount == Decimal("170.27")
    wine.refresh_from_db()
    assert wine.stock_on_hand == 98

    services.order_sign(order_id=order.pk, actor=rep, receiver_name="張先生", signature=tiny_png())
    order.refresh_from_db()
    assert order.state == "collecting"
    assert order.fulfilment_status == Order.Fulfilment.DELIVERED
    assert order.due_date == local_date()  # cash: due on signing
    assert order.receivable == Decimal("1480.00")

    services.order_collect(order_id=order.pk, actor=rep, amount="1480.00", method="cash")
    order.refresh_from_db()
    assert order.state == "writing_off"
    assert order.payment_status == Order.Payment.PAID
    [cash] = selectors.cash_not_handed_over(dept)
    assert cash.rep == rep and cash.amount == Decimal("1480.00")

    assert not PerformanceRecord.objects.exists()
    services.order_write_off(order_id=order.pk, actor=dept, amount_received="1480.00")
    order.refresh_from_db()
    assert order.state == "rep_filing"
    assert order.amount_written_off == Decimal("1480.00")
    assert selectors.cash_not_handed_over(dept) == []
    assert not PerformanceRecord.objects.exists()

    services.order_file(order_id=order.pk, actor=rep)
    services.order_record_performance(order_id=order.pk, actor=dept)
    order.refresh_from_db()
    assert order.state == "closed"
    perf = PerformanceRecord.objects.get()
    assert perf.rep == rep and perf.amount == Decimal("1480.00")
    assert sorted(ProductSale.objects.values_list("product__code", "quantity")) == [("M01", 10), ("W01", 2)]

    steps = selectors.order_steps(order)
    assert [s.action for s in steps] == [
        "receive",
        "take",
        "register",
        "place_written",
        "dispatch",
        "sign",
        "collect",
        "write_off",
        "file",
        "record_performance",
    ]
    docs = _documents(order)
    assert set(docs) == {
        "register",
        "written_order",
        "invoice",
        "delivery_note",
        "receipt_signed",
        "payment_voucher",
        "write_off",
        "performance",
    }
    assert docs["invoice"] == ["FP-0001"]
    stats = {s["step"]: s for s in selectors.step_times()}
    assert stats["dispatching"]["left"] == 1 and stats["dispatching"]["waiting"] == 0
    svg = selectors.order_diagram(order)
    assert svg.startswith("<svg") or "<svg" in svg[:200]


def test_credit_customer_pays_on_the_contract_date_or_is_overdue_the_day_after(
    delivered: Callable[..., Order], rep: User, dept: User, credit_customer: Customer
) -> None:
    paid = delivered(credit_customer)
    late = delivered(credit_customer)
    due = local_date() + dt.timedelta(days=30)
    assert paid.due_date == due and late.due_date == due
    assert list(selectors.overdue_orders(today=due)) == []

    services.order_collect(order_id=paid.pk, actor=rep, amount="1480", method="transfer", reference="B-778")
    assert list(selectors.overdue_orders(today=due + dt.timedelta(days=1))) == [late]

    aging = selectors.receivables_aging(dept, today=due + dt.timedelta(days=1))
    bucket = {b["key"]: b for b in aging["buckets"]}
    assert bucket["1_30"]["orders"] == [late] and bucket["1_30"]["total"] == Decimal("1480.00")
    assert aging["total"] == Decimal("1480.00")

    assert services.overdue_remind(today=due + dt.timedelta(days=1)) == 1
    assert services.overdue_remind(today=due + dt.timedelta(days=1)) == 0  # once a day
    message = OutboxMessage.objects.get(template="salesdesk_overdue")
    assert message.to == rep.mobile and late.number in message.body


def test_contract_settlement_day_sets_the_due_date(dept: User) -> None:
    customer = services.customer_create(
        actor=dept, name="百貨公司", payment_terms=Customer.Terms.CONTRACT_DATE, settlement_day=25
    )
    assert services.due_date_for(customer, dt.date(2026, 3, 10)) == dt.date(2026, 3, 25)
    assert services.due_date_for(customer, dt.date(2026, 12, 26)) == dt.date(2027, 1, 25)
    assert services.due_date_for(customer, dt.date(2026, 3, 10), dt.date(2026, 4, 1)) == dt.date(2026, 4, 1)


def test_phone_order_is_an_exception_with_a_reason(
    take: Callable[..., Order], rep: User, cash_customer: Customer
) -> None:
    order = take(cash_customer)
    with pytest.raises(ValidationFailed) as exc:
        services.order_place(order_id=order.pk, actor=rep, channel="phone", reason=" ")
    assert "reason" in exc.value.errors
    order.refresh_from_db()
    assert order.state == "placing" and order.channel == ""
    services.order_place(order_id=order.pk, actor=rep, channel="phone", reason="客戶出差, 電話下單")
    order.refresh_from_db()
    assert order.channel == "phone" and order.channel_reason == "客戶出差, 電話下單"
    [step] = [s for s in selectors.order_steps(order) if s.action == "place_by_phone"]
    assert step.note == "客戶出差, 電話下單"


def test_another_rep_delivers_only_as_a_recorded_exception(
    take: Callable[..., Order], rep: User, rep2: User, dept: User, cash_customer: Customer
) -> None:
    order = take(cash_customer)
    services.order_place(order_id=order.pk, actor=rep, channel="written")
    with pytest.raises(ValidationFailed) as exc:
        services.order_dispatch(order_id=order.pk, actor=dept, invoice_number="FP1", picker_id=rep2.pk)
    assert "picker_reason" in exc.value.errors
    with pytest.raises(ValidationFailed) as exc:
        services.order_dispatch(
            order_id=order.pk, actor=dept, invoice_number="FP1", picker_id=dept.pk, picker_reason="x"
        )
    assert "picker" in exc.value.errors
    shipment = services.order_dispatch(
        order_id=order.pk, actor=dept, invoice_number="FP1", picker_id=rep2.pk, picker_reason="趙請假"
    )
    assert shipment.picker == rep2 and shipment.picker_reason == "趙請假"
    # The picker delivers and collects the signature; the order still belongs to its owner.
    services.order_sign(order_id=order.pk, actor=rep2, receiver_name="王秘書", signature=tiny_png())
    order.refresh_from_db()
    assert order.owner == rep and order.state == "collecting"
    shipment.refresh_from_db()
    assert shipment.receiver_name == "王秘書" and shipment.recorded_by == rep2


def test_partial_delivery_keeps_the_rest_open(
    take: Callable[..., Order], rep: User, dept: User, cash_customer: Customer
) -> None:
    order = take(cash_customer)
    services.order_place(order_id=order.pk, actor=rep, channel="written")
    wine_line, cake_line = order.lines.order_by("pk")
    services.order_dispatch(
        order_id=order.pk, actor=dept, invoice_number="FP1", quantities={wine_line.pk: 2, cake_line.pk: 4}
    )
    services.order_sign(order_id=order.pk, actor=rep, receiver_name="張先生", signature=tiny_png())
    order.refresh_from_db()
    assert order.state == "dispatching"
    assert order.fulfilment_status == Order.Fulfilment.PARTIAL
    assert order.invoice_status == Order.Invoicing.PARTIAL
    assert order.amount_delivered == Decimal("952.00")
    with pytest.raises(ValidationFailed) as exc:
        services.order_dispatch(order_id=order.pk, actor=dept, invoice_number="FP2", quantities={cake_line.pk: 7})
    assert "lines.1.quantity" in exc.value.errors
    services.order_dispatch(order_id=order.pk, actor=dept, invoice_number="FP2")
    services.order_sign(order_id=order.pk, actor=rep, receiver_name="張太太", signature=tiny_png())
    order.refresh_from_db()
    assert order.state == "collecting" and order.fulfilment_status == Order.Fulfilment.DELIVERED
    assert order.shipments.count() == 2 and order.invoices.count() == 2


def test_partial_payment_under_and_over_payment_are_explicit(
    delivered: Callable[..., Order], rep: User, dept: User, cash_customer: Customer
) -> None:
    order = delivered(cash_customer)
    services.order_collect(order_id=order.pk, actor=rep, amount="1000")
    order.refresh_from_db()
    assert order.state == "collecting" and order.payment_status == Order.Payment.PARTIAL
    with pytest.raises(ValidationFailed) as exc:
        services.order_collect(order_id=order.pk, actor=rep, amount="500")
    assert exc.value.code == "overpayment" and "amount" in exc.value.errors
    order.refresh_from_db()
    assert order.amount_collected == Decimal("1000.00")
    services.order_collect(order_id=order.pk, actor=rep, amount="500", accept_overpayment=True)
    order.refresh_from_db()
    assert order.state == "writing_off" and order.payment_status == Order.Payment.OVERPAID
    with pytest.raises(ValidationFailed) as exc:
        services.order_write_off(order_id=order.pk, actor=dept, amount_received="1500")
    assert "overpaid_handling" in exc.value.errors
    with pytest.raises(ValidationFailed) as exc:
        services.order_write_off(order_id=order.pk, actor=dept, amount_received="1480", overpaid_handling="refund")
    assert "amount_received" in exc.value.errors
    order.refresh_from_db()
    assert order.amount_handed_over == Decimal("0.00")  # nothing changed
    record = services.order_write_off(order_id=order.pk, actor=dept, amount_received="1500", overpaid_handling="refund")
    assert record.amount == Decimal("1480.00") and record.overpaid == Decimal("20.00")


def test_under_payment_accepted_with_a_reason(
    delivered: Callable[..., Order], rep: User, dept: User, cash_customer: Customer
) -> None:
    order = delivered(cash_customer)
    services.order_collect(order_id=order.pk, actor=rep, amount="1400", settle_short_reason="抹零, 經理同意")
    order.refresh_from_db()
    assert order.state == "writing_off" and order.payment_status == Order.Payment.SHORT
    record = services.order_write_off(order_id=order.pk, actor=dept, amount_received="1400")
    assert record.amount == Decimal("1400.00") and record.short == Decimal("80.00")


def test_write_off_never_exceeds_what_was_collected(
    delivered: Callable[..., Order], rep: User, dept: User, cash_customer: Customer
) -> None:
    order = delivered(cash_customer)
    with pytest.raises(Conflict):
        services.order_write_off(order_id=order.pk, actor=dept, amount_received="1480")
    services.order_collect(order_id=order.pk, actor=rep, amount="1480")
    with pytest.raises(ValidationFailed):
        services.order_write_off(order_id=order.pk, actor=dept, amount_received="2000")
    order.refresh_from_db()
    assert order.amount_written_off == Decimal("0.00") and order.state == "writing_off"
    # Even bypassing the services, the database refuses a write-off above the money handed over.
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(amount_written_off=Decimal("1.00"))


def test_hand_over_matches_amounts_and_happens_once(
    delivered: Callable[..., Order], rep: User, dept: User, cash_customer: Customer
) -> None:
    a, b = delivered(cash_customer), delivered(cash_customer)
    ca = services.order_collect(order_id=a.pk, actor=rep, amount="1480")
    cb = services.order_collect(order_id=b.pk, actor=rep, amount="480")
    with pytest.raises(ValidationFailed) as exc:
        services.collections_hand_over(actor=dept, rep_id=rep.pk, collection_ids=[ca.pk, cb.pk], amount="1900")
    assert "amount" in exc.value.errors
    with pytest.raises(Forbidden):
        services.collections_hand_over(actor=rep, rep_id=rep.pk, collection_ids=[ca.pk], amount="1480")
    services.collections_hand_over(actor=dept, rep_id=rep.pk, collection_ids=[ca.pk, cb.pk], amount="1960")
    with pytest.raises(Conflict):
        services.collections_hand_over(actor=dept, rep_id=rep.pk, collection_ids=[ca.pk], amount="1480")
    assert selectors.cash_not_handed_over(dept) == []
    services.order_write_off(order_id=a.pk, actor=dept, amount_received="0")
    a.refresh_from_db()
    assert a.state == "rep_filing" and a.amount_written_off == Decimal("1480.00")


def test_performance_only_after_write_off(
    delivered: Callable[..., Order], rep: User, dept: User, cash_customer: Customer
) -> None:
    order = delivered(cash_customer)
    with pytest.raises(Conflict):
        services.order_record_performance(order_id=order.pk, actor=dept)
    with pytest.raises(Conflict):
        services.order_file(order_id=order.pk, actor=rep)
    assert not PerformanceRecord.objects.exists() and not ProductSale.objects.exists()
    assert selectors.rep_performance(date_from=local_date(), date_to=local_date()) == []


def test_credit_limit_warns_but_does_not_refuse(
    take: Callable[..., Order], rep: User, credit_customer: Customer
) -> None:
    first = take(credit_customer)  # 1480 of 5000
    assert not first.credit_warning
    big = take(credit_customer, cake_qty=50)  # 600 + 4400 = 5000; exposure 6480 > 5000
    assert big.credit_warning


def test_bad_input_names_the_field_and_changes_nothing(rep: User, cash_customer: Customer, wine: Product) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.order_take(
            actor=rep,
            customer_id=cash_customer.pk,
            lines=[services.LineIn(wine.pk, 0), services.LineIn(999999, 1)],
        )
    assert set(exc.value.errors) == {"lines.0.quantity", "lines.1.product"}
    with pytest.raises(ValidationFailed) as exc:
        services.order_take(actor=rep, customer_id=999999, lines=[])
    assert {"customer", "lines"} <= set(exc.value.errors)
    assert not Order.objects.exists()


def test_shipping_more_than_stock_is_refused(
    take: Callable[..., Order], rep: User, dept: User, cash_customer: Customer, wine: Product
) -> None:
    order = take(cash_customer, wine_qty=101)
    services.order_place(order_id=order.pk, actor=rep, channel="written")
    with pytest.raises(ValidationFailed) as exc:
        services.order_dispatch(order_id=order.pk, actor=dept, invoice_number="FP9")
    assert "lines" in exc.value.errors
    wine.refresh_from_db()
    order.refresh_from_db()
    assert wine.stock_on_hand == 100 and order.state == "dispatching" and not order.invoices.exists()


def test_a_rep_sees_only_own_orders_the_department_all_nobody_else(
    take: Callable[..., Order],
    rep: User,
    rep2: User,
    dept: User,
    cash_customer: Customer,
    make_user: Callable[..., User],
) -> None:
    mine = take(cash_customer)
    theirs = take(cash_customer, actor=rep2)
    assert list(selectors.orders_visible(rep)) == [mine]
    assert set(selectors.orders_visible(dept)) == {mine, theirs}
    for role in ("operator", "finance", "member", "merchant"):
        assert list(selectors.orders_visible(make_user(role))) == []
    with pytest.raises(NotFound):
        services.order_place(order_id=theirs.pk, actor=rep, channel="written")


def test_steps_belong_to_their_lane(take: Callable[..., Order], rep: User, dept: User, cash_customer: Customer) -> None:
    order = take(cash_customer)
    with pytest.raises(AppError) as exc:
        services.order_place(order_id=order.pk, actor=dept, channel="written")
    assert exc.value.status == 403
    services.order_place(order_id=order.pk, actor=rep, channel="written")
    with pytest.raises(AppError) as exc:
        services.order_dispatch(order_id=order.pk, actor=rep, invoice_number="FP1")
    assert exc.value.status == 403
    order.refresh_from_db()
    assert order.state == "dispatching"


def test_the_step_changes_only_through_the_engine(take: Callable[..., Order], cash_customer: Customer) -> None:
    order = take(cash_customer)
    with pytest.raises(Conflict):
        order.state = "closed"
    order.refresh_from_db()
    assert order.state == "placing"


def test_cash_collected_on_signing_in_one_step(
    take: Callable[..., Order], rep: User, dept: User, cash_customer: Customer
) -> None:
    order = take(cash_customer)
    services.order_place(order_id=order.pk, actor=rep, channel="written")
    wine_line, _cake_line = order.lines.order_by("pk")
    services.order_dispatch(order_id=order.pk, actor=dept, invoice_number="FP1", quantities={wine_line.pk: 2})
    with pytest.raises(ValidationFailed) as exc:
        services.order_sign(order_id=order.pk, actor=rep, receiver_name="張", signature=tiny_png(), cash_received="600")
    assert "cash_received" in exc.value.errors
    order.refresh_from_db()
    assert order.state == "signing" and order.amount_delivered == Decimal("0.00")  # nothing changed
    services.order_sign(order_id=order.pk, actor=rep, receiver_name="張", signature=tiny_png())
    services.order_dispatch(order_id=order.pk, actor=dept, invoice_number="FP2")
    services.order_sign(order_id=order.pk, actor=rep, receiver_name="張", signature=tiny_png(), cash_received="1480")
    order.refresh_from_db()
    assert order.state == "writing_off" and order.amount_collected == Decimal("1480.00")
    assert [s.action for s in selectors.order_steps(order)][-2:] == ["sign", "collect"]
