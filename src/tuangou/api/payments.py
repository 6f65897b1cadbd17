"""/api/v1 payments: start a payment, gateway notifications, a payment, refunds, my balance, invoices."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Router, Schema, Status
from pydantic import Field

from tuangou.accounts.roles import Role
from tuangou.api.schemas import ERRORS, Money
from tuangou.core.ownership import get_visible, require_login, require_role, visible_to
from tuangou.ledger import selectors as ledger_selectors
from tuangou.payments import services
from tuangou.payments.models import InvoiceRequest, Payment

router = Router(tags=["payments"])


class PaymentIn(Schema):
    provider: str = Field(examples=["sandbox"])
    channel: str = Field("", description="alipay: page | wap; wechatpay: native | jsapi")


class RefundOut(Schema):
    id: int
    out_request_no: str
    amount: Money
    reason: str
    destination: str
    status: str
    attempts: int


class PaymentOut(Schema):
    id: int
    out_trade_no: str
    order_id: int | None
    provider: str
    amount: Money
    status: str
    created_at: datetime
    paid_at: datetime | None
    next: dict[str, Any] = Field(default_factory=dict, description="how to pay: redirect url, qr code or jsapi")
    refunds: list[RefundOut] = Field(default_factory=list)


class RefundIn(Schema):
    amount: Decimal | None = Field(None, gt=0, description="empty: all that is left")
    to_balance: bool = False


class BalanceOut(Schema):
    balance: Money


class InvoiceIn(Schema):
    title: str = Field(max_length=120)
    tax_number: str = Field("", max_length=30)
    email: str = Field(max_length=254)


class InvoiceOut(Schema):
    id: int
    order_id: int
    title: str
    tax_number: str
    email: str
    amount: Money
    status: str = Field(description="requested → issued → sent, or rejected (see note)")
    number: str = Field(description="the invoice number once issued")
    note: str = Field(description="why a request was rejected")
    created_at: datetime
    issued_at: datetime | None
    sent_at: datetime | None


def _out(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.pk,
        "out_trade_no": payment.out_trade_no,
        "order_id": payment.order_id,
        "provider": payment.provider,
        "amount": payment.amount,
        "status": payment.status,
        "created_at": payment.created_at,
        "paid_at": payment.paid_at,
        "next": payment.start_data,
        "refunds": list(payment.refunds.all()),
    }


@router.post("/orders/{order_id}/payments", response={201: PaymentOut, **ERRORS})
def start_payment(request: HttpRequest, order_id: int, payload: PaymentIn) -> Any:
    require_login(request.user)
    base = settings.PAYMENT_PUBLIC_URL.rstrip("/") or request.build_absolute_uri("/").rstrip("/")
    payment, _result = services.payment_start(
        buyer=request.user,
        provider=payload.provider,
        order_id=order_id,
        channel=payload.channel,
        return_url=base + reverse("web:payment_return"),
        notify_url=base + reverse("api:payment_notify", args=[payload.provider]),
    )
    payment.refresh_from_db()
    return Status(201, _out(payment))


@router.post("/payments/{provider}/notify", auth=None, url_name="payment_notify", include_in_schema=True)
def notify(request: HttpRequest, provider: str) -> HttpResponse:
    """Gateways post here. The body is verified and applied at most once; the answer is the gateway's."""
    ack = services.notification_receive(provider=provider, body=request.body, headers=dict(request.headers))
    return HttpResponse(ack.body, status=ack.status, content_type=ack.content_type)


@router.get("/payments/{payment_id}", response={200: PaymentOut, **ERRORS})
def get_payment(request: HttpRequest, payment_id: int) -> Any:
    return _out(get_visible(Payment.objects.all(), request.user, pk=payment_id))


@router.post("/orders/{order_id}/refunds", response={201: list[RefundOut], **ERRORS})
def request_refund(request: HttpRequest, order_id: int, payload: RefundIn) -> Any:
    require_login(request.user)
    refunds = services.member_refund_request(
        order_id=order_id, actor=request.user, amount=payload.amount, to_balance=payload.to_balance
    )
    return Status(201, refunds)


@router.get("/me/balance", response={200: BalanceOut, **ERRORS})
def my_balance(request: HttpRequest) -> Any:
    require_login(request.user)
    return {"balance": ledger_selectors.member_balance(int(request.user.pk or 0))}


@router.post("/orders/{order_id}/invoice-requests", response={201: InvoiceOut, **ERRORS})
def request_invoice(request: HttpRequest, order_id: int, payload: InvoiceIn) -> Any:
    require_login(request.user)
    invoice = services.invoice_request_create(
        order_id=order_id, buyer=request.user, title=payload.title, tax_number=payload.tax_number, email=payload.email
    )
    return Status(201, invoice)


@router.get("/me/invoice-requests", response={200: list[InvoiceOut], **ERRORS})
def my_invoices(request: HttpRequest) -> Any:
    require_login(request.user)
    return list(InvoiceRequest.objects.filter(buyer_id=request.user.pk))


# --- finance: working through invoice requests ---------------------------------------------------


class InvoiceIssueIn(Schema):
    number: str = Field(max_length=40, description="the invoice number (unique)")
    amount: Decimal = Field(gt=0, description="at most what was paid and not refunded")
    title: str = Field(max_length=120)
    tax_number: str = Field("", max_length=30)


class InvoiceRejectIn(Schema):
    note: str = Field(max_length=200)


@router.get("/finance/invoice-requests", response={200: list[InvoiceOut], **ERRORS})
def finance_invoices(request: HttpRequest, status: str = "requested") -> Any:
    """Finance: invoice requests by status (requested, issued, sent, rejected; empty for all)."""
    require_role(request.user, Role.FINANCE)
    queryset = visible_to(InvoiceRequest.objects.all(), request.user)
    return list((queryset.filter(status=status) if status else queryset)[:200])


@router.post("/finance/invoice-requests/{invoice_id}/issue", response={200: InvoiceOut, **ERRORS})
def issue_invoice(request: HttpRequest, invoice_id: int, payload: InvoiceIssueIn) -> Any:
    return services.invoice_request_issue(invoice_id=invoice_id, actor=request.user, **payload.dict())


@router.post("/finance/invoice-requests/{invoice_id}/sent", response={200: InvoiceOut, **ERRORS})
def invoice_sent(request: HttpRequest, invoice_id: int) -> Any:
    return services.invoice_request_mark_sent(invoice_id=invoice_id, actor=request.user)


@router.post("/finance/invoice-requests/{invoice_id}/reject", response={200: InvoiceOut, **ERRORS})
def reject_invoice(request: HttpRequest, invoice_id: int, payload: InvoiceRejectIn) -> Any:
    return services.invoice_request_reject(invoice_id=invoice_id, actor=request.user, note=payload.note)
