"""Pay step, result page, my balance, the finance pages, and the sandbox gateway's cashier."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tuangou.accounts.roles import Role
from tuangou.core.errors import AppError
from tuangou.core.ownership import get_visible, visible_to
from tuangou.ledger import selectors as ledger_selectors
from tuangou.ledger.checks import run_all
from tuangou.payments import orders as payment_orders
from tuangou.payments import services
from tuangou.payments.models import InvoiceRequest, Payment, Refund, SandboxTrade
from tuangou.payments.providers import LABELS, enabled
from tuangou.payments.providers import sandbox as sandbox_gateway
from tuangou.web.forms import InvoiceIssueForm, InvoiceRejectForm, InvoiceRequestForm
from tuangou.web.views.backoffice import role_required


def _urls(request: HttpRequest, provider: str) -> tuple[str, str]:
    base = settings.PAYMENT_PUBLIC_URL.rstrip("/") or request.build_absolute_uri("/").rstrip("/")
    return (base + reverse("web:payment_return"), base + reverse("api:payment_notify", args=[provider]))


@login_required
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, order_id: int) -> HttpResponse:
    """The pay step: choose a provider, go to its page (or QR code), come back to the result."""
    providers = [(p, LABELS[p]) for p in enabled()]
    if request.method == "POST":
        provider = request.POST.get("provider", "")
        return_url, notify_url = _urls(request, provider)
        try:
            payment, result = services.payment_start(
                buyer=request.user,
                provider=provider,
                order_id=order_id,
                channel=request.POST.get("channel", ""),
                return_url=return_url,
                notify_url=notify_url,
            )
        except AppError as exc:
            messages.error(request, str(exc.message))
            return redirect("web:payment_pay", order_id=order_id)
        if result.kind == "redirect":
            return HttpResponseRedirect(result.url)
        return redirect("web:payment_detail", payment_id=payment.pk)
    order = payment_orders.backend().get(order_id)
    if order is None or order.buyer_id != request.user.pk:
        raise Http404
    return render(
        request,
        "web/payments/pay.html",
        {
            "order": order,
            "providers": providers,
            "balance": ledger_selectors.member_balance(int(request.user.pk or 0)),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def payment_detail(request: HttpRequest, payment_id: int) -> HttpResponse:
    """The result page: paid or not, its refunds, and (for a paid order) its invoice request (發票)."""
    payment = get_visible(Payment.objects.all(), request.user, pk=payment_id)
    mine = payment.buyer_id == request.user.pk
    invoices = (
        list(InvoiceRequest.objects.filter(order_id=payment.order_id, buyer_id=request.user.pk))
        if payment.order_id is not None and mine
        else []
    )
    may_ask = mine and payment.order_id is not None and payment.status == Payment.Status.SUCCEEDED
    form = InvoiceRequestForm(request.POST or None, initial={"email": getattr(request.user, "email", "")})
    if request.method == "POST" and may_ask and form.is_valid():
        try:
            services.invoice_request_create(
                order_id=payment.order_id,  # type: ignore[arg-type]
                buyer=request.user,
                title=form.cleaned_data["title"],
                tax_number=form.cleaned_data["tax_number"],
                email=form.cleaned_data["email"],
            )
        except AppError as exc:
            form.add_app_error(exc)
        else:
            messages.success(request, _("Invoice requested. Finance will send it to your e-mail."))
            return redirect("web:payment_detail", payment_id=payment.pk)
    asked = any(i.status != InvoiceRequest.Status.REJECTED for i in invoices)
    return render(
        request,
        "web/payments/result.html",
        {
            "payment": payment,
            "refunds": payment.refunds.all(),
            "invoices": invoices,
            "invoice_form": form if may_ask and not asked else None,
        },
    )


def payment_return(request: HttpRequest) -> HttpResponse:
    """Where a gateway sends the buyer back. Only the notification decides that an order is paid."""
    payment = Payment.objects.filter(out_trade_no=request.GET.get("out_trade_no", "")).first()
    if payment is None or not request.user.is_authenticated or payment.buyer_id != request.user.pk:
        return redirect("web:home")
    return redirect("web:payment_detail", payment_id=payment.pk)


@login_required
def my_balance(request: HttpRequest) -> HttpResponse:
    """我的餘額 and its history."""
    return render(
        request,
        "web/payments/balance.html",
        {
            "balance": ledger_selectors.member_balance(int(request.user.pk or 0)),
            "history": ledger_selectors.member_history(int(request.user.pk or 0)),
        },
    )


@login_required
def my_invoices(request: HttpRequest) -> HttpResponse:
    """我的發票: the member's invoice requests and where finance is with each."""
    return render(
        request,
        "web/payments/my_invoices.html",
        {"invoices": InvoiceRequest.objects.filter(buyer_id=request.user.pk)[:100]},
    )


# --- finance -------------------------------------------------------------------------------------


@role_required(Role.FINANCE)
def finance_invoices(request: HttpRequest) -> HttpResponse:
    """發票申請: the invoice requests finance works through (requested first by default)."""
    status = request.GET.get("status", InvoiceRequest.Status.REQUESTED)
    queryset = visible_to(InvoiceRequest.objects.select_related("buyer"), request.user)
    if status:
        queryset = queryset.filter(status=status)
    page = Paginator(queryset, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "web/payments/finance_invoices.html",
        {"page": page, "status": status, "statuses": InvoiceRequest.Status.choices},
    )


