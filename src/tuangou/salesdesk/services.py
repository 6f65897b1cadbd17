"""Every change to the sales desk (S1), one function per action.

The order's step moves only through `_advance`, which performs a transition of the declared
S1 process (`process.SALES_ORDER`) with the documents the step produced. The amounts of the
three axes (delivery, invoicing, payment) move with `F()` under the order's row lock.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils.translation import gettext_lazy as _

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.catalog.models import Product, price_for
from tuangou.catalog.services import stock_issue
from tuangou.core.audit import audit
from tuangou.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tuangou.core.money import ZERO, money
from tuangou.core.ownership import has_role, require_owner, require_role
from tuangou.core.time import local_date, now
from tuangou.core.workflow import Route, engine
from tuangou.messaging import templates
from tuangou.messaging.services import message_send
from tuangou.salesdesk.models import (
    Collection,
    Contact,
    Customer,
    HandOver,
    Invoice,
    LedgerCounter,
    Order,
    OrderLine,
    OverdueReminder,
    PerformanceRecord,
    ProductSale,
    Shipment,
    ShipmentLine,
    WriteOff,
)
from tuangou.salesdesk.process import SALES_ORDER

templates.register(
    "salesdesk_overdue",
    _(
        "[%(site)s] Order %(number)s of %(customer)s was due on %(due)s; %(amount)s is still "
        "outstanding. Please collect it."
    ),
)

DEFAULT_TAX_RATE = Decimal("0.13")
MAX_SIGNATURE_BYTES = 300_000


@dataclass(frozen=True)
class Attached:
    """A document attached to a transition: its code in the declaration and its reference."""

    code: str
    ref: str


@dataclass(frozen=True)
class LineIn:
    product_id: int
    quantity: int
    unit_price: Decimal | None = None


# -- the one place an order's step changes -------------------------------------------------------


def _check(order: Order, action: str, *, actor: Any) -> Route:
    """The route `action` takes from the order's step, if `actor` may take it; else refuse.

    Services call this before doing a step's work, so a refusal comes before anything else;
    `engine.transition` checks the same again under its lock when the step is done.
    """
    route = SALES_ORDER.route(order.state, action)
    if route is None:
        raise Conflict(
            _("This order is at “%(step)s”; “%(action)s” is not possible now.")
            % {"step": order.get_state_display(), "action": action},
            code="transition_not_allowed",
        )
    if not engine.allowed(route, SALES_ORDER, order, actor):
        raise Forbidden(_("You may not perform this step of this order."), code="transition_forbidden")
    return route


def _advance(order: Order, action: str, *, actor: Any, note: str = "", documents: Sequence[Attached] = ()) -> None:
    """Perform `action` of the S1 process on `order` through the engine, attaching the
    documents the step produced (登記表, 書面訂單, 發票, 送貨單, 簽收單, 收款憑證, 銷帳記錄, 業績記錄).
    The one place an order's step changes."""
    engine.transition(order, action, actor=actor, note=note, documents={d.code: d.ref for d in documents})


# -- numbers ---------------------------------------------------------------------------------------


def number_next(key: str) -> int:
    """The next number of book `key`, race-free: the counter row is updated in SQL and stays
    locked until the caller's transaction commits, so two reps never get the same number."""
    with transaction.atomic():
        if not LedgerCounter.objects.filter(key=key).update(last=F("last") + 1):
            try:
                with transaction.atomic():
                    LedgerCounter.objects.create(key=key, last=1)
            except IntegrityError:
                # Another transaction created the row first; take the next number after it.
                LedgerCounter.objects.filter(key=key).update(last=F("last") + 1)
        return LedgerCounter.objects.values_list("last", flat=True).get(key=key)


def _register_number() -> str:
    year = local_date().year
    return f"TG{year}-{number_next(f'register-{year}'):05d}"


# -- customers -------------------------------------------------------------------------------------


