"""Back-office deal pages: the review queue, deals by state with filters, one deal with its
actions (submit, approve, send back) and an edit form limited to what the state allows.

Operators see every deal; a merchant's people see only their merchant's (core.ownership).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from tuangou.accounts.roles import Role
from tuangou.core.errors import AppError, NotFound, ValidationFailed
from tuangou.core.models import City
from tuangou.core.ownership import get_visible as _get_visible
from tuangou.core.ownership import has_role
from tuangou.core.workflow.engine import history
from tuangou.deals import selectors, services
from tuangou.deals.models import Deal
from tuangou.deals.process import DEAL
from tuangou.web.forms import ServiceForm
from tuangou.web.views.backoffice import role_required


def get_visible(queryset: Any, user: Any, **lookup: Any) -> Any:
    """core.ownership.get_visible, as a 404 page for strangers."""
    try:
        return _get_visible(queryset, user, **lookup)
    except NotFound as exc:
        raise Http404 from exc


STAFF = (Role.OPERATOR, Role.MERCHANT)


class RejectForm(ServiceForm):
    reason = forms.CharField(label=gettext_lazy("Reasons"), widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


class DealEditForm(ServiceForm):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=120, required=False)
    summary = forms.CharField(label=gettext_lazy("Summary"), max_length=240, required=False)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    terms = forms.CharField(
        label=gettext_lazy("Terms of use"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    stock = forms.IntegerField(label=gettext_lazy("Stock"), required=False)
    ends_at = forms.DateTimeField(
        label=gettext_lazy("Ends"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; the service checks each by content (deals/media.py)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}))
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data if d]
        return [super().clean(data, initial)] if data else []


class MediaForm(ServiceForm):
    images = MultipleFileField(
        label=gettext_lazy("Images"),
        required=False,
        help_text=gettext_lazy("JPEG, PNG, WebP or GIF, in the order to show them; the first is the cover."),
    )
    video = forms.FileField(
        label=gettext_lazy("Video"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "video/mp4,video/webm"}),
        help_text=gettext_lazy("MP4 or WebM; replaces the deal's video."),
    )


def _media_errors_to_form(form: ServiceForm, exc: AppError) -> None:
    """`images.3` from the service is the `images` field of the form."""
    exc.errors = {k.split(".")[0]: v for k, v in exc.errors.items()}
    form.add_app_error(exc)


class DealCreateForm(ServiceForm):
    """A merchant proposes a deal (S10: goods, before/after price, quantity, people, time window)."""

    merchant_id = forms.TypedChoiceField(label=gettext_lazy("Merchant"), coerce=int)
    title = forms.CharField(label=gettext_lazy("Title"), max_length=120)
    summary = forms.CharField(label=gettext_lazy("Summary"), max_length=240, required=False)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    category_id = forms.TypedChoiceField(label=gettext_lazy("Category"), coerce=int, required=False, empty_value=None)
    original_price = forms.DecimalField(label=gettext_lazy("Original price"), decimal_places=2, max_digits=12)
    group_price = forms.DecimalField(label=gettext_lazy("Group price"), decimal_places=2, max_digits=12)
    stock = forms.IntegerField(label=gettext_lazy("Stock"))
    tipping_point = forms.IntegerField(label=gettext_lazy("Tipping point"), initial=1)
    count_basis = forms.ChoiceField(label=gettext_lazy("Counted in"), choices=Deal.CountBasis.choices)
    per_member_limit = forms.IntegerField(label=gettext_lazy("Limit per member"), initial=1)
    starts_at = forms.DateTimeField(
        label=gettext_lazy("Starts"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        label=gettext_lazy("Ends"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    tiers = forms.CharField(
        label=gettext_lazy("Volume tiers"),
        required=False,
        help_text=gettext_lazy("Count reached and price, e.g. 20:189, 50:179"),
    )
    mode = forms.ChoiceField(label=gettext_lazy("Mode"), choices=Deal.Mode.choices)
    team_size = forms.IntegerField(label=gettext_lazy("Team size"), required=False)
    team_hours = forms.IntegerField(label=gettext_lazy("Hours to fill a team"), required=False)
    leader_price = forms.DecimalField(label=gettext_lazy("Leader price"), required=False, decimal_places=2)
    delivery = forms.ChoiceField(label=pgettext_lazy("deal", "Delivery"), choices=Deal.Delivery.choices)
    conditions = forms.CharField(label=gettext_lazy("Participant conditions"), required=False)
    terms = forms.CharField(
        label=gettext_lazy("Terms of use"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    images = MediaForm.base_fields["images"]
    video = MediaForm.base_fields["video"]

    def clean_tiers(self) -> list[tuple[int, str]]:
        tiers: list[tuple[int, str]] = []
        for part in (self.cleaned_data.get("tiers") or "").replace("，", ",").split(","):
            if not part.strip():
                continue
            count, _sep, price = part.replace("：", ":").partition(":")
            if not count.strip().isdigit() or not price.strip():
                raise forms.ValidationError(_("Write each tier as count:price, e.g. 20:189."))
            tiers.append((int(count), price.strip()))
        return tiers


@role_required(*STAFF)
def deal_new(request: HttpRequest) -> HttpResponse:
    """Draft a deal for one of one's merchants (operators: any merchant with an agreement)."""
    from tuangou.deals.models import Category
    from tuangou.merchants.models import Merchant

    merchants = Merchant.objects.filter(is_active=True)
    if not has_role(request.user, Role.OPERATOR):
        user: Any = request.user
        merchants = merchants.filter(members__user=user, members__store__isnull=True).distinct()
    form = DealCreateForm(request.POST or None, request.FILES or None)
    merchant_field: Any = form.fields["merchant_id"]
    category_field: Any = form.fields["category_id"]
    merchant_field.choices = [(m.pk, m.name) for m in merchants]
    category_field.choices = [("", "—"), *((c.pk, c.name) for c in Category.objects.all())]
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        tiers = data.pop("tiers")
        merchant_id = data.pop("merchant_id")
        images, video = data.pop("images") or [], data.pop("video")
        data = {k: v for k, v in data.items() if v not in (None, "")}
        try:
            with transaction.atomic():  # a bad file leaves no draft behind
                deal = services.deal_create(actor=request.user, merchant_id=merchant_id, tiers=tiers, **data)
                if images or video:
                    services.deal_media_upload(actor=request.user, deal_id=deal.pk, images=images, video=video)
        except AppError as exc:
            _media_errors_to_form(form, exc)
        else:
            messages.success(request, _("Draft saved. Submit it for review when it is ready."))
            return redirect("web:deal_manage", deal_id=deal.pk)
    return render(request, "web/deals/backoffice_new.html", {"form": form})


