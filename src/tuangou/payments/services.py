"""Every change of state of payments and refunds.

The shape of each money path (STYLE.md, Saleor): a short transaction records the intent, the
gateway is called after commit and outside every row lock, and a second short transaction records
what the gateway said. Inbound notifications are idempotent by a unique key in the database.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tuangou.core import jobs
from tuangou.core.audit import audit
from tuangou.core.errors import Conflict, NotFound, ValidationFailed
from tuangou.core.money import ZERO, format_yuan, money
from tuangou.core.workflow.engine import transition
from tuangou.ledger import selectors as ledger_selectors
from tuangou.ledger.models import LedgerTransaction
from tuangou.ledger.services import (
    COMMISSION,
    ESCROW,
    PAID_OUT,
    REFUNDS_IN_FLIGHT,
    Posting,
    clearing,
    ledger_post,
    ledger_post_many,
    member,
    merchant,
    posted_keys,
)
from tuangou.payments import orders
from tuangou.payments.models import InvoiceRequest, Notification, Payment, Refund
from tuangou.payments.providers import get_gateway
from tuangou.payments.providers.base import (
    Ack,
    GatewayError,
    InvalidNotification,
    RefundResult,
    StartResult,
    TradeEvent,
)

REFUND_LEASE = timedelta(seconds=60)
REFUND_MAX_ATTEMPTS = 5


def _trade_no(prefix: str) -> str:
    return f"{prefix}{timezone.localtime():%Y%m%d%H%M%S}{secrets.token_hex(5).upper()}"


# --- paying -----------------------------------------------------------------------------------


def payment_start(
    *,
    buyer: Any,
    provider: str,
    order_id: int | None = None,
    amount: Decimal | None = None,
    channel: str = "",
    return_url: str = "",
    notify_url: str = "",
) -> tuple[Payment, StartResult]:
    """Start paying an order (or, without an order, topping up the balance by `amount`).

    An order already paid cannot be paid again; an order no longer awaiting payment cannot be
    paid at all. The gateway is called after the payment row is committed.
    """
    gateway = get_gateway(provider)
    with transaction.atomic():
        if order_id is not None:
            order = orders.backend().get(order_id)
            if order is None or order.buyer_id != buyer.pk:
                raise NotFound()
            if (
                not order.awaiting_payment
                or Payment.objects.filter(order_id=order_id, status=Payment.Status.SUCCEEDED).exists()
            ):
                raise Conflict(_("This order is not waiting for payment."), code="order_not_payable")
            payment = Payment.objects.create(
                out_trade_no=_trade_no("P"),
                purpose=Payment.Purpose.ORDER,
                order_id=order.id,
                buyer=buyer,
                subject=order.subject[:128],
                amount=money(order.amount),
                provider=provider,
                channel=channel,
            )
        else:
            if provider == "balance":
                raise ValidationFailed.field(
                    "provider", _("A top-up cannot be paid from the balance."), code="bad_provider"
                )
            if amount is None or money(amount) <= ZERO:
                raise ValidationFailed.field("amount", _("Enter an amount above zero."), code="bad_amount")
            payment = Payment.objects.create(
                out_trade_no=_trade_no("T"),
                purpose=Payment.Purpose.TOPUP,
                buyer=buyer,
                subject=str(_("Balance top-up")),
                amount=money(amount),
                provider=provider,
                channel=channel,
            )
        audit("payment.start", actor=buyer, obj=payment, provider=provider, amount=payment.amount)
    if provider == "balance":
        payment_pay_from_balance(payment_id=payment.pk)
        payment.refresh_from_db()
        return payment, StartResult(kind="done")
    result = gateway.start(payment, return_url=return_url, notify_url=notify_url, channel=channel)
    Payment.objects.filter(pk=payment.pk).update(
        start_data={"kind": result.kind, "url": result.url, "qr": result.qr, "params": result.params}
    )
    return payment, result


def payment_pay_from_balance(*, payment_id: int) -> Payment:
    """站內餘額支付: pay from the member's balance. The member's row is the balance's lock, so two
    payments at once cannot spend the same money."""
    from tuangou.accounts.models import User

    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        User.objects.select_for_update().get(pk=payment.buyer_id)
        if payment.status != Payment.Status.PENDING:
            return payment
        enough = ledger_selectors.member_balance(payment.buyer_id) >= payment.amount
        if enough:
            event = TradeEvent(
                key=f"balance:{payment.out_trade_no}",
                out_trade_no=payment.out_trade_no,
                status="succeeded",
                amount=payment.amount,
                gateway_trade_no=payment.out_trade_no,
            )
            _apply_locked(payment, event)
        else:
            transition(payment, "fail", actor=None)
    if not enough:
        raise Conflict(_("Your balance is not enough."), code="balance_insufficient")
    payment.refresh_from_db()
    return payment


def notification_receive(*, provider: str, body: bytes, headers: Mapping[str, str]) -> Ack:
    """支付通知: verify, store and apply one gateway notification, at most once.

    A forged or unparseable one is stored as rejected and changes nothing. The answer is what
    the gateway's protocol expects (Alipay: exactly ``success``).
    """
    gateway = get_gateway(provider)
    try:
        event = gateway.parse_notification(body, headers)
    except InvalidNotification as exc:
        _record_rejected(provider, body, headers, str(exc))
        return gateway.ack(False)
    outcome = payment_apply_event(
        provider=provider, event=event, body=body.decode("utf-8", "replace"), headers=dict(headers)
    )
    return gateway.ack(outcome != Notification.Outcome.REJECTED)


def _record_rejected(provider: str, body: bytes, headers: Mapping[str, str], error: str) -> None:
    digest = hashlib.sha256(body + secrets.token_bytes(8)).hexdigest()[:40]
    Notification.objects.create(
        provider=provider,
        key=f"rejected:{digest}",
        verified=False,
        outcome=Notification.Outcome.REJECTED,
        body=body.decode("utf-8", "replace")[:20000],
        headers=dict(headers),
        error=error[:300],
    )
    audit("payment.notification_rejected", provider=provider, error=error[:200])


def payment_apply_event(
    *, provider: str, event: TradeEvent, body: str = "", headers: dict[str, Any] | None = None
) -> str:
    """Apply one verified statement of the gateway. Idempotent by (provider, event.key).

    Outcomes: applied; duplicate (that key, or that payment, was applied already); rejected
    (unknown trade, wrong amount: logged, nothing changes); ignored (not a success); refunded
    (paid after the order stopped waiting: the money goes straight back).
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                note = Notification.objects.create(
                    provider=provider,
                    key=event.key[:128],
                    verified=True,
                    outcome=Notification.Outcome.APPLIED,
                    body=body[:20000],
                    headers=headers or {},
                )
        except IntegrityError:
            return Notification.Outcome.DUPLICATE
        payment = Payment.objects.select_for_update().filter(out_trade_no=event.out_trade_no, provider=provider).first()
        outcome, error = _check_event(payment, event)
        if payment is not None and outcome == Notification.Outcome.APPLIED:
            outcome = _apply_locked(payment, event)
        Notification.objects.filter(pk=note.pk).update(outcome=outcome, error=error[:300], payment=payment)
        if outcome == Notification.Outcome.REJECTED:
            audit("payment.notification_rejected", obj=payment, provider=provider, error=error)
    return outcome