def customer_create(
    *,
    actor: Any,
    name: str,
    kind: str = Customer.Kind.COMPANY,
    payment_terms: str = Customer.Terms.CASH,
    settlement_day: int | None = None,
    net_days: int | None = None,
    credit_limit: Decimal | str | None = None,
    phone: str = "",
    address: str = "",
    tax_number: str = "",
    contacts: Iterable[tuple[str, str]] = (),
) -> Customer:
    """A customer with payment terms: cash, or 定期結賬 on a contract day or N days after delivery."""
    require_role(actor, Role.SALES_REP, Role.SALES_DEPT)
    errors: dict[str, list[Any]] = {}
    name = name.strip()
    if not name:
        errors["name"] = [_("Enter the customer's name.")]
    if kind not in Customer.Kind.values:
        errors["kind"] = [_("Choose a company or a person.")]
    if payment_terms not in Customer.Terms.values:
        errors["payment_terms"] = [_("Choose the payment terms.")]
    if payment_terms == Customer.Terms.CONTRACT_DATE and not (settlement_day and 1 <= settlement_day <= 28):
        errors["settlement_day"] = [_("Enter the contract's settlement day of the month (1–28).")]
    if payment_terms == Customer.Terms.NET_DAYS and not (net_days and net_days >= 1):
        errors["net_days"] = [_("Enter how many days after delivery payment is due.")]
    limit: Decimal | None = None
    if credit_limit not in (None, ""):
        try:
            limit = money(credit_limit)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            errors["credit_limit"] = [_("Enter an amount.")]
        else:
            if limit < 0:
                errors["credit_limit"] = [_("The credit limit cannot be negative.")]
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        customer = Customer.objects.create(
            name=name,
            kind=kind,
            payment_terms=payment_terms,
            settlement_day=settlement_day if payment_terms == Customer.Terms.CONTRACT_DATE else None,
            net_days=net_days if payment_terms == Customer.Terms.NET_DAYS else None,
            credit_limit=limit,
            phone=phone,
            address=address,
            tax_number=tax_number,
        )
        for contact_name, contact_phone in contacts:
            if contact_name.strip():
                Contact.objects.create(customer=customer, name=contact_name.strip(), phone=contact_phone)
        audit("salesdesk.customer_create", actor=actor, obj=customer, name=name)
    return customer


def customer_exposure(customer: Customer) -> Decimal:
    """What the customer owes or will owe on open orders: ordered and not yet paid."""
    row = (
        Order.objects.filter(customer=customer, written_off_at__isnull=True)
        .exclude(state__in=SALES_ORDER.final_states)
        .aggregate(total=Sum("amount_total"), paid=Sum("amount_collected"))
    )
    return money((row["total"] or ZERO) - (row["paid"] or ZERO))


def due_date_for(customer: Customer, delivered_on: dt.date, agreed: dt.date | None = None) -> dt.date:
    """When the money is due: on signing for cash customers; by the contract date or N days
    after delivery for periodic-settlement (定期結賬) customers."""
    if agreed is not None:
        return agreed
    if customer.payment_terms == Customer.Terms.NET_DAYS and customer.net_days:
        return delivered_on + dt.timedelta(days=customer.net_days)
    if customer.payment_terms == Customer.Terms.CONTRACT_DATE and customer.settlement_day:
        day = customer.settlement_day
        if delivered_on.day <= day:
            return delivered_on.replace(day=day)
        year, month = (
            (delivered_on.year + 1, 1) if delivered_on.month == 12 else (delivered_on.year, delivered_on.month + 1)
        )
        return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))
    return delivered_on


# -- the eight steps ------------------------------------------------------------------------------


def _locked(order_id: int, actor: Any) -> Order:
    try:
        order = Order.objects.select_for_update().select_related("customer").get(pk=order_id)
    except Order.DoesNotExist as exc:
        raise NotFound() from exc
    require_owner(order, actor)
    return order


