"""A join's read rides on the bearer token's statement (ADR 0017 addendum): the token, the user's
roles, the deal with its tiers and the member's Idempotency-Key in one round trip."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.deals.factories import join_and_pay
from tests.orders.test_join import TIERS
from tuangou.accounts import services as account_services
from tuangou.accounts.roles import Role
from tuangou.core.ownership import roles_of
from tuangou.orders import services as order_services
from tuangou.orders.models import Order

pytestmark = pytest.mark.django_db


def _join(api, deal_id: int, key: str):  # type: ignore[no-untyped-def]
    return api.post(f"/api/v1/deals/{deal_id}/orders", {"quantity": 1}, headers={"Idempotency-Key": key})


def test_a_member_with_two_roles_joins_a_deal_with_tiers_in_one_read(api, deal_factory, make_user):
    """Rows of the token's statement: one per role times one per tier; the price counts each tier once."""
    deal = deal_factory(tiers=TIERS, tipping_point=1)
    for _ in range(3):
        join_and_pay(deal, make_user())  # 3 paid: the first tier's price
    member = make_user(Role.MEMBER)
    account_services.user_grant_role(user=member, role=Role.MERCHANT)
    api.as_user(member)
    with CaptureQueriesContext(connection) as captured:
        joined = _join(api, deal.pk, "two-roles")
    assert joined.status_code == 201, joined.json()
    assert Decimal(joined.json()["unit_price"]) == Decimal("90.00")
    first = captured.captured_queries[0]["sql"]
    assert "accounts_apitoken" in first and "deals_dealtier" in first and "orders_idempotencykey" in first
    again = _join(api, deal.pk, "two-roles")  # the replay, found by the same read
    assert again.status_code == 201 and again.json()["id"] == joined.json()["id"]


def test_the_token_read_with_rows_alongside_keeps_the_roles(make_user, deal_factory):
    deal = deal_factory(tiers=TIERS)
    user = make_user(Role.MEMBER)
    account_services.user_grant_role(user=user, role=Role.OPERATOR)
    key = account_services.api_token_create(user=user)
    found, rows = account_services.api_token_user_with(key, order_services.join_alongside(deal.pk, None))
    assert found == user and roles_of(found) == {Role.MEMBER.value, Role.OPERATOR.value}
    assert len(rows) == len(TIERS)  # once per tier, not once per tier and role
    assert account_services.api_token_user_with(key + "x", order_services.join_alongside(deal.pk, None)) == (None, [])


def test_a_read_made_for_another_deal_or_key_is_not_used(make_user, deal_factory):
    first, second = deal_factory(), deal_factory()
    user = make_user()
    token = account_services.api_token_create(user=user)
    alongside = order_services.join_alongside(first.pk, "k1")
    found, rows = account_services.api_token_user_with(token, alongside)
    assert found is not None
    read = (alongside, rows, found.pk)
    order = order_services.deal_join(actor=found, deal_id=second.pk, quantity=1, idempotency_key="k1", read=read)
    assert order.deal_id == second.pk
    other = order_services.deal_join(actor=found, deal_id=first.pk, quantity=1, idempotency_key="k2", read=read)
    assert other.deal_id == first.pk and other.pk != order.pk
    assert Order.objects.filter(user=user).count() == 2


def test_a_stale_key_in_the_read_still_finds_the_order(make_user, deal_factory):
    """The read says the key is free; meanwhile the same request committed: the claim replays it."""
    deal = deal_factory()
    user = make_user()
    token = account_services.api_token_create(user=user)
    alongside = order_services.join_alongside(deal.pk, "same")
    found, rows = account_services.api_token_user_with(token, alongside)
    assert found is not None
    first = order_services.deal_join(actor=found, deal_id=deal.pk, quantity=1, idempotency_key="same")
    again = order_services.deal_join(
        actor=found, deal_id=deal.pk, quantity=1, idempotency_key="same", read=(alongside, rows, found.pk)
    )
    assert again.pk == first.pk and Order.objects.filter(user=user).count() == 1


def test_a_bad_bearer_token_falls_back_to_the_session(make_user, deal_factory):
    deal = deal_factory()
    user = make_user()
    browser = Client()
    browser.force_login(user)
    joined = browser.post(
        f"/api/v1/deals/{deal.pk}/orders",
        json.dumps({"quantity": 1}),
        content_type="application/json",
        headers={"Authorization": "Bearer not-a-token", "Idempotency-Key": "s"},
    )
    assert joined.status_code == 201, joined.content
    assert Order.objects.get(pk=joined.json()["id"]).user_id == user.pk


def test_a_join_with_a_bad_token_and_no_session_is_401(api, deal_factory):
    deal = deal_factory()
    api.token = "not-a-token"
    refused = _join(api, deal.pk, "x")
    assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"
