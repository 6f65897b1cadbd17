"""The storefront, phone first: cities, a city's deals, a deal page, joining, teams, my orders,
and each merchant's mini-site (S2: home, details, promotions, all deals).

Views only read through selectors and write through services; an AppError from a service is
shown on the form (or as a message) and nothing changes.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.messages import get_messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tuangou.core import microcache
from tuangou.core.errors import AppError, NotFound
from tuangou.core.models import City
from tuangou.core.ownership import get_visible as _get_visible
from tuangou.deals import selectors
from tuangou.deals.models import Category, Deal
from tuangou.merchants.models import Merchant
from tuangou.orders import services as order_services
from tuangou.orders.models import Order
from tuangou.orders.selectors import orders_of_member
from tuangou.web.forms import ServiceForm


def get_visible(queryset: Any, user: Any, **lookup: Any) -> Any:
    """core.ownership.get_visible, as a 404 page for strangers."""
    try:
        return _get_visible(queryset, user, **lookup)
    except NotFound as exc:
        raise Http404 from exc


# -- microcache (ADR 0013) --------------------------------------------------------------------
# A city page or a deal page for an anonymous visitor is the same for every anonymous visitor in
# one language, except for the per-visitor CSRF token and the join form's idempotency key: it is
# rendered with placeholders for those two, kept a few seconds (core.microcache), and each visitor
# gets a copy with their own token and a fresh key. Sold counts may be that many seconds stale
# for anonymous visitors; signed-in visitors, POSTs and pages with a pending message are never
# cached.

_CSRF_SLOT = "csrf-slot-2f6c1a9e"
_KEY_SLOT = "idempotency-slot-2f6c1a9e"


def _page_key(request: HttpRequest) -> str:
    path = hashlib.sha256(request.get_full_path().encode()).hexdigest()
    return f"web:page:{translation.get_language()}:{path}"


def _cacheable(request: HttpRequest) -> bool:
    return request.method in ("GET", "HEAD") and not request.user.is_authenticated and len(get_messages(request)) == 0


def anonymous_microcache(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve anonymous GETs of `view` from core.microcache (see above); the view renders its
    per-visitor values with `_visitor_slots(request)`."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not _cacheable(request):
            return view(request, *args, **kwargs)
        uncached: list[HttpResponse] = []

        def render() -> bytes | None:
            request.page_slots = True  # type: ignore[attr-defined]
            response = view(request, *args, **kwargs)
            if response.status_code != 200 or response.streaming or response.cookies:
                uncached.append(response)
                return None
            return bytes(response.content)

        content = microcache.cached_bytes(_page_key(request), render)
        if content is None:
            return uncached[0]
        page = content.replace(_CSRF_SLOT.encode(), get_token(request).encode())
        return HttpResponse(page.replace(_KEY_SLOT.encode(), _new_key().encode()))

    return wrapped


def _visitor_slots(request: HttpRequest) -> dict[str, str]:
    """The CSRF token and a fresh idempotency key, or their placeholders in a page to be cached."""
    if getattr(request, "page_slots", False):
        return {"csrf_token": _CSRF_SLOT, "idempotency_key": _KEY_SLOT}
    return {"idempotency_key": _new_key()}


class JoinForm(ServiceForm):
    # The deal page writes this input in plain HTML (web/deals/detail.html: rendering a widget
    # costs a template render of its own); tests/deals/test_pages.py checks the two agree.
    quantity = forms.IntegerField(
        label=gettext_lazy("Quantity"), initial=1, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )


def home(request: HttpRequest) -> HttpResponse:
    """首頁: pick a city; with one city, go straight to its deals."""
    cities = list(City.objects.filter(is_active=True))
    if slug := request.GET.get("city"):
        return redirect("web:city", city=slug)
    return render(request, "web/deals/home.html", {"cities": cities, "categories": Category.objects.all()})


@anonymous_microcache
def city(request: HttpRequest, city: str) -> HttpResponse:
    """A city's storefront: today's deals, by category, searchable."""
    place = get_object_or_404(City, slug=city, is_active=True)
    category, q = request.GET.get("category") or None, (request.GET.get("q") or "").strip()
    deals = selectors.deal_list_public(city=place.slug, category=category, q=q or None, on_sale=True)
    page = Paginator(deals, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "web/deals/city.html",
        {
            "city": place,
            "cities": City.objects.filter(is_active=True),
            "categories": Category.objects.all(),
            "category": category,
            "q": q,
            "page": page,
            **_visitor_slots(request),
        },
    )


def _pay_url(order: Order) -> str | None:
    """The payments issue's pay step, when it is installed."""
    try:
        return reverse("web:payment_pay", kwargs={"order_id": order.pk})
    except NoReverseMatch:
        return None