def order_take(
    *,
    actor: Any,
    customer_id: int,
    lines: Sequence[LineIn],
    source: str = Order.Source.DIRECT,
    contact_id: int | None = None,
    agreed_due_date: dt.date | None = None,
    notes: str = "",
    register: bool = True,
    idempotency_key: str = "",
) -> tuple[Order, list[str]]:
    """接訂單 (and, by default, 登記建檔 at once): the rep takes the order and owns it.

    The rep who takes and places the order is its owner and answers for the money. Returns
    the order and warnings (a customer over the credit limit is warned, not refused).
    """
    require_role(actor, Role.SALES_REP)
    if len(idempotency_key) > 100:
        raise ValidationFailed.field("Idempotency-Key", _("At most 100 characters."), code="invalid_idempotency_key")
    if idempotency_key and (done := Order.objects.filter(owner=actor, idempotency_key=idempotency_key).first()):
        return done, []
    errors: dict[str, list[Any]] = {}
    customer = Customer.objects.filter(pk=customer_id, is_active=True).first()
    if customer is None:
        errors["customer"] = [_("Choose a customer.")]
    if source not in Order.Source.values:
        errors["source"] = [_("Choose where the order came from.")]
    contact = None
    if contact_id is not None:
        contact = Contact.objects.filter(pk=contact_id, customer_id=customer_id).first()
        if contact is None:
            errors["contact"] = [_("Choose a contact of this customer.")]
    if not lines:
        errors["lines"] = [_("Add at least one product.")]
    products = {p.pk: p for p in Product.objects.filter(pk__in=[ln.product_id for ln in lines], is_active=True)}
    priced: list[tuple[Product, int, Decimal]] = []
    for i, ln in enumerate(lines):
        product = products.get(ln.product_id)
        if product is None:
            errors[f"lines.{i}.product"] = [_("Choose a product from the catalogue.")]
            continue
        if not isinstance(ln.quantity, int) or ln.quantity < 1:
            errors[f"lines.{i}.quantity"] = [_("Enter a quantity of at least 1.")]
            continue
        price = ln.unit_price
        if price is None:
            price = price_for(product, ln.quantity, customer.price_list if customer else None)
        elif money(price) < 0:
            errors[f"lines.{i}.unit_price"] = [_("The price cannot be negative.")]
            continue
        priced.append((product, ln.quantity, money(price)))
    if errors:
        raise ValidationFailed(errors=errors)
    if customer is None:  # pragma: no cover - reported above
        raise ValidationFailed.field("customer", _("Choose a customer."))
    try:
        return _take(actor, customer, contact, priced, source, agreed_due_date, notes, register, idempotency_key)
    except IntegrityError:
        # The same Idempotency-Key raced in twice: the other request created the order.
        done = Order.objects.filter(owner=actor, idempotency_key=idempotency_key).first()
        if not idempotency_key or done is None:
            raise
        return done, []


def _take(
    actor: Any,
    customer: Customer,
    contact: Contact | None,
    priced: list[tuple[Product, int, Decimal]],
    source: str,
    agreed_due_date: dt.date | None,
    notes: str,
    register: bool,
    idempotency_key: str,
) -> tuple[Order, list[str]]:
    warnings: list[str] = []
    with transaction.atomic():
        total = money(sum((price * qty for _p, qty, price in priced), ZERO))
        over = customer.credit_limit is not None and customer_exposure(customer) + total > customer.credit_limit
        if over:
            warnings.append(
                str(
                    _("%(customer)s is over the credit limit of %(limit)s with this order.")
                    % {"customer": customer.name, "limit": customer.credit_limit}
                )
            )
        order = Order.objects.create(
            customer=customer,
            contact=contact,
            owner=actor,
            source=source,
            agreed_due_date=agreed_due_date,
            notes=notes,
            amount_total=total,
            credit_warning=over,
            idempotency_key=idempotency_key,
        )
        OrderLine.objects.bulk_create(
            OrderLine(order=order, product=p, quantity=qty, unit_price=price, amount=money(price * qty))
            for p, qty, price in priced
        )
        _advance(order, "receive", actor=actor)
        _advance(order, "take", actor=actor)
        audit("salesdesk.order_take", actor=actor, obj=order, total=total, credit_warning=over)
        if register:
            _register(order, actor)
    return order, warnings