def _check_event(payment: Payment | None, event: TradeEvent) -> tuple[str, str]:
    if payment is None:
        return Notification.Outcome.REJECTED, f"unknown out_trade_no {event.out_trade_no}"
    if event.amount is not None and money(event.amount) != payment.amount:
        return Notification.Outcome.REJECTED, f"amount {event.amount} differs from {payment.amount}"
    if event.status != "succeeded":
        if event.status in ("failed", "closed") and payment.status == Payment.Status.PENDING:
            transition(payment, "fail" if event.status == "failed" else "close", actor=None)
        return Notification.Outcome.IGNORED, ""
    if payment.status == Payment.Status.SUCCEEDED:
        return Notification.Outcome.DUPLICATE, ""
    return Notification.Outcome.APPLIED, ""


def _apply_locked(payment: Payment, event: TradeEvent) -> str:
    """The payment is locked by the caller and not yet paid: record it, move the money, tell orders."""
    transition(payment, "confirm", actor=None, documents=("notification",))
    payment.gateway_trade_no = event.gateway_trade_no[:64]
    payment.paid_at = timezone.now()
    payment.save(update_fields=["gateway_trade_no", "paid_at", "updated_at"])
    source = member(payment.buyer_id) if payment.provider == "balance" else clearing(payment.provider)
    target = member(payment.buyer_id) if payment.purpose == Payment.Purpose.TOPUP else ESCROW
    ledger_post(
        key=f"capture:{payment.pk}",
        kind="capture",
        legs=[(source, payment.amount), (target, -payment.amount)],
        order_id=payment.order_id,
        payment_id=payment.pk,
        memo=payment.subject,
    )
    audit("payment.succeeded", obj=payment, amount=payment.amount, provider=payment.provider)
    if payment.purpose == Payment.Purpose.TOPUP or payment.order_id is None:
        return Notification.Outcome.APPLIED
    paid_twice = (
        Payment.objects.filter(order_id=payment.order_id, status=Payment.Status.SUCCEEDED)
        .exclude(pk=payment.pk)
        .exists()
    )
    if paid_twice:
        refund_request(
            payment_id=payment.pk,
            amount=payment.amount,
            reason=Refund.Reason.DOUBLE_PAYMENT,
            key=f"double_payment:{payment.pk}",
        )
        return Notification.Outcome.REFUNDED
    if not orders.backend().mark_paid(payment.order_id, payment_id=payment.pk, amount=payment.amount):
        refund_request(
            payment_id=payment.pk,
            amount=payment.amount,
            reason=Refund.Reason.LATE_PAYMENT,
            key=f"late_payment:{payment.pk}",
        )
        return Notification.Outcome.REFUNDED
    _sms_payment_received(payment)
    return Notification.Outcome.APPLIED


