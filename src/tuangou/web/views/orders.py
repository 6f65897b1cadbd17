"""The merchant's orders: every order of its own deals, filtered by deal and state, with Excel export.

A merchant's people see only their merchant's deals' orders (core.ownership on Deal); operators
see every deal's. The list is paginated and its query count does not grow with its rows.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tuangou.accounts.roles import Role
from tuangou.core.ownership import visible_to
from tuangou.deals.models import Deal
from tuangou.orders import exports, selectors
from tuangou.orders.process import ORDER
from tuangou.web.views.backoffice import role_required

EXPORT_LIMIT = 20000


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@role_required(Role.MERCHANT, Role.OPERATOR)
def merchant_orders(request: HttpRequest) -> HttpResponse:
    g = request.GET
    deal_id = _int(g.get("deal"))
    states = dict(ORDER.state_choices)
    status = g.get("status") if g.get("status") in states else None
    qs = selectors.orders_of_merchant_deals(request.user, deal_id=deal_id, status=status)
    if g.get("format") == "xlsx":
        response = HttpResponse(
            exports.merchant_orders_xlsx(qs[:EXPORT_LIMIT]),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = 'attachment; filename="orders.xlsx"'
        return response
    page = Paginator(qs, 50).get_page(g.get("page"))
    rows: list[Any] = list(page.object_list)
    for o in rows:
        o.member_masked = selectors.mask_mobile(o.user.mobile)
        o.status_label = states.get(o.status, o.status)
    deals = visible_to(Deal.objects.all(), request.user).order_by("-pk").values_list("pk", "title")[:300]
    query = "&".join(f"{k}={v}" for k, v in (("deal", deal_id), ("status", status)) if v)
    return render(
        request,
        "web/orders/merchant_orders.html",
        {
            "page": page,
            "rows": rows,
            "deals": deals,
            "deal_id": deal_id,
            "status": status,
            "states": ORDER.state_choices,
            "query": query,
        },
    )


def _urls() -> list[Any]:
    from django.urls import path

    return [path("backoffice/orders/", merchant_orders, name="merchant_orders")]


urlpatterns = _urls()