def _register(order: Order, actor: Any) -> None:
    order.number = _register_number()
    order.registered_at = now()
    Order.objects.filter(pk=order.pk).update(number=order.number, registered_at=order.registered_at)
    _advance(order, "register", actor=actor, documents=[Attached("register", order.number)])


def order_register(*, order_id: int, actor: Any) -> Order:
    """登記建檔: the order gets its number in the 團購渠道銷售登記表 (once, race-free)."""
    with transaction.atomic():
        order = _locked(order_id, actor)
        _register(order, actor)
    return order


def order_place(*, order_id: int, actor: Any, channel: str, reason: str = "") -> Order:
    """向團購部下訂單: in writing by default; by phone or SMS only as a recorded exception."""
    if channel not in Order.Channel.values:
        raise ValidationFailed.field("channel", _("Choose how the order is placed."), code="channel_invalid")
    reason = reason.strip()
    if channel != Order.Channel.WRITTEN and not reason:
        raise ValidationFailed.field(
            "reason", _("A phone or SMS order is an exception: say why."), code="reason_required"
        )
    with transaction.atomic():
        order = _locked(order_id, actor)
        if channel == Order.Channel.WRITTEN:
            _advance(order, "place_written", actor=actor, documents=[Attached("written_order", order.number or "")])
        else:
            _advance(order, "place_by_phone", actor=actor, note=reason)
        order.channel, order.channel_reason, order.placed_at = (
            channel,
            reason if channel != "written" else "",
            now(),
        )
        order.save(update_fields=["channel", "channel_reason", "placed_at"])
    return order


def order_dispatch(
    *,
    order_id: int,
    actor: Any,
    invoice_number: str,
    quantities: dict[int, int] | None = None,
    tax_rate: Decimal | str = DEFAULT_TAX_RATE,
    picker_id: int | None = None,
    picker_reason: str = "",
) -> Shipment:
    """團部登記後開票發貨: the department invoices and ships (all that is open, or `quantities`
    per order line for a partial delivery). The owner picks up and delivers; another rep only
    as a recorded exception with a reason (提貨人)."""
    invoice_number = invoice_number.strip()
    errors: dict[str, list[Any]] = {}
    if not invoice_number:
        errors["invoice_number"] = [_("Enter the invoice number.")]
    try:
        rate = Decimal(str(tax_rate))
        if not (ZERO <= rate < 1):
            raise ValueError
    except (ValueError, ArithmeticError):
        errors["tax_rate"] = [_("Enter a tax rate between 0 and 1, such as 0.13.")]
        rate = DEFAULT_TAX_RATE
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        order = _locked(order_id, actor)
        _check(order, "dispatch", actor=actor)
        picker = order.owner
        if picker_id is not None and picker_id != order.owner_id:
            candidate = User.objects.filter(pk=picker_id, is_active=True).first()
            if candidate is None or not has_role(candidate, Role.SALES_REP):
                raise ValidationFailed.field("picker", _("Choose a group-buy sales rep."), code="picker_invalid")
            if not picker_reason.strip():
                raise ValidationFailed.field(
                    "picker_reason",
                    _("Another rep delivering is an exception: say why."),
                    code="reason_required",
                )
            picker = candidate
        lines = list(order.lines.select_for_update().order_by("pk"))
        wanted: dict[int, int] = {}
        for i, line in enumerate(lines):
            qty = line.qty_open if quantities is None else quantities.get(line.pk, 0)
            if not isinstance(qty, int) or qty < 0 or qty > line.qty_open:
                raise ValidationFailed.field(
                    f"lines.{i}.quantity",
                    _("Ship between 0 and %(open)s.") % {"open": line.qty_open},
                    code="quantity_invalid",
                )
            if qty:
                wanted[line.pk] = qty
        if not wanted:
            raise ValidationFailed.field("lines", _("Nothing to ship."), code="nothing_to_ship")
        if Shipment.objects.filter(
            order=order, signed_at__isnull=True
        ).exists():  # pragma: no cover - the step forbids it
            raise Conflict(_("The last delivery is not signed yet."), code="delivery_open")
        if Invoice.objects.filter(number=invoice_number).exists():
            raise ValidationFailed.field(
                "invoice_number", _("This invoice number is already used."), code="invoice_taken"
            )
        stock_issue(items=[(ln.product_id, wanted[ln.pk]) for ln in lines if ln.pk in wanted], field="lines")
        value = money(sum((ln.unit_price * wanted[ln.pk] for ln in lines if ln.pk in wanted), ZERO))
        tax = money(value * rate / (1 + rate))
        invoice = Invoice.objects.create(
            order=order, number=invoice_number, amount=value, tax_rate=rate, tax_amount=tax, issued_by=actor
        )
        seq = order.shipments.count() + 1
        shipment = Shipment.objects.create(
            order=order,
            number=f"{order.number}-S{seq}",
            invoice=invoice,
            picker=picker,
            picker_reason=picker_reason.strip() if picker != order.owner else "",
            amount=value,
            shipped_by=actor,
        )
        for ln in lines:
            if ln.pk in wanted:
                ShipmentLine.objects.create(shipment=shipment, order_line=ln, quantity=wanted[ln.pk])
                OrderLine.objects.filter(pk=ln.pk).update(qty_shipped=F("qty_shipped") + wanted[ln.pk])
        Order.objects.filter(pk=order.pk).update(
            amount_invoiced=F("amount_invoiced") + value,
            picker=picker,
            picker_reason=shipment.picker_reason,
        )
        order.picker = picker
        _advance(
            order,
            "dispatch",
            actor=actor,
            documents=[Attached("invoice", invoice.number), Attached("delivery_note", shipment.number)],
        )
        _refresh_axes(order.pk)
    return shipment


