"""Deals built through the real services: a merchant with an agreement, a live deal, paid orders."""

from __future__ import annotations

import datetime as dt
from itertools import count
from typing import Any

from django.utils import timezone

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.core.models import City
from tuangou.deals import services
from tuangou.deals.models import Category, Deal
from tuangou.merchants.models import Agreement, Merchant, MerchantMember, Store
from tuangou.orders import services as order_services
from tuangou.orders.models import Order

_n = count(1)


def make_merchant(*, admin: User, city: City | None = None, agreement: bool = True) -> Merchant:
    i = next(_n)
    city = city or City.objects.get_or_create(slug="shanghai", defaults={"name": "上海"})[0]
    merchant = Merchant.objects.create(name=f"商家{i}", slug=f"m-{i}", city=city)
    Store.objects.create(merchant=merchant, name="總店", address="南京東路1號")
    MerchantMember.objects.create(merchant=merchant, user=admin)
    if agreement:
        today = timezone.localdate()
        Agreement.objects.create(
            merchant=merchant,
            commission_rate=10,
            valid_from=today - dt.timedelta(days=30),
            valid_until=today + dt.timedelta(days=365),
            signed_at=timezone.now(),
        )
    return merchant


def deal_values(**overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    values: dict[str, Any] = {
        "title": "雙人火鍋套餐",
        "original_price": "200.00",
        "group_price": "99.00",
        "stock": 50,
        "tipping_point": 3,
        "per_member_limit": 5,
        "starts_at": now - dt.timedelta(minutes=1),
        "ends_at": now + dt.timedelta(days=2),
    }
    values.update(overrides)
    return values


def make_deal(
    *,
    merchant: Merchant,
    operator: User,
    live: bool = True,
    tiers: list[tuple[int, str]] | None = None,
    **overrides: Any,
) -> Deal:
    admin = merchant.members.filter(store__isnull=True).first().user  # type: ignore[union-attr]
    category = Category.objects.get_or_create(slug="food", defaults={"name": "美食"})[0]
    deal = services.deal_create(
        actor=admin, merchant_id=merchant.pk, tiers=tiers or [], category_id=category.pk, **deal_values(**overrides)
    )
    if live:
        services.deal_submit(actor=admin, deal_id=deal.pk)
        services.deal_approve(actor=operator, deal_id=deal.pk)
    deal.refresh_from_db()
    return deal


def join_and_pay(deal: Deal, user: User, quantity: int = 1) -> Order:
    order = order_services.deal_join(actor=user, deal_id=deal.pk, quantity=quantity)
    return order_services.order_mark_paid(order_id=order.pk)


__all__ = ["Role", "deal_values", "join_and_pay", "make_deal", "make_merchant"]