@role_required(*STAFF)
def deal_list(request: HttpRequest, review: bool = False) -> HttpResponse:
    """Deals by state, with filters; `review=True` is the operators' queue of submitted deals."""
    status = "submitted" if review else (request.GET.get("status") or None)
    qs = selectors.deal_list_for(request.user, status=status)
    if city := request.GET.get("city"):
        qs = qs.filter(city__slug=city)
    if q := (request.GET.get("q") or "").strip():
        qs = qs.filter(title__icontains=q[:60])
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    return render(
        request,
        "web/deals/backoffice_list.html",
        {
            "page": page,
            "review": review,
            "status": status,
            "states": DEAL.state_choices,
            "cities": City.objects.all(),
            "city": city,
            "q": q,
        },
    )


def deal_review_queue(request: HttpRequest) -> HttpResponse:
    return deal_list(request, review=True)


@role_required(*STAFF)
def deal_manage(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = get_visible(
        Deal.objects.select_related("merchant", "city", "category").prefetch_related("tiers", "media"),
        request.user,
        pk=deal_id,
    )
    allowed = services.EDITABLE_BY_STATE.get(deal.status, ())
    edit_form = DealEditForm(
        request.POST if request.POST.get("form") == "edit" else None,
        initial={f: getattr(deal, f) for f in DealEditForm.base_fields},
    )
    for name, field in edit_form.fields.items():
        field.disabled = "*" not in allowed and name not in allowed
    if request.method == "POST" and request.POST.get("form") == "edit" and edit_form.is_valid():
        changes: dict[str, Any] = {
            k: v for k, v in edit_form.cleaned_data.items() if k in edit_form.changed_data and v not in (None, "")
        }
        try:
            services.deal_update(actor=request.user, deal_id=deal.pk, **changes)
        except AppError as exc:
            edit_form.add_app_error(exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("web:deal_manage", deal_id=deal.pk)
    media_form = MediaForm(
        request.POST if request.POST.get("form") == "media" else None,
        request.FILES if request.POST.get("form") == "media" else None,
    )
    if request.method == "POST" and request.POST.get("form") == "media" and media_form.is_valid():
        images, video = media_form.cleaned_data["images"], media_form.cleaned_data["video"]
        try:
            if not images and not video:
                raise ValidationFailed.field("images", _("Choose a file to upload."), code="file_required")
            services.deal_media_upload(actor=request.user, deal_id=deal.pk, images=images, video=video)
        except AppError as exc:
            _media_errors_to_form(media_form, exc)
        else:
            messages.success(request, _("Uploaded."))
            return redirect("web:deal_manage", deal_id=deal.pk)
    log = history(deal)
    return render(
        request,
        "web/deals/backoffice_deal.html",
        {
            "deal": deal,
            "media_form": media_form,
            "media_editable": deal.status in services.EDITABLE_BY_STATE,
            "edit_form": edit_form,
            "reject_form": RejectForm(),
            "history": log,
            "is_operator": has_role(request.user, Role.OPERATOR),
        },
    )


@role_required(*STAFF)
@require_POST
def deal_action(request: HttpRequest, deal_id: int, action: str) -> HttpResponse:
    """Submit (its merchant), approve or send back (operators). Refusals come back as messages."""
    try:
        if action == "submit":
            services.deal_submit(actor=request.user, deal_id=deal_id)
        elif action == "approve":
            services.deal_approve(actor=request.user, deal_id=deal_id)
        elif action == "reject":
            services.deal_reject(actor=request.user, deal_id=deal_id, reason=request.POST.get("reason", ""))
        else:
            raise AppError(_("Unknown action."))
    except AppError as exc:
        messages.error(request, str(exc.message) + "".join(f" {m}" for ms in exc.errors.values() for m in ms))
    else:
        messages.success(request, _("Done."))
    return redirect("web:deal_manage", deal_id=deal_id)


@role_required(*STAFF)
@require_POST
def deal_media_action(request: HttpRequest, deal_id: int, media_id: int, action: str) -> HttpResponse:
    """Remove an image or the video, or move an image one place up or down."""
    deal = get_visible(Deal.objects.all(), request.user, pk=deal_id)
    try:
        if action == "remove":
            services.deal_media_remove(actor=request.user, deal_id=deal.pk, media_id=media_id)
        elif action in ("up", "down"):
            ids = list(deal.media.filter(kind="image").values_list("pk", flat=True))
            if media_id not in ids:
                raise NotFound()
            i = ids.index(media_id)
            j = i - 1 if action == "up" else i + 1
            if 0 <= j < len(ids):
                ids[i], ids[j] = ids[j], ids[i]
                services.deal_media_reorder(actor=request.user, deal_id=deal.pk, media_ids=ids)
        else:
            raise AppError(_("Unknown action."))
    except NotFound as exc:
        raise Http404 from exc
    except AppError as exc:
        messages.error(request, str(exc.message) + "".join(f" {m}" for ms in exc.errors.values() for m in ms))
    else:
        messages.success(request, _("Done."))
    return redirect("web:deal_manage", deal_id=deal.pk)


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@role_required(Role.OPERATOR)
def team_report(request: HttpRequest) -> HttpResponse:
    """拼團 report: per deal, teams filled, completed virtually, failed, forming; Excel export."""
    from tuangou.deals import exports

    g = request.GET
    city = g.get("city") or None
    deal_id = int(g["deal"]) if (g.get("deal") or "").isdigit() else None
    date_from, date_to = _date(g.get("from")), _date(g.get("to"))
    rows, totals = selectors.team_report(city=city, deal_id=deal_id, opened_from=date_from, opened_until=date_to)
    if g.get("format") == "xlsx":
        response = HttpResponse(
            exports.team_report_xlsx(rows, totals),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = 'attachment; filename="team-buys.xlsx"'
        return response
    query = "&".join(
        f"{k}={v}" for k, v in (("city", city), ("deal", deal_id), ("from", date_from), ("to", date_to)) if v
    )
    return render(
        request,
        "web/deals/team_report.html",
        {
            "rows": rows,
            "totals": totals,
            "cities": City.objects.all(),
            "city": city,
            "deal_id": deal_id,
            "date_from": date_from,
            "date_to": date_to,
            "query": query,
        },
    )


def _urls() -> list[Any]:
    from django.urls import path

    from tuangou.web.views import storefront

    return [
        path("c/<slug:city>/", storefront.city, name="city"),
        path("deals/<int:deal_id>/", storefront.deal_detail, name="deal"),
        path("deals/<int:deal_id>/teams/", storefront.team_open, name="team_open"),
        path("teams/<int:team_id>/", storefront.team_detail, name="team"),
        path("orders/<int:order_id>/", storefront.order_detail, name="order"),
        path("orders/<int:order_id>/cancel/", storefront.order_cancel, name="order_cancel"),
        path("orders/<int:order_id>/demo-pay/", storefront.order_demo_pay, name="order_demo_pay"),
        path("me/orders/", storefront.my_orders, name="my_orders"),
        path("m/<slug:slug>/", storefront.merchant_site, name="merchant"),
        path("m/<slug:slug>/<str:tab>/", storefront.merchant_site, name="merchant_tab"),
        path("backoffice/deals/", deal_list, name="deal_list"),
        path("backoffice/deals/review/", deal_review_queue, name="deal_review"),
        path("backoffice/deals/new/", deal_new, name="deal_new"),
        path("backoffice/reports/team-buys/", team_report, name="team_report"),
        path("backoffice/deals/<int:deal_id>/", deal_manage, name="deal_manage"),
        path(
            "backoffice/deals/<int:deal_id>/media/<int:media_id>/<str:action>/",
            deal_media_action,
            name="deal_media_action",
        ),
        path("backoffice/deals/<int:deal_id>/<str:action>/", deal_action, name="deal_action"),
    ]


urlpatterns = _urls()
