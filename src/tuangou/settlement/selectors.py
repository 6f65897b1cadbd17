"""Reads for statements, tallies and disputes."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tuangou.core.errors import NotFound
from tuangou.core.ownership import visible_to
from tuangou.merchants.models import MerchantMember
from tuangou.settlement.models import Dispute, Statement


def statements_visible(user: Any) -> QuerySet[Statement]:
    return visible_to(Statement.objects.select_related("merchant"), user)


def disputes_visible(user: Any) -> QuerySet[Dispute]:
    return visible_to(Dispute.objects.select_related("merchant"), user).prefetch_related("comments__author")


def admin_merchant_id(user: Any, merchant_id: int | None = None) -> int:
    """The merchant a merchant admin acts for (the one named, or their first). 404 otherwise."""
    memberships = MerchantMember.objects.filter(user_id=getattr(user, "pk", 0), store__isnull=True)
    if merchant_id is not None:
        memberships = memberships.filter(merchant_id=merchant_id)
    found = memberships.order_by("merchant_id").values_list("merchant_id", flat=True).first()
    if found is None:
        raise NotFound()
    return int(found)
