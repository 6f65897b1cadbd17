"""Reads of orders."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tuangou.orders.models import Order


def orders_of_member(user: Any) -> QuerySet[Order]:
    return Order.objects.filter(user=user).select_related("deal", "deal__merchant", "team").order_by("-pk")


VOUCHER_USED_STATES = ("used", "settled")


def orders_of_merchant_deals(user: Any, *, deal_id: int | None = None, status: str | None = None) -> QuerySet[Order]:
    """The orders of the deals `user` may manage (core.ownership on Deal: a merchant's people see
    their merchant's deals, operators every deal), newest first, with vouchers issued and used.

    Not `Order.owned_by`: a merchant's own purchases as a member are not the merchant's orders.
    Constant queries: the deal, merchant and member come by join, the voucher counts by subquery.
    """
    from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    from tuangou.core.ownership import visible_to
    from tuangou.deals.models import Deal
    from tuangou.vouchers.models import Voucher

    deals = visible_to(Deal.objects.all(), user).values("pk")
    qs = Order.objects.filter(deal__in=deals)
    if deal_id:
        qs = qs.filter(deal_id=deal_id)
    if status:
        qs = qs.filter(status=status)

    def count(**filters: Any) -> Any:
        sub = (
            Voucher.objects.filter(order=OuterRef("pk"), **filters)
            .order_by()
            .values("order")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))

    return (
        qs.select_related("deal", "deal__merchant", "user")
        .annotate(vouchers_issued=count(), vouchers_used=count(state__in=VOUCHER_USED_STATES))
        .order_by("-created_at", "-pk")
    )


def mask_mobile(mobile: str) -> str:
    """A buyer's mobile as the merchant sees it: 138****0000."""
    mobile = mobile or ""
    return mobile[:3] + "****" + mobile[-4:] if len(mobile) >= 8 else mobile[:1] + "***"
