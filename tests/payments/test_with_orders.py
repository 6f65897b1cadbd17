"""Payments wired to the real deals and orders: pay through the sandbox, then the deal's events
refund by themselves — a failed deal refunds everyone, a closed deal with tiers the difference."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from tests.deals.factories import make_deal, make_merchant
from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.deals import services as deal_services
from tuangou.deals.models import Deal
from tuangou.ledger import selectors
from tuangou.ledger.checks import run_all
from tuangou.orders import services as order_services
from tuangou.orders.models import Order
from tuangou.payments import services
from tuangou.payments.models import Payment, Refund, SandboxRefund

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deal_factory(make_user: Callable[..., User], operator: User) -> Callable[..., Deal]:
    merchant = make_merchant(admin=make_user(Role.MERCHANT))

    def make(**kwargs: Any) -> Deal:
        return make_deal(merchant=merchant, operator=operator, **kwargs)

    return make


def _join_and_pay(deal: Deal, user: User, quantity: int = 1) -> Order:
    order = order_services.deal_join(actor=user, deal_id=deal.pk, quantity=quantity)
    client = Client()
    client.force_login(user)
    to_cashier = client.post(f"/orders/{order.pk}/pay/", {"provider": "sandbox"})
    assert to_cashier.status_code == 302, to_cashier.content
    client.post(to_cashier["Location"], {"outcome": "pay"})
    order.refresh_from_db()
    return order


def _audit_clean() -> None:
    assert [(inv.name, p) for inv, p in run_all() if p] == []


def test_paid_through_sandbox_and_failed_deal_refunds_everyone(deal_factory, make_user) -> None:
    deal = deal_factory(tipping_point=5)
    orders = [_join_and_pay(deal, make_user()) for _ in range(3)]
    assert {o.status for o in orders} == {"paid"}
    assert selectors.balance("escrow") == Decimal("-297.00")
    deal_services.deals_tick(now=deal.ends_at)  # time runs out before the tipping point
    assert Deal.objects.get(pk=deal.pk).status in ("failed", "closed")
    assert Refund.objects.filter(reason="deal_failed", status="succeeded").count() == 3
    assert SandboxRefund.objects.count() == 3
    assert set(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("status", flat=True)) == {"refunded"}
    assert selectors.balance("escrow") == 0
    deal_services.deals_tick(now=deal.ends_at)  # the clock again: nothing more
    services.deal_failed_refund(order_ids=[o.pk for o in orders])  # the event delivered again
    assert SandboxRefund.objects.count() == 3
    _audit_clean()


def test_tiers_at_close_refund_the_difference_once(deal_factory, make_user) -> None:
    deal = deal_factory(tiers=[(3, "90.00"), (5, "80.00")], tipping_point=2)
    orders = [_join_and_pay(deal, make_user()) for _ in range(5)]
    assert [o.unit_price for o in orders] == [Decimal("99.00")] * 3 + [Decimal("90.00")] * 2
    deal_services.deals_tick(now=deal.ends_at)
    refunds = sorted(Refund.objects.filter(reason="tier_difference").values_list("amount", flat=True))
    assert refunds == [Decimal("10.00")] * 2 + [Decimal("19.00")] * 3
    assert selectors.balance("escrow") == Decimal("-400.00")  # 5 × 80.00 stays in escrow
    _audit_clean()


def test_payment_after_the_order_expired_is_refunded(deal_factory, member) -> None:
    deal = deal_factory(tipping_point=5)
    order = order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1)
    _payment, start = services.payment_start(buyer=member, provider="sandbox", order_id=order.pk)
    assert order_services.order_expire(order_id=order.pk, now=order.expires_at)
    Client().post(start.url, {"outcome": "pay"})
    assert Payment.objects.get().status == "succeeded"
    refund = Refund.objects.get()
    assert (refund.reason, refund.status) == ("late_payment", "succeeded")
    assert Order.objects.get(pk=order.pk).status == "expired"
    _audit_clean()