@role_required(Role.FINANCE)
@require_http_methods(["GET", "POST"])
def finance_invoice(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """One invoice request: issue it (number, amount, title, tax number) or reject it."""
    invoice = get_visible(InvoiceRequest.objects.select_related("buyer", "issued_by"), request.user, pk=invoice_id)
    issue = InvoiceIssueForm(
        request.POST if request.POST.get("action") == "issue" else None,
        initial={"amount": invoice.amount, "title": invoice.title, "tax_number": invoice.tax_number},
    )
    reject = InvoiceRejectForm(request.POST if request.POST.get("action") == "reject" else None)
    if request.method == "POST":
        form = issue if request.POST.get("action") == "issue" else reject
        if form.is_valid():
            try:
                if form is issue:
                    services.invoice_request_issue(invoice_id=invoice.pk, actor=request.user, **form.cleaned_data)
                    messages.success(request, _("Invoice issued."))
                else:
                    services.invoice_request_reject(invoice_id=invoice.pk, actor=request.user, **form.cleaned_data)
                    messages.success(request, _("Invoice request rejected."))
            except AppError as exc:
                form.add_app_error(exc)
            else:
                return redirect("web:finance_invoice", invoice_id=invoice.pk)
    return render(
        request, "web/payments/finance_invoice.html", {"invoice": invoice, "issue_form": issue, "reject_form": reject}
    )


@role_required(Role.FINANCE)
@require_POST
def finance_invoice_sent(request: HttpRequest, invoice_id: int) -> HttpResponse:
    try:
        services.invoice_request_mark_sent(invoice_id=invoice_id, actor=request.user)
    except AppError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Marked as sent."))
    return redirect("web:finance_invoice", invoice_id=invoice_id)


@role_required(Role.FINANCE)
def finance_payments(request: HttpRequest) -> HttpResponse:
    queryset = visible_to(Payment.objects.select_related("buyer"), request.user)
    if status := request.GET.get("status", ""):
        queryset = queryset.filter(status=status)
    page = Paginator(queryset, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "web/payments/finance_payments.html",
        {"page": page, "status": status, "statuses": Payment.Status.choices},
    )


@role_required(Role.FINANCE)
def finance_refunds(request: HttpRequest) -> HttpResponse:
    queryset = visible_to(Refund.objects.select_related("payment"), request.user)
    stuck = request.GET.get("stuck") == "1"
    if stuck:
        queryset = queryset.filter(status__in=[Refund.Status.FAILED, Refund.Status.SENDING, Refund.Status.PENDING])
    page = Paginator(queryset, 50).get_page(request.GET.get("page"))
    return render(request, "web/payments/finance_refunds.html", {"page": page, "stuck": stuck})


@role_required(Role.FINANCE)
@require_http_methods(["POST"])
def finance_refund_retry(request: HttpRequest, refund_id: int) -> HttpResponse:
    try:
        services.refund_retry(refund_id=refund_id, actor=request.user)
    except AppError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The refund was sent again with the same request number."))
    return redirect(reverse("web:finance_refunds") + "?stuck=1")


@role_required(Role.FINANCE)
def finance_ledger(request: HttpRequest) -> HttpResponse:
    """Ledger balances (derived from the legs) and the audit's result."""
    return render(
        request,
        "web/payments/finance_ledger.html",
        {
            "accounts": ledger_selectors.account_balances(),
            "audit": run_all(),
        },
    )


urlpatterns = [
    path("orders/<int:order_id>/pay/", pay, name="payment_pay"),
    path("payments/<int:payment_id>/", payment_detail, name="payment_detail"),
    path("payments/return/", payment_return, name="payment_return"),
    path("me/balance/", my_balance, name="my_balance"),
    path("backoffice/finance/payments/", finance_payments, name="finance_payments"),
    path("backoffice/finance/refunds/", finance_refunds, name="finance_refunds"),
    path("backoffice/finance/refunds/<int:refund_id>/retry/", finance_refund_retry, name="finance_refund_retry"),
    path("backoffice/finance/ledger/", finance_ledger, name="finance_ledger"),
    path("me/invoices/", my_invoices, name="my_invoices"),
    path("backoffice/finance/invoices/", finance_invoices, name="finance_invoices"),
    path("backoffice/finance/invoices/<int:invoice_id>/", finance_invoice, name="finance_invoice"),
    path("backoffice/finance/invoices/<int:invoice_id>/sent/", finance_invoice_sent, name="finance_invoice_sent"),
]


# --- the sandbox gateway's own pages (served under /sandbox-gateway/) -----------------------------


@require_http_methods(["GET", "POST"])
def sandbox_cashier(request: HttpRequest) -> HttpResponse:
    """沙箱收銀台: the buyer pays, fails or abandons; then goes back to the shop's return URL."""
    params = request.GET.dict()
    key = sandbox_gateway.signing_key()
    if not hmac.compare_digest(params.get("sign", ""), sandbox_gateway.sign(params, key)):
        raise Http404
    trade = SandboxTrade.objects.filter(out_trade_no=params.get("out_trade_no", "")).first()
    if trade is None:
        raise Http404
    if request.method == "POST":
        outcome = request.POST.get("outcome", "")
        if outcome not in {"pay", "fail", "abandon"}:
            raise Http404
        trade = sandbox_gateway.sandbox_trade_finish(out_trade_no=trade.out_trade_no, outcome=outcome)
        back = trade.return_url or reverse("web:home")
        sep = "&" if "?" in back else "?"
        return HttpResponseRedirect(f"{back}{sep}{sandbox_gateway.return_query(trade, key)}")
    return render(request, "web/payments/sandbox_cashier.html", {"trade": trade})


sandbox_urlpatterns = ([path("cashier/", sandbox_cashier, name="cashier")], "sandbox")
