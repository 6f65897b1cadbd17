"""Reads of orders."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tuangou.orders.models import Order


def orders_of_member(user: Any) -> QuerySet[Order]:
    return Order.objects.filter(user=user).select_related("deal", "deal__merchant", "team").order_by("-pk")
