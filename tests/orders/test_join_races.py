"""Joins racing payments, cancels and expiries of the same members on one deal, on PostgreSQL.

A join writes the deal's row last (member row, order, key, audit, then the guarded stock
UPDATE); a payment, a cancel and an expiry lock the order, the member row, then the deal. This
test runs all four at once for the same members with real threads: nothing deadlocks (a deadlock
is an error of one of them), nothing oversells, and the deal's and every member's counters add
up to their orders afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Sum

from tests.concurrency.race import race
from tests.deals.factories import make_deal, make_merchant
from tuangou.accounts.roles import Role
from tuangou.deals.models import Deal
from tuangou.orders import services as order_services
from tuangou.orders.models import DealBuyer, Order

MEMBERS = 20
HELD = 3  # pending orders per member before the race: one is paid, one cancelled, one expired
JOINS = 2  # joins per member in the race
STOCK = MEMBERS * HELD + 5  # joins before the cancels and expiries find it sold out

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _work(deal: Deal, member: Any, pay: Order, cancel: Order, expire: Order) -> list[Callable[[], Any]]:
    def join() -> None:
        order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1)

    def pay_order() -> None:
        order_services.order_mark_paid(order_id=pay.pk)

    def cancel_order() -> None:
        order_services.order_cancel(actor=member, order_id=cancel.pk)

    def expire_order() -> None:
        assert order_services.order_expire(order_id=expire.pk, now=expire.expires_at + dt.timedelta(seconds=1))

    return [pay_order, cancel_order, expire_order, *([join] * JOINS)]


def test_joins_payments_cancels_and_expiries_of_the_same_members_never_deadlock(make_user, operator, settings):
    settings.REDIS_URL = ""
    merchant = make_merchant(admin=make_user(Role.MERCHANT))
    deal = make_deal(
        merchant=merchant, operator=operator, stock=STOCK, tipping_point=MEMBERS // 2, per_member_limit=HELD + 1
    )
    work: list[Callable[[], Any]] = []
    for _ in range(MEMBERS):
        member = make_user(Role.MEMBER)
        held = [order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1) for _ in range(HELD)]
        work += _work(deal, member, *held)

    outcomes = race([(fn.__name__, fn) for fn in work])

    crashes = {k: v for k, v in outcomes.items() if k.startswith("crash")}
    assert not crashes, crashes
    assert outcomes["pay_order:ok"] == outcomes["cancel_order:ok"] == outcomes["expire_order:ok"] == MEMBERS
    refused = outcomes["join:over_limit"] + outcomes["join:sold_out"]
    assert outcomes["join:ok"] > 0 and outcomes["join:ok"] + refused == MEMBERS * JOINS, outcomes
    deal.refresh_from_db()
    orders = Order.objects.filter(deal=deal)
    pending = orders.filter(status="pending").aggregate(n=Sum("quantity"))["n"] or 0
    paid = orders.filter(status="paid").aggregate(n=Sum("quantity"))["n"] or 0
    assert (deal.reserved_units, deal.sold_units) == (pending, paid) == (outcomes["join:ok"], MEMBERS)
    assert deal.reserved_units + deal.sold_units <= deal.stock
    assert deal.buyers == MEMBERS and deal.status == "tipped"
    for row in DealBuyer.objects.filter(deal=deal):
        mine = orders.filter(user_id=row.user_id)
        assert row.reserved_units == mine.filter(status="pending").count()
        assert row.paid_units == mine.filter(status="paid").count() == 1
        assert row.reserved_units + row.paid_units <= deal.per_member_limit
