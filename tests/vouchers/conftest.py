"""A tipped deal with paid orders and their vouchers, built through the real services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.deals.factories import join_and_pay, make_deal, make_merchant
from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.deals.models import Deal
from tuangou.merchants.models import Merchant, MerchantMember, Store
from tuangou.orders.models import Order
from tuangou.vouchers.models import Voucher


@dataclass
class Shop:
    merchant: Merchant
    admin: User
    store: Store
    clerk: User
    other_store: Store
    other_clerk: User


def make_shop(make_user: Callable[..., User]) -> Shop:
    admin = make_user(Role.MERCHANT)
    merchant = make_merchant(admin=admin)
    store = merchant.stores.get()
    other_store = Store.objects.create(merchant=merchant, name="分店", address="淮海路2號")
    clerk = make_user(Role.CLERK)
    MerchantMember.objects.create(merchant=merchant, user=clerk, store=store)
    other_clerk = make_user(Role.CLERK)
    MerchantMember.objects.create(merchant=merchant, user=other_clerk, store=other_store)
    return Shop(merchant, admin, store, clerk, other_store, other_clerk)


@pytest.fixture
def shop(make_user: Callable[..., User]) -> Shop:
    return make_shop(make_user)


@pytest.fixture
def rival(make_user: Callable[..., User]) -> Shop:
    """Another merchant with its own admin and clerks."""
    return make_shop(make_user)


@pytest.fixture
def tipped(
    shop: Shop, operator: User, make_user: Callable[..., User], django_capture_on_commit_callbacks: Any
) -> Callable[..., tuple[Deal, list[Order]]]:
    """tipped(quantities=[1, 2], **deal fields) → (deal, paid orders), vouchers issued."""

    def make(quantities: list[int] | None = None, **overrides: Any) -> tuple[Deal, list[Order]]:
        quantities = quantities or [1]
        overrides.setdefault("tipping_point", len(quantities))
        deal = make_deal(merchant=shop.merchant, operator=operator, **overrides)
        orders = []
        with django_capture_on_commit_callbacks(execute=True):
            for q in quantities:
                orders.append(join_and_pay(deal, make_user(Role.MEMBER), q))
        deal.refresh_from_db()
        return deal, orders

    return make


def voucher_of(order: Order) -> Voucher:
    return Voucher.objects.filter(order=order).order_by("seq").first()  # type: ignore[return-value]