def order_sign(
    *,
    order_id: int,
    actor: Any,
    receiver_name: str,
    signature: bytes,
    receiver_phone: str = "",
    cash_received: Decimal | str | None = None,
) -> Shipment:
    """客戶收貨簽字確認: the customer or the person they name signs on the rep's phone.

    The signer is the receiver (收貨人). When goods remain open the order goes back to the
    department for the rest (a partial delivery); otherwise it moves on to collection, and
    cash handed over on signing (`cash_received`, 簽收後收回現金) is recorded at once.
    """
    errors: dict[str, list[Any]] = {}
    if not receiver_name.strip():
        errors["receiver_name"] = [_("Enter the name of the person who signs.")]
    if not signature or not signature.startswith(b"\x89PNG\r\n\x1a\n"):
        errors["signature"] = [_("The signature is missing.")]
    elif len(signature) > MAX_SIGNATURE_BYTES:
        errors["signature"] = [_("The signature image is too large.")]
    cash = None
    if cash_received not in (None, ""):
        try:
            cash = money(cash_received)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            errors["cash_received"] = [_("Enter an amount.")]
        else:
            if cash < 0:
                errors["cash_received"] = [_("Enter an amount above zero.")]
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        order = _locked(order_id, actor)
        shipment = Shipment.objects.select_for_update().filter(order=order, signed_at__isnull=True).first()
        _check(order, "sign", actor=actor)
        if shipment is None:  # pragma: no cover - a signing order always has one
            raise Conflict(_("There is no delivery waiting for a signature."), code="nothing_to_sign")
        signed_at = now()
        for sl in shipment.lines.all():
            OrderLine.objects.filter(pk=sl.order_line_id).update(qty_delivered=F("qty_delivered") + sl.quantity)
        Shipment.objects.filter(pk=shipment.pk).update(
            receiver_name=receiver_name.strip(),
            receiver_phone=receiver_phone.strip(),
            signed_at=signed_at,
            signature=signature,
            recorded_by=actor,
        )
        shipment.refresh_from_db()
        everything = not order.lines.filter(qty_delivered__lt=F("quantity")).exists()
        updates: dict[str, Any] = {"amount_delivered": F("amount_delivered") + shipment.amount}
        if order.due_date is None:
            updates["due_date"] = due_date_for(order.customer, local_date(signed_at), order.agreed_due_date)
        if everything:
            updates["delivered_at"] = signed_at
        Order.objects.filter(pk=order.pk).update(**updates)
        _advance(
            order,
            "sign" if everything else "sign_partial",
            actor=actor,
            documents=[Attached("receipt_signed", shipment.number)],
        )
        _refresh_axes(order.pk)
        if cash:
            if not everything:
                raise ValidationFailed.field(
                    "cash_received",
                    _("Goods are still to be delivered: collect the cash when the order is complete."),
                    code="cash_before_complete",
                )
            order_collect(order_id=order.pk, actor=actor, amount=cash, method=Collection.Method.CASH)
    return shipment