def _sms_payment_received(payment: Payment) -> None:
    """收款簡訊: tell the buyer the money arrived (sent after commit, through the outbox)."""
    from tuangou.messaging.services import message_send

    buyer = payment.buyer
    order = orders.backend().get(payment.order_id) if payment.order_id is not None else None
    message_send(
        to=buyer.mobile,
        template="payment_received",
        params={
            "amount": format_yuan(payment.amount),
            "order": (order.number if order is not None else "") or str(payment.order_id),
            "deal": payment.subject,
        },
        language=buyer.language or None,
    )


def _sms_refund_done(refund: Refund) -> None:
    """退款簡訊: tell the buyer where the money went (the original payment method or the balance)."""
    from django.utils import translation

    from tuangou.messaging.services import message_send

    buyer = refund.payment.buyer
    order = orders.backend().get(refund.order_id) if refund.order_id is not None else None
    language = buyer.language or None
    with translation.override(language or translation.get_language()):
        destination = str(refund.get_destination_display())
    message_send(
        to=buyer.mobile,
        template="refund_done",
        params={
            "amount": format_yuan(refund.amount),
            "order": (order.number if order is not None else "") or str(refund.order_id),
            "destination": destination,
        },
        language=language,
    )


def payment_reconcile(*, payment_id: int) -> Payment:
    """主動查詢: ask the gateway about a payment still pending (WeChat does not promise delivery)."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != Payment.Status.PENDING or payment.provider == "balance":
        return payment
    try:
        event = get_gateway(payment.provider).query(payment)
    except GatewayError:
        return payment
    if event.status in ("succeeded", "failed", "closed"):
        payment_apply_event(provider=payment.provider, event=event, body=str(event.raw)[:2000])
    payment.refresh_from_db()
    return payment


def payments_reconcile_pending() -> int:
    """Query every payment pending longer than PAYMENT_RECONCILE_AFTER (and less than a day)."""
    now = timezone.now()
    ids = list(
        Payment.objects.filter(
            status=Payment.Status.PENDING,
            created_at__lte=now - timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER),
            created_at__gte=now - timedelta(days=1),
        )
        .exclude(provider="balance")
        .values_list("pk", flat=True)[:200]
    )
    for pk in ids:
        payment_reconcile(payment_id=pk)
    return len(ids)


# --- refunds -----------------------------------------------------------------------------------


def refundable(payment: Payment) -> Decimal:
    taken = Refund.objects.filter(payment=payment).aggregate(s=Sum("amount"))["s"] or ZERO
    return money(payment.amount - taken)


def refund_request(
    *,
    payment_id: int,
    amount: Decimal,
    reason: str,
    key: str,
    to_balance: bool = False,
    actor: Any = None,
) -> Refund:
    """退款申請: ask for money back, exactly once per `key`.

    The amount moves at once from escrow to refunds in flight (so it cannot be released to the
    merchant or refunded again); the gateway is called after commit by `refund_execute`.
    """
    amount = money(amount)
    with transaction.atomic():
        existing = Refund.objects.filter(key=key).first()
        if existing is not None:
            return existing
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        existing = Refund.objects.filter(key=key).first()
        if existing is not None:
            return existing
        if payment.status != Payment.Status.SUCCEEDED:
            raise Conflict(_("Only a completed payment can be refunded."), code="payment_not_paid")
        if amount <= ZERO or amount > refundable(payment):
            raise ValidationFailed.field(
                "amount", _("The amount is more than can be refunded."), code="refund_too_much"
            )
        source = member(payment.buyer_id) if payment.purpose == Payment.Purpose.TOPUP else ESCROW
        if source == ESCROW:
            held = -ledger_selectors.balance(ESCROW, order_id=payment.order_id)
            if held < amount:
                raise Conflict(_("This money has already left escrow."), code="escrow_released")
        elif ledger_selectors.member_balance(payment.buyer_id) < amount:
            raise Conflict(_("Your balance is not enough."), code="balance_insufficient")
        number = Refund.objects.filter(payment=payment).count() + 1
        destination = (
            Refund.Destination.BALANCE
            if (to_balance and payment.purpose == Payment.Purpose.ORDER) or payment.provider == "balance"
            else Refund.Destination.ORIGINAL
        )
        refund = Refund.objects.create(
            key=key,
            out_request_no=f"{payment.out_trade_no}R{number}",
            payment=payment,
            order_id=payment.order_id,
            amount=amount,
            reason=reason,
            destination=destination,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        ledger_post(
            key=f"refund_request:{refund.pk}",
            kind="refund_request",
            legs=[(source, amount), (REFUNDS_IN_FLIGHT, -amount)],
            order_id=payment.order_id,
            payment_id=payment.pk,
            refund_id=refund.pk,
            memo=reason,
        )
        audit("refund.request", actor=actor, obj=refund, amount=amount, reason=reason, key=key)
        jobs.enqueue("payments.refund_execute", refund_id=refund.pk)
    return refund


def refund_execute(*, refund_id: int) -> Refund:
    """Send a refund to its gateway and record the answer. Safe to run any number of times.

    The gateway is called with the same out_request_no every time, outside any transaction; a
    refund that may have been sent before (a retry, a worker that died) is first looked up at
    the gateway, so it is never paid twice.
    """
    now = timezone.now()
    with transaction.atomic():
        refund = Refund.objects.select_for_update().select_related("payment").get(pk=refund_id)
        if refund.status in (Refund.Status.SUCCEEDED, Refund.Status.FAILED):
            return refund
        if refund.status == Refund.Status.SENDING and refund.lease_until and refund.lease_until > now:
            return refund  # another worker holds it
        resumed = refund.attempts > 0
        if refund.status != Refund.Status.SENDING:  # a sending one whose lease ran out is resumed as is
            transition(refund, "send", actor=None)
        refund.attempts += 1
        refund.lease_until = now + REFUND_LEASE
        refund.save(update_fields=["attempts", "lease_until"])
    result = _refund_at_gateway(refund, resumed=resumed)
    return refund_record(refund_id=refund.pk, result=result)


def _refund_at_gateway(refund: Refund, *, resumed: bool) -> RefundResult:
    if refund.destination == Refund.Destination.BALANCE:
        return RefundResult(status="succeeded", gateway_refund_no="balance")
    gateway = get_gateway(refund.payment.provider)
    try:
        if resumed:
            known = gateway.query_refund(refund)
            if known.status in ("succeeded", "processing"):
                return known
        return gateway.refund(refund)
    except GatewayError as exc:
        return RefundResult(status="processing", message=f"gateway error: {exc}"[:300])


def refund_record(*, refund_id: int, result: RefundResult) -> Refund:
    """Record the gateway's answer: done (money leaves refunds in flight), still processing, or stuck."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().select_related("payment").get(pk=refund_id)
        if refund.status == Refund.Status.SUCCEEDED:
            return refund
        if result.status == "succeeded":
            transition(refund, "confirm", actor=None)
            refund.gateway_refund_no = result.gateway_refund_no[:64]
            refund.finished_at = timezone.now()
            refund.lease_until = None
            refund.last_error = ""
            payment = refund.payment
            target = (
                member(payment.buyer_id)
                if refund.destination == Refund.Destination.BALANCE
                else clearing(payment.provider)
            )
            ledger_post(
                key=f"refund_done:{refund.pk}",
                kind="refund_done",
                legs=[(REFUNDS_IN_FLIGHT, refund.amount), (target, -refund.amount)],
                order_id=refund.order_id,
                payment_id=payment.pk,
                refund_id=refund.pk,
            )
            audit("refund.succeeded", obj=refund, amount=refund.amount)
            if refund.order_id is not None and payment.purpose == Payment.Purpose.ORDER:
                _order_refunded_if_whole(refund.order_id, note=refund.reason)
                _sms_refund_done(refund)
        elif result.status == "failed" or refund.attempts >= REFUND_MAX_ATTEMPTS:
            transition(refund, "give_up", actor=None)
            refund.lease_until = None
            refund.last_error = (result.message or result.status)[:300]
            audit("refund.stuck", obj=refund, error=refund.last_error)
        else:  # processing or unreachable: look again after the back-off
            refund.lease_until = timezone.now() + REFUND_LEASE * (2 ** max(refund.attempts - 1, 0))
            refund.last_error = result.message[:300]
        refund.save(update_fields=["gateway_refund_no", "finished_at", "lease_until", "last_error"])
    return refund


