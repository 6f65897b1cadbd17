"""Idempotency-Key: a replay returns the first order, a reused key for another request is a 409.

The key is claimed as the first write of the join's transaction (INSERT … ON CONFLICT DO
NOTHING); these tests drive that claim on SQLite, the race itself runs on PostgreSQL in
tests/concurrency/test_idempotency_race.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from tuangou.core.errors import Conflict, ValidationFailed
from tuangou.orders import services as order_services
from tuangou.orders.models import IdempotencyKey, Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def late_retry(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """arm(): the next request's first look at the key finds nothing (the first had not committed)."""
    real = order_services._read
    miss = {"next": False}

    def first_look_misses(deal_id: int, user: Any, key: str | None) -> Any:
        found = real(deal_id, user, key)
        if miss["next"]:
            miss["next"] = False
            return dataclasses.replace(found, key=None)
        return found

    monkeypatch.setattr(order_services, "_read", first_look_misses)
    return lambda: miss.update(next=True)


def test_replay_returns_the_first_order(api, deal_factory, member):
    deal = deal_factory(per_member_limit=2)
    api.as_user(member)
    first = api.post(f"/api/v1/deals/{deal.pk}/orders", {"quantity": 2}, headers={"Idempotency-Key": "k"})
    again = api.post(f"/api/v1/deals/{deal.pk}/orders", {"quantity": 2}, headers={"Idempotency-Key": "k"})
    assert first.status_code == 201 and again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Order.objects.filter(deal=deal).count() == 1
    assert IdempotencyKey.objects.get(user=member, key="k").order_id == first.json()["id"]


def test_a_late_retry_at_the_limit_replays_instead_of_over_limit(deal_factory, member, late_retry):
    deal = deal_factory(per_member_limit=2)
    order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1)
    order = order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1, idempotency_key="k")
    late_retry()  # the retry gets past the early look; the claim in the transaction finds the key taken
    assert order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1, idempotency_key="k") == order
    deal.refresh_from_db()
    assert deal.reserved_units == 2 and Order.objects.filter(deal=deal).count() == 2


def test_a_late_retry_with_another_body_is_409(deal_factory, member, late_retry):
    deal = deal_factory(per_member_limit=5)
    order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1, idempotency_key="k")
    late_retry()
    with pytest.raises(Conflict) as exc:
        order_services.deal_join(actor=member, deal_id=deal.pk, quantity=2, idempotency_key="k")
    assert exc.value.code == "idempotency_key_reused"
    assert Order.objects.filter(deal=deal).count() == 1


def test_reused_key_for_another_request_is_409(api, deal_factory, member):
    deal = deal_factory(per_member_limit=5)
    api.as_user(member)
    assert (
        api.post(f"/api/v1/deals/{deal.pk}/orders", {"quantity": 1}, headers={"Idempotency-Key": "k"}).status_code
        == 201
    )
    reused = api.post(f"/api/v1/deals/{deal.pk}/orders", {"quantity": 2}, headers={"Idempotency-Key": "k"})
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    assert Order.objects.filter(deal=deal).count() == 1


def test_a_refused_join_releases_the_key(deal_factory, member):
    """The key is claimed inside the join's transaction: a refusal rolls it back, a retry may succeed."""
    deal = deal_factory(stock=10, per_member_limit=5)
    with pytest.raises(ValidationFailed):
        order_services.deal_join(actor=member, deal_id=deal.pk, quantity=11, idempotency_key="k")
    assert not IdempotencyKey.objects.filter(user=member, key="k").exists()
    order = order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1, idempotency_key="k")
    assert IdempotencyKey.objects.get(user=member, key="k").order_id == order.pk