@anonymous_microcache
def deal_detail(request: HttpRequest, deal_id: int) -> HttpResponse:
    """The deal page: prices side by side (S10), tiers, people joined, progress, time left, stores, terms."""
    deal = selectors.deal_public(deal_id=deal_id)
    if deal is None:
        raise Http404
    # A GET shows the unbound form, whose input the template writes from the field's initial
    # value: building the form (a deep copy of its fields) is only needed to read a POST.
    form = JoinForm(request.POST or None) if request.method == "POST" else None
    if form is not None:
        if not request.user.is_authenticated:
            return redirect(f"{reverse('web:login')}?next={request.path}")
        if form.is_valid():
            try:
                order = order_services.deal_join(
                    actor=request.user,
                    deal_id=deal.pk,
                    quantity=form.cleaned_data["quantity"],
                    idempotency_key=request.POST.get("idempotency_key") or None,
                )
            except AppError as exc:
                form.add_app_error(exc)
            else:
                return redirect("web:order", order_id=order.pk)
    tiers = deal.tier_list
    count = deal.count
    reached = [t for t in tiers if count >= t.threshold]
    current = reached[-1].threshold if reached else 0
    tier_rows = [{"threshold": 0, "price": deal.group_price, "current": current == 0}] + [
        {"threshold": t.threshold, "price": t.price, "current": t.threshold == current} for t in tiers
    ]
    quantity = form["quantity"] if form is not None else None
    value = quantity.value() if quantity is not None else JoinForm.base_fields["quantity"].initial
    return render(
        request,
        "web/deals/detail.html",
        {
            "deal": deal,
            "form": form,
            # the quantity input's value attribute (None: none) and errors, as its widget has them
            "quantity_value": None if value is None or value == "" else str(value),
            "quantity_errors": quantity.errors if quantity is not None else [],
            "tiers": tier_rows if tiers else [],
            "count": count,
            "next_tier": deal.next_tier,
            "teams": selectors.teams_forming(deal=deal)[:10] if deal.is_team else [],
            "stores": deal.stores.all(),
            **_visitor_slots(request),
        },
    )


def _new_key() -> str:
    return secrets.token_urlsafe(16)


@login_required
@require_POST
def team_open(request: HttpRequest, deal_id: int) -> HttpResponse:
    try:
        order = order_services.team_open(
            actor=request.user, deal_id=deal_id, idempotency_key=request.POST.get("idempotency_key") or None
        )
    except AppError as exc:
        messages.error(request, str(exc.message))
        return redirect("web:deal", deal_id=deal_id)
    return redirect("web:order", order_id=order.pk)


def team_detail(request: HttpRequest, team_id: int) -> HttpResponse:
    """A team's page: its members, seats left, time left and the link to share."""
    team = selectors.team_public(team_id=team_id)
    if team is None:
        raise Http404
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('web:login')}?next={request.path}")
        try:
            order = order_services.team_join(
                actor=request.user, team_id=team.pk, idempotency_key=request.POST.get("idempotency_key") or None
            )
        except AppError as exc:
            messages.error(request, str(exc.message))
        else:
            return redirect("web:order", order_id=order.pk)
    members = [o for o in team.orders.all() if o.status in ("pending", "paid", "completed", "refunded")]
    share = request.build_absolute_uri(reverse("web:team", kwargs={"team_id": team.pk}))
    return render(
        request,
        "web/deals/team.html",
        {"team": team, "deal": team.deal, "members": members, "share_url": share, "idempotency_key": _new_key()},
    )


@login_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = get_visible(Order.objects.select_related("deal", "team"), request.user, pk=order_id)
    return render(
        request,
        "web/deals/order.html",
        {"order": order, "pay_url": _pay_url(order), "demo_pay": settings.ORDERS_DEMO_PAY},
    )


@login_required
@require_POST
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        order_services.order_cancel(actor=request.user, order_id=order_id)
    except AppError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Order cancelled; the stock is released."))
    return redirect("web:order", order_id=order_id)


@login_required
@require_POST
def order_demo_pay(request: HttpRequest, order_id: int) -> HttpResponse:
    """Demo only (ORDERS_DEMO_PAY): mark one's own order paid, until the sandbox gateway plugs in."""
    if not settings.ORDERS_DEMO_PAY:
        raise Http404
    order = get_visible(Order.objects.all(), request.user, pk=order_id)
    if order.user_id != request.user.pk:
        raise Http404
    try:
        order_services.order_mark_paid(order_id=order.pk, actor=request.user)
    except AppError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Paid. Thank you!"))
    return redirect("web:order", order_id=order_id)


@login_required
def my_orders(request: HttpRequest) -> HttpResponse:
    page = Paginator(orders_of_member(request.user), 20).get_page(request.GET.get("page"))
    return render(request, "web/deals/my_orders.html", {"page": page})


# -- merchant mini-site (S2) --------------------------------------------------------------------

MINISITE_TABS = [
    ("home", gettext_lazy("Home")),
    ("details", gettext_lazy("Details")),
    ("promotions", gettext_lazy("Promotions")),
    ("deals", gettext_lazy("All deals")),
]


def merchant_site(request: HttpRequest, slug: str, tab: str = "home") -> HttpResponse:
    """商家獨立首頁: home, details, promotions and all deals of one merchant."""
    if tab not in dict(MINISITE_TABS):
        raise Http404
    merchant = get_object_or_404(Merchant.objects.select_related("city"), slug=slug, is_active=True)
    deals = selectors.deal_list_public().filter(merchant=merchant)
    context: dict[str, Any] = {
        "merchant": merchant,
        "tab": tab,
        "tabs": MINISITE_TABS,
        "stores": merchant.stores.all(),
        "deals": deals if tab == "deals" else deals.filter(status__in=Deal.ON_SALE)[:4],
    }
    return render(request, "web/deals/merchant.html", context)