def _order_refunded_if_whole(order_id: int, *, note: str) -> None:
    paid = Payment.objects.filter(order_id=order_id, status=Payment.Status.SUCCEEDED).aggregate(s=Sum("amount"))["s"]
    back = Refund.objects.filter(order_id=order_id, status=Refund.Status.SUCCEEDED).aggregate(s=Sum("amount"))["s"]
    if paid and back is not None and money(back) >= money(paid):
        orders.backend().mark_refunded(order_id, note=note)


def refund_retry(*, refund_id: int, actor: Any) -> Refund:
    """Finance retries a stuck refund: the same refund, the same out_request_no, never a new one."""
    from tuangou.accounts.roles import Role
    from tuangou.core.ownership import require_role

    require_role(actor, Role.FINANCE)
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status == Refund.Status.SUCCEEDED:
            raise Conflict(_("This refund is already done."), code="refund_done")
        if refund.status != Refund.Status.FAILED:
            raise Conflict(_("This refund is on its way; it is retried by itself."), code="refund_in_progress")
        transition(refund, "retry", actor=actor)
        audit("refund.retry", actor=actor, obj=refund)
        jobs.enqueue("payments.refund_execute", refund_id=refund.pk)
    return refund


def refunds_resume() -> int:
    """Pick up refunds nobody is working on: requested but never sent, or sent by a worker that
    died or got no clear answer (their lease has run out)."""
    now = timezone.now()
    ids = list(
        Refund.objects.filter(status__in=[Refund.Status.PENDING, Refund.Status.SENDING, Refund.Status.RETRYING])
        .exclude(lease_until__gt=now)
        .exclude(status=Refund.Status.PENDING, created_at__gt=now - timedelta(seconds=30))
        .values_list("pk", flat=True)[:200]
    )
    for pk in ids:
        refund_execute(refund_id=pk)
    return len(ids)


