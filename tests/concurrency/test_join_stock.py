"""Two buyers can never both get the last unit: 200 real threads race for 50 units on PostgreSQL.

Each thread is a different member joining for one unit at the same moment (a barrier releases
them together). The guarded UPDATE (``reserved + sold + n <= stock``) under the deal's row lock
decides; the Redis gate, when on, turns most of the losers away before they reach the database.
The server allows 100 connections shared with other suites, so at most 40 threads hold one at a
time; all 200 still race.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from tests.concurrency.race import race
from tests.deals.factories import make_deal, make_merchant
from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.deals.models import Deal
from tuangou.orders import gate
from tuangou.orders import services as order_services
from tuangou.orders.models import DealBuyer, Order

THREADS = 200
STOCK = 50


def _race(deal: Deal, users: list[User], quantity: int = 1) -> Counter[str]:
    def buy(user: User) -> Any:
        return lambda: order_services.deal_join(actor=user, deal_id=deal.pk, quantity=quantity)

    return race([("", buy(u)) for u in users])


def _setup(make_user: Any, operator: User, **deal: Any) -> tuple[Deal, list[User]]:
    merchant = make_merchant(admin=make_user(Role.MERCHANT))
    d = make_deal(merchant=merchant, operator=operator, stock=STOCK, tipping_point=1, per_member_limit=1, **deal)
    users = [make_user(Role.MEMBER) for _ in range(THREADS)]
    return d, users


def _assert_exactly_stock(deal: Deal, outcomes: Counter[str]) -> None:
    crashes = {k: v for k, v in outcomes.items() if k.startswith("crash")}
    assert not crashes, crashes
    assert outcomes["ok"] == STOCK, outcomes
    assert outcomes["sold_out"] == THREADS - STOCK, outcomes
    deal.refresh_from_db()
    assert Order.objects.filter(deal=deal).count() == STOCK
    assert deal.reserved_units == STOCK and deal.sold_units == 0
    assert sum(DealBuyer.objects.filter(deal=deal).values_list("reserved_units", flat=True)) == STOCK


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_200_threads_50_units_database_only(make_user, operator, settings):
    settings.REDIS_URL = ""
    deal, users = _setup(make_user, operator)
    outcomes = _race(deal, users)
    _assert_exactly_stock(deal, outcomes)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_200_threads_50_units_with_redis_gate(make_user, operator, settings, monkeypatch):
    import os

    settings.REDIS_URL = os.environ["REDIS_URL"]
    gate._client = None
    deal, users = _setup(make_user, operator)
    gate.reset(deal.pk)
    reached_db = Counter[str]()
    count_lock = threading.Lock()
    real_reserve, real_statement = order_services._reserve_stock, order_services._join_statement

    def counting_reserve(d: Deal, q: int) -> None:
        with count_lock:
            reached_db["n"] += 1
        real_reserve(d, q)

    def counting_statement(*args: Any) -> Any:  # the join in one statement (PostgreSQL), ending with the UPDATE
        with count_lock:
            reached_db["n"] += 1
        return real_statement(*args)

    monkeypatch.setattr(order_services, "_reserve_stock", counting_reserve)
    monkeypatch.setattr(order_services, "_join_statement", counting_statement)
    try:
        outcomes = _race(deal, users)
    finally:
        gate.reset(deal.pk)
        gate._client = None
    _assert_exactly_stock(deal, outcomes)
    # The gate turned the losers away: only the winners reached the guarded UPDATE.
    assert reached_db["n"] == STOCK, reached_db


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_member_racing_never_passes_the_limit(make_user, operator, settings):
    """Twenty tabs of one member, limit 2: exactly two units reserved."""
    settings.REDIS_URL = ""
    merchant = make_merchant(admin=make_user(Role.MERCHANT))
    deal = make_deal(merchant=merchant, operator=operator, stock=STOCK, per_member_limit=2)
    member = make_user(Role.MEMBER)
    outcomes = _race(deal, [member] * 20)
    assert outcomes["ok"] == 2, outcomes
    assert outcomes["over_limit"] == 18, outcomes
    assert Order.objects.filter(deal=deal).count() == 2
