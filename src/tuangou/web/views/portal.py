"""The merchant portal (phone-sized, at the counter), the member's vouchers, back-office settlement.

Counter: type or scan a code → see what it is for → confirm; recent verifications of the store
can be undone within the window with a reason. Clerks see their store, merchant admins every
store of theirs; nobody sees another merchant's data (services and core.ownership decide).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tuangou.accounts.roles import Role
from tuangou.core.errors import AppError, NotFound
from tuangou.core.ownership import get_visible, has_role
from tuangou.core.ratelimit import client_ip
from tuangou.merchants.models import Store
from tuangou.settlement import selectors as settlement_selectors
from tuangou.settlement import services as settlement
from tuangou.settlement.models import Statement
from tuangou.vouchers import selectors, services
from tuangou.vouchers.models import Redemption, Voucher
from tuangou.web.forms import ServiceForm
from tuangou.web.views.backoffice import role_required

MERCHANT_PEOPLE = (Role.MERCHANT, Role.CLERK)


def _visible_or_404(queryset: Any, user: Any, **lookup: Any) -> Any:
    try:
        return get_visible(queryset, user, **lookup)
    except NotFound as exc:
        raise Http404 from exc


class CounterForm(ServiceForm):
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), coerce=int)
    code = forms.CharField(
        label=gettext_lazy("Voucher code"),
        max_length=40,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "off",
                "autofocus": True,
                "placeholder": "1234 5678 9012 3456 7890",
            }
        ),
    )
    password = forms.CharField(
        label=gettext_lazy("Password (if any)"),
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


class UndoForm(ServiceForm):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)


class TallyForm(ServiceForm):
    day = forms.CharField(label=gettext_lazy("Day"), widget=forms.DateInput(attrs={"type": "date"}))
    units = forms.CharField(label=gettext_lazy("Units"), widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    amount = forms.CharField(label=gettext_lazy("Amount"), widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)


class UploadForm(ServiceForm):
    file = forms.FileField(label=gettext_lazy("CSV or Excel file (day, units, amount, note)"))


def _stores(user: Any) -> list[Store]:
    from tuangou.core.ownership import visible_to

    return list(
        visible_to(Store.objects.select_related("merchant"), user)
        .filter(merchant__members__user=user)
        .distinct()
        .order_by("merchant__name", "name")
    )


@role_required(*MERCHANT_PEOPLE)
def counter(request: HttpRequest) -> HttpResponse:
    """驗證: the counter page. Step 1 looks the code up; step 2 (confirm=1) verifies it."""
    stores = _stores(request.user)
    form = CounterForm(request.POST or None, initial={"store": request.session.get("counter_store")})
    form.fields["store"].choices = [(s.pk, str(s)) for s in stores]  # type: ignore[attr-defined]
    found: Voucher | None = None
    if request.method == "POST" and form.is_valid():
        store_id = form.cleaned_data["store"]
        request.session["counter_store"] = store_id
        try:
            if request.POST.get("confirm"):
                used = services.voucher_verify(
                    actor=request.user,
                    code=form.cleaned_data["code"],
                    store_id=store_id,
                    password=form.cleaned_data["password"],
                    ip=client_ip(request),
                )
                messages.success(
                    request, _("Verified: %(deal)s × %(units)d.") % {"deal": used.deal.title, "units": used.units}
                )
                return redirect("web:portal_counter")
            found = services.voucher_lookup(
                actor=request.user, code=form.cleaned_data["code"], store_id=store_id, ip=client_ip(request)
            )
        except AppError as exc:
            form.add_app_error(exc)
    store_ids = [s.pk for s in stores]
    since = timezone.now() - services.undo_window()
    recent = (
        # Only what can still be undone: a voucher already on a statement (settled) cannot.
        Redemption.objects.filter(
            store_id__in=store_ids, verified_at__gte=since, undone_at__isnull=True, voucher__state="used"
        )
        .select_related("voucher__deal", "store")
        .order_by("-verified_at")[:20]
    )
    return render(
        request, "web/portal/counter.html", {"form": form, "found": found, "recent": recent, "undo_form": UndoForm()}
    )


@role_required(*MERCHANT_PEOPLE)
@require_POST
def undo(request: HttpRequest, voucher_id: int) -> HttpResponse:
    form = UndoForm(request.POST)
    if form.is_valid():
        try:
            services.voucher_undo(actor=request.user, voucher_id=voucher_id, reason=form.cleaned_data["reason"])
            messages.success(request, _("The verification was undone."))
        except AppError as exc:
            messages.error(request, str(exc.message))
    else:
        messages.error(request, _("Please give a reason."))
    return redirect("web:portal_counter")


@role_required(*MERCHANT_PEOPLE)
def verifications(request: HttpRequest) -> HttpResponse:
    """商家記錄銷售情況: the merchant's verifications (clerks: their store's)."""
    qs = selectors.verifications_of_merchant(request.user).order_by("-verified_at", "-pk")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "web/portal/verifications.html", {"page": page})


@role_required(Role.MERCHANT, Role.OPERATOR, Role.FINANCE)
def statements(request: HttpRequest) -> HttpResponse:
    qs = settlement_selectors.statements_visible(request.user)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "web/portal/statements.html", {"page": page})


@role_required(Role.MERCHANT, Role.OPERATOR, Role.FINANCE)
def statement(request: HttpRequest, statement_id: int) -> HttpResponse:
    st: Statement = _visible_or_404(
        settlement_selectors.statements_visible(request.user), request.user, pk=statement_id
    )
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "confirm":
                settlement.statement_confirm(actor=request.user, statement_id=st.pk)
            elif action == "dispute":
                settlement.statement_dispute(actor=request.user, statement_id=st.pk, note=request.POST.get("note", ""))
            elif action == "recompute":
                settlement.statement_recompute(actor=request.user, statement_id=st.pk)
            elif action == "approve":
                settlement.statement_approve(actor=request.user, statement_id=st.pk)
            elif action == "pay":
                settlement.statement_pay(
                    actor=request.user, statement_id=st.pk, reference=request.POST.get("reference", "")
                )
            messages.success(request, _("Done."))
        except AppError as exc:
            messages.error(request, str(exc.message))
        return redirect("web:portal_statement", statement_id=st.pk)
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(
            settlement.statement_workbook(st),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{st.number}.xlsx"'
        return response
    lines = st.lines.select_related("deal", "store").order_by("kind", "deal", "store", "price", "pk")[:500]
    return render(
        request,
        "web/portal/statement.html",
        {
            "st": st,
            "lines": lines,
            "is_operator": has_role(request.user, Role.OPERATOR),
            "is_finance": has_role(request.user, Role.FINANCE),
        },
    )


@role_required(Role.MERCHANT)
def reconciliation(request: HttpRequest) -> HttpResponse:
    """與團購網購買核對: the merchant's tally beside the platform's verifications, per day."""
    try:
        merchant_id = settlement_selectors.admin_merchant_id(request.user)
    except NotFound as exc:
        raise Http404 from exc
    tally_form = TallyForm(prefix="t")
    upload_form = UploadForm(prefix="u")
    if request.method == "POST":
        try:
            if "t-day" in request.POST:
                tally_form = TallyForm(request.POST, prefix="t")
                if tally_form.is_valid():
                    settlement.tally_record(actor=request.user, merchant_id=merchant_id, **tally_form.cleaned_data)
                    return redirect("web:portal_reconciliation")
            elif "u-file" in request.FILES:
                upload_form = UploadForm(request.POST, request.FILES, prefix="u")
                if upload_form.is_valid():
                    f = upload_form.cleaned_data["file"]
                    n = settlement.tally_import(
                        actor=request.user, merchant_id=merchant_id, filename=f.name, content=f.read()
                    )
                    messages.success(request, _("%(n)d days recorded.") % {"n": n})
                    return redirect("web:portal_reconciliation")
            elif "dispute_day" in request.POST:
                settlement.dispute_open(
                    actor=request.user,
                    merchant_id=merchant_id,
                    day=request.POST["dispute_day"],
                    comment=request.POST.get("comment", ""),
                )
                messages.success(request, _("The difference is disputed."))
                return redirect("web:portal_reconciliation")
        except AppError as exc:
            (tally_form if "t-day" in request.POST else upload_form).add_app_error(exc)
    end = timezone.localdate()
    start = end - dt.timedelta(days=30)
    rows = settlement.reconciliation(merchant_id=merchant_id, start=start, end=end)
    disputes = settlement_selectors.disputes_visible(request.user).filter(merchant_id=merchant_id)[:50]
    return render(
        request,
        "web/portal/reconciliation.html",
        {
            "rows": rows,
            "tally_form": tally_form,
            "upload_form": upload_form,
            "disputes": disputes,
        },
    )


@role_required(Role.MERCHANT, Role.OPERATOR)
def dispute(request: HttpRequest, dispute_id: int) -> HttpResponse:
    d = _visible_or_404(settlement_selectors.disputes_visible(request.user), request.user, pk=dispute_id)
    if request.method == "POST":
        try:
            if request.POST.get("resolution"):
                settlement.dispute_resolve(actor=request.user, dispute_id=d.pk, resolution=request.POST["resolution"])
            else:
                settlement.dispute_comment(actor=request.user, dispute_id=d.pk, text=request.POST.get("text", ""))
        except AppError as exc:
            messages.error(request, str(exc.message))
        return redirect("web:portal_dispute", dispute_id=d.pk)
    return render(request, "web/portal/dispute.html", {"d": d, "is_operator": has_role(request.user, Role.OPERATOR)})


def my_vouchers(request: HttpRequest) -> HttpResponse:
    """我的團購券: the member's vouchers with their QR codes."""
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    if request.method == "POST":
        try:
            voucher_id = int(request.POST.get("voucher", "0"))
            if request.POST.get("action") == "refund":
                services.voucher_refund(actor=request.user, voucher_id=voucher_id)
                messages.success(request, _("The voucher is being refunded."))
            else:
                services.voucher_resend(actor=request.user, voucher_id=voucher_id)
                messages.success(request, _("The voucher SMS was sent again."))
        except (AppError, ValueError) as exc:
            messages.error(request, str(getattr(exc, "message", exc)))
        return redirect("web:my_vouchers")
    vouchers = list(selectors.vouchers_of_member(request.user).select_related("used_store")[:100])
    items = [
        {
            "v": v,
            "qr": selectors.qr_svg(v, scale=4) if v.state == "issued" else "",
            "resends_left": services.MAX_RESENDS - v.resends,
        }
        for v in vouchers
    ]
    return render(request, "web/portal/my_vouchers.html", {"items": items})


urlpatterns = [
    path("portal/", counter, name="portal_counter"),
    path("portal/vouchers/<int:voucher_id>/undo/", undo, name="portal_undo"),
    path("portal/verifications/", verifications, name="portal_verifications"),
    path("portal/statements/", statements, name="portal_statements"),
    path("portal/statements/<int:statement_id>/", statement, name="portal_statement"),
    path("portal/reconciliation/", reconciliation, name="portal_reconciliation"),
    path("portal/disputes/<int:dispute_id>/", dispute, name="portal_dispute"),
    path("me/vouchers/", my_vouchers, name="my_vouchers"),
]