def order_refund(
    *,
    order_id: int,
    reason: str,
    key: str,
    amount: Decimal | None = None,
    to_balance: bool = False,
    actor: Any = None,
) -> list[Refund]:
    """Refund an order: the whole of what is left (or `amount`), spread over its paid payments."""
    remaining = None if amount is None else money(amount)
    made: list[Refund] = []
    for payment in Payment.objects.filter(order_id=order_id, status=Payment.Status.SUCCEEDED).order_by("pk"):
        existing = Refund.objects.filter(key=f"{key}:{payment.pk}").first()
        if existing is not None:
            made.append(existing)
            continue
        left = refundable(payment)
        part = left if remaining is None else min(left, remaining)
        if part <= ZERO:
            continue
        made.append(
            refund_request(
                payment_id=payment.pk,
                amount=part,
                reason=reason,
                key=f"{key}:{payment.pk}",
                to_balance=to_balance,
                actor=actor,
            )
        )
        if remaining is not None:
            remaining -= part
            if remaining <= ZERO:
                break
    return made


def member_refund_request(
    *, order_id: int, actor: Any, amount: Decimal | None = None, to_balance: bool = False
) -> list[Refund]:
    """隨時退: a member asks for their money back before use, where the deal allows it.

    The deal's policy decides (`orders.refund_refusal`): no refund where the deal does not offer
    隨時退, none once a voucher of the order is used, and a part of an order with vouchers is
    given back voucher by voucher (so the refunded vouchers cannot be used). 過期退 needs no
    request: expired vouchers are refunded by the vouchers domain.
    """
    payment = Payment.objects.filter(order_id=order_id, status=Payment.Status.SUCCEEDED).first()
    if payment is None:
        raise NotFound()
    if payment.buyer_id != getattr(actor, "pk", None):
        raise NotFound()
    backend = orders.backend()
    refusal_of = getattr(backend, "refund_refusal", None)
    refusal = refusal_of(order_id, partial=amount is not None) if refusal_of is not None else None
    if refusal is None:  # a backend that only answers yes or no
        may = getattr(backend, "may_refund", None)
        refusal = orders.REFUND_NOT_ALLOWED if may is not None and not may(order_id) else None
    if refusal is not None:
        raise Conflict(REFUSALS[refusal], code=refusal)
    left = sum(
        (refundable(p) for p in Payment.objects.filter(order_id=order_id, status=Payment.Status.SUCCEEDED)), ZERO
    )
    if left <= ZERO:
        raise Conflict(_("This order has been refunded already."), code="refund_nothing_left")
    if amount is not None and (money(amount) <= ZERO or money(amount) > left):
        raise ValidationFailed.field("amount", _("The amount is more than can be refunded."), code="refund_too_much")
    count = Refund.objects.filter(order_id=order_id, reason=Refund.Reason.MEMBER_REQUEST).count()
    return order_refund(
        order_id=order_id,
        reason=Refund.Reason.MEMBER_REQUEST,
        key=f"member:{order_id}:{count}",
        amount=amount,
        to_balance=to_balance,
        actor=actor,
    )