def order_collect(
    *,
    order_id: int,
    actor: Any,
    amount: Decimal | str,
    method: str = Collection.Method.CASH,
    reference: str = "",
    accept_overpayment: bool = False,
    settle_short_reason: str = "",
) -> Collection:
    """回款: the rep records what the customer paid and how; a receipt is issued.

    Partial payments keep the order in collection. Paying more than the total is refused
    unless the overpayment is accepted explicitly; accepting less as full payment needs a
    reason (an under-payment the department will see at write-off).
    """
    try:
        value = money(amount)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise ValidationFailed.field("amount", _("Enter an amount."), code="amount_invalid") from None
    if value <= 0:
        raise ValidationFailed.field("amount", _("Enter an amount above zero."), code="amount_positive")
    if method not in Collection.Method.values:
        raise ValidationFailed.field("method", _("Choose how it was paid."), code="method_invalid")
    with transaction.atomic():
        order = _locked(order_id, actor)
        _check(order, "collect", actor=actor)
        collected = order.amount_collected + value
        if collected > order.amount_total and not accept_overpayment:
            raise ValidationFailed.field(
                "amount",
                _("This is %(extra)s more than the order's total %(total)s. Accept it explicitly.")
                % {"extra": collected - order.amount_total, "total": order.amount_total},
                code="overpayment",
            )
        short = ZERO
        if collected < order.amount_total and settle_short_reason.strip():
            short = order.amount_total - collected
        seq = order.collections.count() + 1
        collection = Collection.objects.create(
            order=order,
            number=f"{order.number}-R{seq}",
            amount=value,
            method=method,
            reference=reference.strip(),
            collected_by=actor,
        )
        Order.objects.filter(pk=order.pk).update(
            amount_collected=F("amount_collected") + value,
            amount_short=short,
            short_reason=settle_short_reason.strip() if short else "",
        )
        paid = collected >= order.amount_total or short > 0
        _advance(
            order,
            "collect" if paid else "collect_partial",
            actor=actor,
            documents=[Attached("payment_voucher", collection.number)],
        )
        _refresh_axes(order.pk)
    return collection


def collections_hand_over(*, actor: Any, rep_id: int, collection_ids: Sequence[int], amount: Decimal | str) -> HandOver:
    """交款: the department receives money from a rep. The counted amount must match the
    collections handed over exactly; a collection is handed over once."""
    require_role(actor, Role.SALES_DEPT)
    try:
        counted = money(amount)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise ValidationFailed.field("amount", _("Enter an amount."), code="amount_invalid") from None
    if not collection_ids:
        raise ValidationFailed.field("collections", _("Choose what is handed over."), code="nothing_handed_over")
    with transaction.atomic():
        return _hand_over(actor, rep_id, list(collection_ids), counted)


