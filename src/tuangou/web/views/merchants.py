"""Merchant mini-site editing (S2) and the BD pipeline back office (S4).

Mini-site: a merchant's admin edits the introduction (home and details), promotions, video,
phone and each store's address and hours; the public pages show them. BD pipeline: a rep sees
their prospects by stage (an operator sees everyone's), records visits, moves a prospect along
the declared process and files the signed agreement. Services decide who may do what; the
moves and their log come from the workflow engine.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tuangou.accounts.roles import Role
from tuangou.core.errors import AppError, NotFound
from tuangou.core.models import City
from tuangou.core.ownership import get_visible, has_role, visible_to
from tuangou.core.workflow.engine import available_actions, history
from tuangou.merchants import services
from tuangou.merchants.models import Agreement, Merchant, MerchantMember, Prospect
from tuangou.merchants.process import PIPELINE
from tuangou.web.forms import ServiceForm
from tuangou.web.views.backoffice import role_required

# --------------------------------------------------------------------------------------------
# Mini-site


class SiteForm(ServiceForm):
    description = forms.CharField(
        label=gettext_lazy("Introduction (home and details pages)"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=5000,
        required=False,
    )
    promotions = forms.CharField(
        label=gettext_lazy("Promotions"), widget=forms.Textarea(attrs={"rows": 4}), max_length=2000, required=False
    )
    video_url = forms.CharField(
        label=gettext_lazy("Video (web address)"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "url", "placeholder": "https://"}),
    )
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=40, required=False)


class StoreForm(ServiceForm):
    address = forms.CharField(label=gettext_lazy("Address"), max_length=200)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=40, required=False)
    opening_hours = forms.CharField(label=gettext_lazy("Opening hours"), max_length=120, required=False)


def _site_merchants(user: Any) -> list[Merchant]:
    if has_role(user, Role.OPERATOR):
        return list(Merchant.objects.order_by("name"))
    admin_of = MerchantMember.objects.filter(user=user, store__isnull=True).values("merchant")
    return list(Merchant.objects.filter(pk__in=admin_of).order_by("name"))


@role_required(Role.MERCHANT, Role.OPERATOR)
def site_edit(request: HttpRequest) -> HttpResponse:
    """商家獨立首頁: edit what the mini-site shows (home, details, promotions, video)."""
    merchants = _site_merchants(request.user)
    wanted = request.GET.get("merchant", "")
    merchant = next((m for m in merchants if str(m.pk) == wanted), merchants[0] if merchants else None)
    if merchant is None:
        raise Http404
    stores = list(merchant.stores.order_by("name"))
    site_form = SiteForm(initial={f: getattr(merchant, f) for f in SiteForm.base_fields})
    store_forms = {
        s.pk: StoreForm(prefix=f"s{s.pk}", initial={f: getattr(s, f) for f in StoreForm.base_fields}) for s in stores
    }
    if request.method == "POST":
        store_id = request.POST.get("store")
        try:
            if store_id and store_id.isdigit() and int(store_id) in store_forms:
                form = store_forms[int(store_id)] = StoreForm(request.POST, prefix=f"s{store_id}")
                if form.is_valid():
                    services.store_update(actor=request.user, store_id=int(store_id), **form.cleaned_data)
                    messages.success(request, _("Saved."))
                    return redirect(f"{request.path}?merchant={merchant.pk}")
            else:
                site_form = SiteForm(request.POST)
                if site_form.is_valid():
                    services.merchant_site_update(actor=request.user, merchant_id=merchant.pk, **site_form.cleaned_data)
                    messages.success(request, _("Saved."))
                    return redirect(f"{request.path}?merchant={merchant.pk}")
        except NotFound as exc:
            raise Http404 from exc
        except AppError as exc:
            (store_forms[int(store_id)] if store_id and store_id.isdigit() else site_form).add_app_error(exc)
    return render(
        request,
        "web/merchants/site.html",
        {
            "merchant": merchant,
            "merchants": merchants,
            "site_form": site_form,
            "stores": [(s, store_forms[s.pk]) for s in stores],
        },
    )


# --------------------------------------------------------------------------------------------
# BD pipeline

BD_PEOPLE = (Role.BD_REP, Role.OPERATOR)


class ProspectForm(ServiceForm):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    city_id = forms.TypedChoiceField(label=gettext_lazy("City"), coerce=int)
    contact = forms.CharField(label=gettext_lazy("Contact person"), max_length=60, required=False)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=40, required=False)
    address = forms.CharField(label=gettext_lazy("Address"), max_length=200, required=False)
    note = forms.CharField(label=gettext_lazy("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["city_id"].choices = [(c.pk, c.name) for c in City.objects.order_by("position", "pk")]  # type: ignore[attr-defined]


class VisitForm(ServiceForm):
    notes = forms.CharField(label=gettext_lazy("What was said"), widget=forms.Textarea(attrs={"rows": 3}))
    next_step = forms.CharField(label=gettext_lazy("Next step"), max_length=200, required=False)


class MoveForm(ServiceForm):
    action = forms.ChoiceField(label=gettext_lazy("Move to"))
    note = forms.CharField(label=gettext_lazy("Note"), max_length=500, required=False)


class AgreementForm(ServiceForm):
    commission_kind = forms.ChoiceField(label=gettext_lazy("Commission"), choices=Agreement.CommissionKind.choices)
    commission_rate = forms.CharField(
        label=gettext_lazy("Commission rate (%)"), initial="0", widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    commission_per_person = forms.CharField(
        label=gettext_lazy("Commission per person"), initial="0", widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    settlement_cycle = forms.ChoiceField(label=gettext_lazy("Settlement cycle"), choices=Agreement.Cycle.choices)
    valid_from = forms.DateField(label=gettext_lazy("Valid from"), widget=forms.DateInput(attrs={"type": "date"}))
    valid_until = forms.DateField(label=gettext_lazy("Valid until"), widget=forms.DateInput(attrs={"type": "date"}))
    file = forms.FileField(label=gettext_lazy("Signed agreement file"), required=False)


def _move_choices(routes: list[Any]) -> list[tuple[str, Any]]:
    """Nothing chosen at first: a move (dropping a prospect, say) is never the default."""
    return [("", "—"), *((r.action, r.title) for r in routes)]


def _stages() -> list[tuple[str, Any]]:
    return [(name, title) for name, title in PIPELINE.state_choices]


@role_required(*BD_PEOPLE)
def pipeline(request: HttpRequest) -> HttpResponse:
    """業務員的商家開發: prospects by stage (a rep's own; an operator's: everyone's)."""
    form = ProspectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            p = services.prospect_create(actor=request.user, **form.cleaned_data)
            return redirect("web:bd_prospect", prospect_id=p.pk)
        except AppError as exc:
            form.add_app_error(exc)
    stage = request.GET.get("stage", "")
    qs = visible_to(Prospect.objects.select_related("city", "rep"), request.user).order_by("-stage_changed_at", "-pk")
    prospects = list(qs[:500])
    columns = [
        {"stage": name, "title": title, "items": [p for p in prospects if p.stage == name]}
        for name, title in _stages()
        if not stage or stage == name
    ]
    return render(
        request,
        "web/merchants/pipeline.html",
        {"columns": columns, "stages": _stages(), "stage": stage, "form": form, "total": len(prospects)},
    )


@role_required(*BD_PEOPLE)
def prospect(request: HttpRequest, prospect_id: int) -> HttpResponse:
    """One prospect: details, visit notes, the next moves, the agreement and the log."""
    try:
        p: Prospect = get_visible(
            Prospect.objects.select_related("city", "rep", "merchant", "agreement"), request.user, pk=prospect_id
        )
    except NotFound as exc:
        raise Http404 from exc
    routes = [r for r in available_actions(p, request.user) if r.action != "sign"]
    visit_form = VisitForm(prefix="v")
    move_form = MoveForm(prefix="m")
    agreement_form = AgreementForm(prefix="a")
    if request.method == "POST":
        which = request.POST.get("form", "")
        bound: ServiceForm | None = None
        try:
            if which == "visit":
                bound = visit_form = VisitForm(request.POST, prefix="v")
                if visit_form.is_valid():
                    services.visit_record(actor=request.user, prospect_id=p.pk, **visit_form.cleaned_data)
                    messages.success(request, _("The visit is recorded."))
                    return redirect("web:bd_prospect", prospect_id=p.pk)
            elif which == "move":
                bound = move_form = MoveForm(request.POST, prefix="m")
                move_form.fields["action"].choices = _move_choices(routes)  # type: ignore[attr-defined]
                if move_form.is_valid():
                    services.prospect_move(actor=request.user, prospect_id=p.pk, **move_form.cleaned_data)
                    messages.success(request, _("Moved."))
                    return redirect("web:bd_prospect", prospect_id=p.pk)
            elif which == "agreement":
                bound = agreement_form = AgreementForm(request.POST, request.FILES, prefix="a")
                if agreement_form.is_valid():
                    services.agreement_file(actor=request.user, prospect_id=p.pk, **agreement_form.cleaned_data)
                    messages.success(request, _("The agreement is filed; the merchant is created."))
                    return redirect("web:bd_prospect", prospect_id=p.pk)
        except NotFound as exc:
            raise Http404 from exc
        except AppError as exc:
            if bound is not None:
                bound.add_app_error(exc)
    move_form.fields["action"].choices = _move_choices(routes)  # type: ignore[attr-defined]
    titles = {n.name: n.title for n in PIPELINE.iter_nodes()}
    actions = {t.action: t.title for t in PIPELINE.transitions}
    steps = [
        {
            "log": h,
            "source": titles.get(h.from_state, h.from_state),
            "target": titles.get(h.to_state, h.to_state),
            "action": actions.get(h.action, h.action),
        }
        for h in history(p, process=PIPELINE.name)
    ]
    return render(
        request,
        "web/merchants/prospect.html",
        {
            "p": p,
            "visits": p.visits.select_related("rep"),
            "history": steps,
            "routes": routes,
            "visit_form": visit_form,
            "move_form": move_form,
            "agreement_form": agreement_form if p.stage == "negotiating" else None,
        },
    )


urlpatterns = [
    path("portal/site/", site_edit, name="portal_site"),
    path("backoffice/bd/", pipeline, name="bd_pipeline"),
    path("backoffice/bd/<int:prospect_id>/", prospect, name="bd_prospect"),
]
