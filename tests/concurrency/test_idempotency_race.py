"""A client retrying: the same Idempotency-Key arrives ten times at the same moment (PostgreSQL).

The member is at their limit minus one, so any request that got past the key to the quota would
be refused with ``over_limit``. Claiming the key first makes the retries wait on its unique index
until the first request commits, and then answer with its order: one order, every response the
same order id.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from tests.concurrency.race import race_each
from tests.conftest import ApiClient
from tests.deals.factories import make_deal, make_merchant
from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.accounts.services import api_token_create
from tuangou.deals.models import Deal
from tuangou.orders import services as order_services
from tuangou.orders.models import IdempotencyKey, Order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 10


def _deal_and_member(make_user: Any, operator: User, settings: Any, per_member_limit: int) -> tuple[Deal, User]:
    settings.REDIS_URL = ""
    merchant = make_merchant(admin=make_user(Role.MERCHANT))
    deal = make_deal(merchant=merchant, operator=operator, stock=50, per_member_limit=per_member_limit)
    return deal, make_user(Role.MEMBER)


def _race(deal: Deal, token: str, bodies: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    def send(i: int) -> tuple[int, dict[str, Any]]:
        client = ApiClient()
        client.token = token
        r = client.post(f"/api/v1/deals/{deal.pk}/orders", bodies[i], headers={"Idempotency-Key": "retry-1"})
        return r.status_code, r.json()

    results, outcomes = race_each(len(bodies), send)
    assert outcomes == Counter(ok=len(bodies)), outcomes  # every request answered, none crashed
    return results


@contextlib.contextmanager
def deal_row_held(deal: Deal, seconds: float = 1.0) -> Iterator[None]:
    """Another connection holds the deal's row for `seconds` from the start of the block. A join
    writes the deal's row last (on PostgreSQL the last part of its one statement, after the key
    is claimed), so the first request's claim stays uncommitted until then: the retries surely
    arrive while it is in flight and wait on the key's unique index."""
    locked = threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                list(Deal.objects.select_for_update().filter(pk=deal.pk).values_list("pk", flat=True))
                locked.set()
                time.sleep(seconds)
        finally:
            locked.set()
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    try:
        yield
    finally:
        holder.join(30)


def test_ten_concurrent_retries_get_the_one_order(make_user, operator, settings):
    deal, member = _deal_and_member(make_user, operator, settings, per_member_limit=2)
    order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1)  # at the limit minus one
    token = api_token_create(user=member, name="race")

    with deal_row_held(deal):
        results = _race(deal, token, [{"quantity": 1}] * THREADS)

    assert len(results) == THREADS
    assert all(status in (200, 201) for status, _ in results), results
    ids = {body["id"] for _, body in results}
    assert len(ids) == 1, results
    assert Order.objects.filter(deal=deal).count() == 2  # the earlier one and this one
    assert IdempotencyKey.objects.get(user=member, key="retry-1").order_id == ids.pop()
    deal.refresh_from_db()
    assert deal.reserved_units == 2


def test_concurrent_reuse_with_another_body_gets_409(make_user, operator, settings):
    deal, member = _deal_and_member(make_user, operator, settings, per_member_limit=5)
    token = api_token_create(user=member, name="race")

    with deal_row_held(deal):
        results = _race(deal, token, [{"quantity": 1}] * 5 + [{"quantity": 2}] * 5)

    order = Order.objects.get(deal=deal)  # exactly one, whichever body won
    for status, body in results:
        if status in (200, 201):
            assert body["id"] == order.pk and body["quantity"] == order.quantity, results
        else:
            assert status == 409 and body["code"] == "idempotency_key_reused", results
    assert sum(1 for status, _ in results if status == 409) == 5, results
    deal.refresh_from_db()
    assert deal.reserved_units == order.quantity
