"""What a join costs the database: its statements, their count, and the deal's row written last.

Every buyer of a deal updates the deal's one row, so a join writes it last: the row stays locked
for the UPDATE and the COMMIT only (see orders/services.py). The counts guard the hot path
through the real API, bearer token included.
"""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tuangou.orders import gate
from tuangou.orders import services as order_services
from tuangou.orders.models import IdempotencyKey, Order

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE")


def _join(api, deal_id: int, key: str):  # type: ignore[no-untyped-def]
    return api.post(f"/api/v1/deals/{deal_id}/orders", {"quantity": 1}, headers={"Idempotency-Key": key})


def _writes(queries: list[dict[str, str]]) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]


PARTS = (
    'INSERT INTO "orders_idempotencykey"',
    'INSERT INTO "orders_dealbuyer"',
    'INSERT INTO "orders_order"',
    'INSERT INTO "core_auditlog"',
    'UPDATE "deals_deal"',
)


def test_a_join_writes_the_deal_row_last(api, deal_factory, member):
    deal = deal_factory(per_member_limit=3)
    api.as_user(member)
    assert _join(api, deal.pk, "first").status_code == 201  # the member's row exists from here
    with CaptureQueriesContext(connection) as captured:
        assert _join(api, deal.pk, "second").status_code == 201
    if connection.vendor == "postgresql":
        # one statement: key, member row, order, audit row, then the deal, each after the one before
        (statement,) = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("WITH ")]
        at = [statement.index(part) for part in PARTS]
        assert at == sorted(at), statement
        assert statement[at[-1] :].count("EXISTS (SELECT 1 FROM audited)") == 1, statement
        return
    writes = _writes(captured.captured_queries)
    deal_writes = [i for i, sql in enumerate(writes) if sql.startswith('UPDATE "deals_deal"')]
    assert deal_writes == [len(writes) - 1], writes


def test_query_counts_of_a_join_and_a_replay(api, deal_factory, member, django_assert_num_queries):
    deal = deal_factory(per_member_limit=3)
    api.as_user(member)
    assert _join(api, deal.pk, "first").status_code == 201
    # the token with the deal, its tiers and the key (one statement, ADR 0017 addendum); then on
    # PostgreSQL one statement (a savepoint around it in tests, nothing in production), elsewhere a
    # transaction (a savepoint in tests, BEGIN/COMMIT in production): key claimed, member's
    # quota, order, key → order, audit, stock
    with django_assert_num_queries(4 if connection.vendor == "postgresql" else 9):
        assert _join(api, deal.pk, "second").status_code == 201
    with django_assert_num_queries(2):  # the token with the deal and the key; the order
        replay = _join(api, deal.pk, "second")
    assert replay.status_code == 201 and replay.json()["id"] == Order.objects.latest("pk").pk


def test_a_sold_out_join_is_one_query(api, deal_factory, member, make_user, django_assert_num_queries):
    deal = deal_factory(stock=1, per_member_limit=1, tipping_point=1)
    api.as_user(make_user())
    assert _join(api, deal.pk, "last-unit").status_code == 201
    api.as_user(member)
    assert api.get("/api/v1/me/orders").status_code == 200  # the token's first use is recorded
    with django_assert_num_queries(1):  # the token with the deal and the key: nothing left
        refused = _join(api, deal.pk, "too-late")
    assert refused.status_code == 409 and refused.json()["code"] == "sold_out"
    assert not IdempotencyKey.objects.filter(key="too-late").exists()


def test_stock_given_back_serves_the_next_join(
    api, deal_factory, member, make_user, django_capture_on_commit_callbacks
):
    """The sold-out answer comes from the counters as read: a cancel gives the unit back at once."""
    deal = deal_factory(stock=1, per_member_limit=1, tipping_point=1)
    buyer = make_user()
    first = order_services.deal_join(actor=buyer, deal_id=deal.pk, quantity=1)
    api.as_user(member)
    assert _join(api, deal.pk, "k").json()["code"] == "sold_out"
    with django_capture_on_commit_callbacks(execute=True):  # the Redis gate, if any, gets it back too
        order_services.order_cancel(actor=buyer, order_id=first.pk)
    again = _join(api, deal.pk, "k")  # the refused request's key was not kept: the retry joins
    assert again.status_code == 201, again.json()


@pytest.mark.redis
def test_a_sold_out_join_with_the_redis_gate_is_one_query(
    api, deal_factory, member, make_user, settings, django_assert_num_queries
):
    settings.REDIS_URL = os.environ["REDIS_URL"]
    gate._client = None
    deal = deal_factory(stock=1, per_member_limit=1, tipping_point=1)
    api.as_user(make_user())
    assert _join(api, deal.pk, "last-unit").status_code == 201
    api.as_user(member)
    assert api.get("/api/v1/me/orders").status_code == 200
    with django_assert_num_queries(1):
        refused = _join(api, deal.pk, "too-late")
    assert refused.status_code == 409 and refused.json()["code"] == "sold_out"