def _hand_over(actor: Any, rep_id: int, collection_ids: list[int], counted: Decimal) -> HandOver:
    # Lock the orders first, in primary-key order, as every order service does: a hand-over
    # racing a write-off of one of its orders waits instead of deadlocking.
    order_ids = Collection.objects.filter(pk__in=collection_ids).values_list("order_id", flat=True)
    list(Order.objects.select_for_update().filter(pk__in=list(order_ids)).order_by("pk").values_list("pk"))
    rows = list(
        Collection.objects.select_for_update()
        .filter(pk__in=collection_ids, collected_by_id=rep_id, hand_over__isnull=True)
        .order_by("pk")
    )
    if len(rows) != len(set(collection_ids)):
        raise Conflict(_("Some of this money was handed over already."), code="already_handed_over")
    expected = money(sum((c.amount for c in rows), ZERO))
    if counted != expected:
        raise ValidationFailed.field(
            "amount",
            _("Counted %(counted)s, but the receipts add up to %(expected)s.")
            % {"counted": counted, "expected": expected},
            code="amount_mismatch",
        )
    year = local_date().year
    hand_over = HandOver.objects.create(
        number=f"HO{year}-{number_next(f'handover-{year}'):05d}",
        rep_id=rep_id,
        amount=counted,
        received_by=actor,
    )
    by_order: dict[int, Decimal] = {}
    for c in rows:
        by_order[c.order_id] = by_order.get(c.order_id, ZERO) + c.amount
    Collection.objects.filter(pk__in=[c.pk for c in rows]).update(hand_over=hand_over)
    for order_id in sorted(by_order):
        Order.objects.filter(pk=order_id).update(amount_handed_over=F("amount_handed_over") + by_order[order_id])
    audit("salesdesk.hand_over", actor=actor, obj=hand_over, rep=rep_id, amount=counted)
    return hand_over


def order_write_off(
    *,
    order_id: int,
    actor: Any,
    amount_received: Decimal | str,
    overpaid_handling: str = "",
    note: str = "",
) -> WriteOff:
    """回款銷帳: the department receives the money still with the rep (matching it to the
    receipts) and writes the order off. The write-off never exceeds what was collected and
    handed over; an accepted under-payment and any overpayment are recorded explicitly."""
    require_role(actor, Role.SALES_DEPT)
    try:
        received = money(amount_received)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise ValidationFailed.field("amount_received", _("Enter an amount."), code="amount_invalid") from None
    with transaction.atomic():
        order = _locked(order_id, actor)
        _check(order, "write_off", actor=actor)
        pending = list(order.collections.filter(hand_over__isnull=True).order_by("pk"))
        owed = money(sum((c.amount for c in pending), ZERO))
        if received != owed:
            raise ValidationFailed.field(
                "amount_received",
                _("The rep still holds %(owed)s for this order; %(received)s was counted.")
                % {"owed": owed, "received": received},
                code="amount_mismatch",
            )
        by_rep: dict[int, list[int]] = {}
        for c in pending:
            by_rep.setdefault(c.collected_by_id, []).append(c.pk)
        for rep_id in sorted(by_rep):
            _hand_over(
                actor,
                rep_id,
                by_rep[rep_id],
                money(sum((c.amount for c in pending if c.collected_by_id == rep_id), ZERO)),
            )
        order.refresh_from_db()
        overpaid = order.overpaid
        if overpaid > 0 and overpaid_handling not in (
            WriteOff.Overpayment.REFUND,
            WriteOff.Overpayment.CREDIT,
        ):
            raise ValidationFailed.field(
                "overpaid_handling",
                _("The customer paid %(extra)s too much: refund it or keep it as credit.") % {"extra": overpaid},
                code="overpayment_handling",
            )
        applied = min(order.amount_collected, order.amount_total)
        short = order.amount_total - applied
        if short > 0 and order.amount_short != short:
            raise Conflict(_("The order is not paid in full."), code="not_paid")
        record = WriteOff.objects.create(
            order=order,
            amount=applied,
            short=short,
            overpaid=overpaid,
            overpaid_handling=overpaid_handling if overpaid > 0 else "",
            note=note.strip(),
            written_off_by=actor,
        )
        Order.objects.filter(pk=order.pk).update(amount_written_off=applied, written_off_at=record.written_off_at)
        _advance(order, "write_off", actor=actor, documents=[Attached("write_off", order.number or "")])
        _refresh_axes(order.pk)
    return record


