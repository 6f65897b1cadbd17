"""The shops of the vouchers tests, and `tipped` deals whose orders are paid through the sandbox
gateway, so that each order's money is in escrow, as approval of a statement requires."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.deals.factories import make_deal
from tests.payments.test_with_orders import _join_and_pay
from tests.vouchers.conftest import Shop, rival, shop  # noqa: F401 - shared fixtures
from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.deals.models import Deal
from tuangou.orders.models import Order


def pay_through_sandbox(deal: Deal, user: User, quantity: int, on_commit: Any) -> Order:
    """Join `deal` and pay at the sandbox cashier (its notification runs on commit, here when
    `on_commit`, pytest-django's capture of the callbacks, ends): the money is in escrow."""
    with on_commit(execute=True):
        order = _join_and_pay(deal, user, quantity)
    order.refresh_from_db()
    assert order.status == "paid"
    return order


@pytest.fixture
def tipped(
    shop: Shop,  # noqa: F811 - the shared fixture
    operator: User,
    make_user: Callable[..., User],
    django_capture_on_commit_callbacks: Any,
) -> Callable[..., tuple[Deal, list[Order]]]:
    """tipped(quantities=[1, 2], **deal fields) → (deal, orders paid into escrow), vouchers issued."""

    def make(quantities: list[int] | None = None, **overrides: Any) -> tuple[Deal, list[Order]]:
        quantities = quantities or [1]
        overrides.setdefault("tipping_point", len(quantities))
        deal = make_deal(merchant=shop.merchant, operator=operator, **overrides)
        orders = [
            pay_through_sandbox(deal, make_user(Role.MEMBER), q, django_capture_on_commit_callbacks) for q in quantities
        ]
        deal.refresh_from_db()
        return deal, orders

    return make