REFUSALS: dict[str, Any] = {
    orders.REFUND_NOT_ALLOWED: _("This deal does not allow refunds before use."),
    orders.VOUCHER_USED: _("A voucher of this order has been used; a used voucher cannot be refunded."),
    orders.REFUND_BY_VOUCHER: _("To get part of this order back, give back single unused vouchers under My vouchers."),
}


# --- deal events -------------------------------------------------------------------------------


def deal_failed_refund(*, order_ids: list[int]) -> int:
    """成團失敗: every paid order of a failed deal or team is refunded in full, once."""
    total = 0
    for order_id in order_ids:
        total += len(
            order_refund(order_id=order_id, reason=Refund.Reason.DEAL_FAILED, key=f"deal_failed:order:{order_id}")
        )
    return total


def tier_difference_refund(*, order_id: int, amount: Decimal) -> list[Refund]:
    """量大價優: at close the buyer gets back what they paid above the tier reached, once."""
    if money(amount) <= ZERO:
        return []
    return order_refund(
        order_id=order_id, reason=Refund.Reason.TIER_DIFFERENCE, amount=amount, key=f"tier:order:{order_id}"
    )


@dataclass(frozen=True)
class Release:
    """One part of `escrow_release_many`: `amount` of an order leaves escrow, `commission` of
    it for the platform and the rest for the merchant's payable. A negative amount (and
    commission) gives back: a voucher refunded after its money was released (a sold-basis
    statement) takes it from the merchant's payable and the commission back into escrow."""

    order_id: int
    amount: Decimal
    commission: Decimal
    key: str


def escrow_release(
    *, order_id: int, merchant_id: int, amount: Decimal, commission: Decimal, key: str | None = None
) -> LedgerTransaction:
    """託管放款: money leaves escrow for the merchant's payable less the platform's commission.

    Never directly to a merchant, never more than the order still has in escrow. Idempotent by
    `key` (default ``release:order:<id>``, one release per order); an order released in parts
    (per voucher, per statement) gives each part its own key, and each is posted once. The
    order's payments are locked, as a refund request locks them, so a release and a refund
    cannot both take the same money. One release of `escrow_release_many`.
    """
    amount = money(amount)
    key = key or f"release:order:{order_id}"
    if amount <= ZERO:
        raise ValidationFailed.field("amount", _("Enter an amount above zero."), code="bad_amount")
    with transaction.atomic():
        release = Release(order_id=order_id, amount=amount, commission=commission, key=key)
        escrow_release_many(merchant_id=merchant_id, releases=[release])
        return LedgerTransaction.objects.get(key=key)


