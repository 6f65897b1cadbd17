"""Two counters, then fifty, verify the same code at the same moment: exactly one wins.

Real threads, each with its own database connection, on PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.concurrency.race import race_each
from tests.deals.factories import join_and_pay, make_deal
from tests.vouchers.conftest import make_shop
from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.merchants.models import MerchantMember
from tuangou.vouchers import services
from tuangou.vouchers.models import Redemption, Voucher

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(n: int, make_user: Callable[..., User], operator: User) -> tuple[list[Any], Counter[str], Voucher]:
    shop = make_shop(make_user)
    clerks = [shop.clerk, shop.other_clerk]
    stores = [shop.store.pk, shop.other_store.pk]
    for i in range(2, n):
        clerk = make_user(Role.CLERK)
        store = shop.store if i % 2 == 0 else shop.other_store
        MerchantMember.objects.create(merchant=shop.merchant, user=clerk, store=store)
        clerks.append(clerk)
        stores.append(store.pk)
    deal = make_deal(merchant=shop.merchant, operator=operator, tipping_point=1)
    order = join_and_pay(deal, make_user(Role.MEMBER), 1)  # transaction=True: events run at commit
    voucher = Voucher.objects.get(order=order)

    def verify(i: int) -> Voucher:
        return services.voucher_verify(actor=clerks[i], code=voucher.code, store_id=stores[i])

    wins, outcomes = race_each(n, verify)
    voucher.refresh_from_db()
    return wins, outcomes, voucher


def _check(n: int, wins: list[Any], outcomes: Counter[str], voucher: Voucher) -> None:
    assert len(wins) == 1 and isinstance(wins[0], Voucher), outcomes
    assert outcomes["ok"] == 1 and outcomes.total() == n, outcomes
    assert set(outcomes) - {"ok"} <= {"voucher_used", "voucher_not_usable"}, outcomes
    assert voucher.state == "used"
    assert Redemption.objects.filter(voucher=voucher).count() == 1


def test_two_counters_racing_on_one_code(make_user: Callable[..., User], operator: User) -> None:
    _check(2, *_race(2, make_user, operator))


def test_fifty_threads_contesting_one_code(make_user: Callable[..., User], operator: User) -> None:
    _check(50, *_race(50, make_user, operator))