def order_file(*, order_id: int, actor: Any) -> Order:
    """銷售業務備案: the rep files the collected order in the register."""
    with transaction.atomic():
        order = _locked(order_id, actor)
        _advance(order, "file", actor=actor, documents=[Attached("register", order.number or "")])
        order.rep_filed_at = now()
        order.save(update_fields=["rep_filed_at"])
    return order


def order_record_performance(*, order_id: int, actor: Any) -> PerformanceRecord:
    """團購部備案: product sales and the rep's performance (業績登記) — only after write-off."""
    with transaction.atomic():
        order = _locked(order_id, actor)
        if order.written_off_at is None:  # the step guarantees it; the rule is stated twice on purpose
            raise Conflict(_("Performance is recorded only after write-off."), code="not_written_off")
        period = local_date()
        record = PerformanceRecord.objects.create(
            order=order, rep=order.owner, amount=order.amount_written_off, period=period, recorded_by=actor
        )
        _advance(order, "record_performance", actor=actor, documents=[Attached("performance", f"P{record.pk}")])
        ProductSale.objects.bulk_create(
            ProductSale(
                order=order,
                product_id=ln.product_id,
                rep=order.owner,
                quantity=ln.qty_delivered,
                amount=money(ln.unit_price * ln.qty_delivered),
                period=period,
            )
            for ln in order.lines.all()
            if ln.qty_delivered
        )
        order.dept_filed_at = now()
        order.save(update_fields=["dept_filed_at"])
    return record


# -- the axes, derived from the counters ---------------------------------------------------------


def _refresh_axes(order_id: int) -> None:
    order = Order.objects.get(pk=order_id)
    if order.amount_delivered <= 0:
        fulfilment = Order.Fulfilment.NONE
    elif order.amount_delivered < order.amount_total:
        fulfilment = Order.Fulfilment.PARTIAL
    else:
        fulfilment = Order.Fulfilment.DELIVERED
    if order.amount_invoiced <= 0:
        invoicing = Order.Invoicing.NONE
    elif order.amount_invoiced < order.amount_total:
        invoicing = Order.Invoicing.PARTIAL
    else:
        invoicing = Order.Invoicing.INVOICED
    if order.written_off_at is not None:
        payment = Order.Payment.WRITTEN_OFF
    elif order.amount_collected > order.amount_total:
        payment = Order.Payment.OVERPAID
    elif order.amount_collected >= order.amount_total and order.amount_total > 0:
        payment = Order.Payment.PAID
    elif order.amount_short > 0:
        payment = Order.Payment.SHORT
    elif order.amount_collected > 0:
        payment = Order.Payment.PARTIAL
    else:
        payment = Order.Payment.UNPAID
    Order.objects.filter(pk=order_id).update(
        fulfilment_status=fulfilment, invoice_status=invoicing, payment_status=payment
    )


# -- reminders -----------------------------------------------------------------------------------


def overdue_remind(*, today: dt.date | None = None) -> int:
    """Send each overdue order's owner one reminder a day (idempotent by OverdueReminder)."""
    from tuangou.salesdesk.selectors import overdue_orders

    day = today or local_date()
    sent = 0
    for order in overdue_orders(today=day):
        with transaction.atomic():
            try:
                with transaction.atomic():
                    OverdueReminder.objects.create(order=order, day=day)
            except IntegrityError:
                continue
            message_send(
                to=order.owner.mobile,
                template="salesdesk_overdue",
                params={
                    "number": order.number,
                    "customer": order.customer.name,
                    "due": order.due_date.isoformat() if order.due_date else "",
                    "amount": str(order.receivable),
                },
            )
            sent += 1
    return sent