def escrow_release_many(
    *, merchant_id: int, releases: Sequence[Release], kind: str = "release", memo: str = "", batch: int = 5000
) -> int:
    """託管放款 of many orders at once (a statement's approval): one balanced ledger transaction
    per release, escrow → the merchant's payable + commission, by `escrow_release`'s rules, all
    or none. A key already posted is left as it is. Done `batch` orders at a time (memory stays
    bounded): their payments are locked (in key order), then no order may lose more than it
    holds in escrow after all its releases of the call (a give-back counts against a release of
    the same order). Posted with `ledger.services.ledger_post_many` (``COPY`` on PostgreSQL),
    each with its audit row; returns how many were posted."""
    from tuangou.core.bulk import insert_rows
    from tuangou.core.models import AuditLog

    by_order: dict[int, list[Release]] = {}
    for r in releases:
        r = Release(r.order_id, money(r.amount), money(r.commission), r.key)
        if r.amount == ZERO:
            raise ValidationFailed.field("amount", _("Enter an amount above zero."), code="bad_amount")
        if r.commission * r.amount < ZERO:
            raise ValidationFailed.field("commission", _("The commission cannot be negative."), code="bad_commission")
        if abs(r.commission) > abs(r.amount):
            raise ValidationFailed.field(
                "commission", _("The commission cannot be more than the amount."), code="commission_above_amount"
            )
        by_order.setdefault(r.order_id, []).append(r)
    payable = merchant(merchant_id)
    posted = 0
    order_ids = sorted(by_order)
    with transaction.atomic():
        for i in range(0, len(order_ids), batch):  # a batch of orders at a time: bounded memory
            chunk = order_ids[i : i + batch]
            list(Payment.objects.select_for_update().filter(order_id__in=chunk).order_by("pk").values_list("pk"))
            parts = [r for order_id in chunk for r in by_order[order_id]]
            done = posted_keys(r.key for r in parts)
            todo = [r for r in parts if r.key not in done]
            leaving: dict[int, Decimal] = {}
            for r in todo:
                leaving[r.order_id] = leaving.get(r.order_id, ZERO) + r.amount
            held = ledger_selectors.balances_by_order(ESCROW, (o for o, out in leaving.items() if out > ZERO))
            if any(out > ZERO and -held.get(order_id, ZERO) < out for order_id, out in leaving.items()):
                raise Conflict(_("This money has already left escrow."), code="escrow_released")
            made = ledger_post_many(
                [
                    Posting(
                        key=r.key,
                        kind=kind,
                        order_id=r.order_id,
                        memo=memo,
                        legs=[(ESCROW, r.amount), (payable, -(r.amount - r.commission)), (COMMISSION, -r.commission)],
                    )
                    for r in todo
                ],
                batch=batch,
            )
            insert_rows(
                AuditLog,
                ("action", "object_type", "object_id", "data"),
                [
                    (
                        "escrow.release",
                        LedgerTransaction._meta.label_lower,
                        str(made[r.key]),
                        {"order_id": r.order_id, "merchant_id": merchant_id, "amount": str(r.amount), "key": r.key},
                    )
                    for r in todo
                ],
            )
            posted += len(todo)
    return posted


def merchant_payout(
    *, merchant_id: int, amount: Decimal, key: str, memo: str = "", actor: Any = None
) -> LedgerTransaction:
    """商家結算付款: finance has paid the merchant (a bank transfer); the payable becomes paid out.

    Idempotent by `key` (e.g. ``payout:statement:<id>``). Never more than the platform owes the
    merchant: the merchant's payable account is a credit balance that a payout only reduces.
    """
    amount = money(amount)
    if amount <= ZERO:
        raise ValidationFailed.field("amount", _("Enter an amount above zero."), code="bad_amount")
    account = merchant(merchant_id)
    with transaction.atomic():
        existing = LedgerTransaction.objects.filter(key=key).first()
        if existing is not None:
            return existing
        owed = -ledger_selectors.balance(account)
        if owed < amount:
            raise Conflict(
                _("The platform owes this merchant %(owed)s, less than %(amount)s.")
                % {"owed": format_yuan(owed), "amount": format_yuan(amount)},
                code="payout_exceeds_payable",
            )
        txn = ledger_post(key=key, kind="payout", memo=memo, legs=[(account, amount), (PAID_OUT, -amount)])
        audit("merchant.payout", actor=actor, obj=txn, merchant_id=merchant_id, amount=amount, key=key)
    return txn


# --- invoices ------------------------------------------------------------------------------------


def invoice_request_create(*, order_id: int, buyer: Any, title: str, tax_number: str, email: str) -> InvoiceRequest:
    """發票: a buyer asks for a formal invoice for a paid order (of what was not refunded)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    payments = list(Payment.objects.filter(order_id=order_id, status=Payment.Status.SUCCEEDED, buyer=buyer))
    if not payments:
        raise NotFound()
    if not title.strip():
        raise ValidationFailed.field("title", _("This field is required."), code="required")
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed.field("email", _("Enter a valid e-mail address."), code="bad_email") from None
    kept = sum((refundable(p) for p in payments), ZERO)
    if kept <= ZERO:
        raise Conflict(_("This order has been refunded; there is nothing to invoice."), code="invoice_nothing")
    if InvoiceRequest.objects.filter(order_id=order_id).exclude(status=InvoiceRequest.Status.REJECTED).exists():
        raise Conflict(_("An invoice has already been requested for this order."), code="invoice_requested")
    with transaction.atomic():
        invoice = InvoiceRequest.objects.create(
            order_id=order_id,
            buyer=buyer,
            title=title.strip(),
            tax_number=tax_number.strip(),
            email=email,
            amount=kept,
        )
        audit("invoice.request", actor=buyer, obj=invoice)
    return invoice


def _invoice_locked(invoice_id: int, actor: Any) -> InvoiceRequest:
    from tuangou.accounts.roles import Role
    from tuangou.core.ownership import require_role

    require_role(actor, Role.FINANCE)
    invoice = InvoiceRequest.objects.select_for_update().filter(pk=invoice_id).first()
    if invoice is None:
        raise NotFound()
    return invoice


def invoice_request_issue(
    *, invoice_id: int, actor: Any, number: str, amount: Decimal, title: str, tax_number: str = ""
) -> InvoiceRequest:
    """開票: finance issues the invoice: its number (unique), amount (at most what the buyer paid
    and kept), title and tax number. Only a request not yet issued can be issued."""
    number, title, tax_number = number.strip(), title.strip(), tax_number.strip()
    if not number:
        raise ValidationFailed.field("number", _("Enter the invoice number."), code="required")
    if not title:
        raise ValidationFailed.field("title", _("This field is required."), code="required")
    amount = money(amount)
    with transaction.atomic():
        invoice = _invoice_locked(invoice_id, actor)
        if invoice.status != InvoiceRequest.Status.REQUESTED:
            raise Conflict(_("This invoice request has been dealt with already."), code="invoice_not_requested")
        payments = Payment.objects.filter(order_id=invoice.order_id, status=Payment.Status.SUCCEEDED)
        kept = sum((refundable(p) for p in payments), ZERO)
        if amount <= ZERO or amount > kept:
            raise ValidationFailed.field(
                "amount",
                _("The amount must be above zero and at most %(kept)s (paid and not refunded).")
                % {"kept": format_yuan(kept)},
                code="invoice_amount",
            )
        if InvoiceRequest.objects.filter(number=number).exclude(pk=invoice.pk).exists():
            raise ValidationFailed.field(
                "number", _("This invoice number is used already."), code="invoice_number_used"
            )
        invoice.number, invoice.amount, invoice.title, invoice.tax_number = number, amount, title, tax_number
        invoice.status = InvoiceRequest.Status.ISSUED
        invoice.issued_at = timezone.now()
        invoice.issued_by = actor
        invoice.save(update_fields=["number", "amount", "title", "tax_number", "status", "issued_at", "issued_by"])
        audit("invoice.issue", actor=actor, obj=invoice, number=number, amount=amount)
    return invoice


def invoice_request_mark_sent(*, invoice_id: int, actor: Any) -> InvoiceRequest:
    """Finance has sent the issued invoice to the buyer (by e-mail or post)."""
    with transaction.atomic():
        invoice = _invoice_locked(invoice_id, actor)
        if invoice.status != InvoiceRequest.Status.ISSUED:
            raise Conflict(_("Only an issued invoice can be marked as sent."), code="invoice_not_issued")
        invoice.status = InvoiceRequest.Status.SENT
        invoice.sent_at = timezone.now()
        invoice.save(update_fields=["status", "sent_at"])
        audit("invoice.sent", actor=actor, obj=invoice)
    return invoice


def invoice_request_reject(*, invoice_id: int, actor: Any, note: str) -> InvoiceRequest:
    """Finance turns a request down and says why (the buyer sees the note)."""
    if not note.strip():
        raise ValidationFailed.field("note", _("Say why the request is rejected."), code="required")
    with transaction.atomic():
        invoice = _invoice_locked(invoice_id, actor)
        if invoice.status != InvoiceRequest.Status.REQUESTED:
            raise Conflict(_("This invoice request has been dealt with already."), code="invoice_not_requested")
        invoice.status = InvoiceRequest.Status.REJECTED
        invoice.note = note.strip()[:200]
        invoice.save(update_fields=["status", "note"])
        audit("invoice.reject", actor=actor, obj=invoice, note=invoice.note)
    return invoice
