"""The deals API end to end: list, detail, create with bad input, review, join with Idempotency-Key."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tuangou.deals.models import Deal
from tuangou.orders.models import Order

pytestmark = pytest.mark.django_db


def _iso(d: dt.datetime) -> str:
    return d.isoformat()


def _payload(merchant, **over):
    now = timezone.now()
    body = {
        "merchant_id": merchant.pk,
        "title": "四人火鍋套餐",
        "original_price": "398.00",
        "group_price": "199.00",
        "stock": 100,
        "tipping_point": 10,
        "per_member_limit": 2,
        "starts_at": _iso(now - dt.timedelta(minutes=1)),
        "ends_at": _iso(now + dt.timedelta(days=3)),
        "tiers": [{"threshold": 20, "price": "189.00"}, {"threshold": 50, "price": "179.00"}],
        "description": "<p>好吃</p><script>alert(1)</script>",
    }
    body.update(over)
    return body


def test_create_review_join_flow(api, merchant, merchant_admin, operator, member):
    r = api.as_user(merchant_admin).post("/api/v1/deals", _payload(merchant))
    assert r.status_code == 201, r.json()
    deal = r.json()
    assert deal["status"] == "draft" and deal["group_price"] == "199.00"
    assert "<script>" not in deal["description"] and "<p>好吃</p>" in deal["description"]
    assert [t["price"] for t in deal["tiers"]] == ["189.00", "179.00"]
    assert api.post(f"/api/v1/deals/{deal['id']}/submit").json()["status"] == "submitted"
    r = api.as_user(merchant_admin).post(f"/api/v1/deals/{deal['id']}/approve")
    assert r.status_code == 403
    r = api.as_user(operator).post(f"/api/v1/deals/{deal['id']}/approve")
    assert r.status_code == 200 and r.json()["status"] == "live"

    api.as_user(member)
    r = api.post(f"/api/v1/deals/{deal['id']}/orders", {"quantity": 2}, headers={"Idempotency-Key": "k-1"})
    assert r.status_code == 201, r.json()
    order = r.json()
    assert order["amount"] == "398.00" and order["status"] == "pending"
    again = api.post(f"/api/v1/deals/{deal['id']}/orders", {"quantity": 2}, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.json()["id"] == order["id"]
    assert Order.objects.count() == 1
    reused = api.post(f"/api/v1/deals/{deal['id']}/orders", {"quantity": 1}, headers={"Idempotency-Key": "k-1"})
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    assert api.get(f"/api/v1/orders/{order['id']}").json()["number"] == order["number"]
    assert [o["id"] for o in api.get("/api/v1/me/orders").json()] == [order["id"]]
    listed = api.get("/api/v1/deals", {"city": "shanghai"}).json()
    assert [d["id"] for d in listed] == [deal["id"]]
    assert listed[0]["available"] == 98 and listed[0]["sold_units"] == 0


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"group_price": "500.00"}, "group_price"),
        ({"group_price": "-1"}, "group_price"),
        ({"original_price": "abc"}, "original_price"),
        ({"stock": 0}, "stock"),
        ({"tipping_point": 101}, "tipping_point"),
        ({"title": ""}, "title"),
        ({"tiers": [{"threshold": 20, "price": "250.00"}]}, "tiers"),
        ({"tiers": [{"threshold": 20, "price": "150.00"}, {"threshold": 40, "price": "160.00"}]}, "tiers"),
        ({"mode": "team", "team_size": 1, "team_hours": 24, "tiers": []}, "team_size"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(api, merchant, merchant_admin, override, field):
    r = api.as_user(merchant_admin).post("/api/v1/deals", _payload(merchant, **override))
    assert r.status_code == 400, r.json()
    assert field in r.json()["errors"], r.json()
    assert Deal.objects.count() == 0


def test_end_before_start(api, merchant, merchant_admin):
    now = timezone.now()
    body = _payload(merchant, starts_at=_iso(now + dt.timedelta(days=2)), ends_at=_iso(now + dt.timedelta(days=1)))
    r = api.as_user(merchant_admin).post("/api/v1/deals", body)
    assert r.status_code == 400 and "ends_at" in r.json()["errors"]
    assert Deal.objects.count() == 0


def test_error_messages_in_the_callers_language(api, merchant, merchant_admin):
    api.as_user(merchant_admin)
    r = api.post("/api/v1/deals", _payload(merchant, group_price="500"), headers={"Accept-Language": "en"})
    assert r.json()["errors"]["group_price"] == ["The group price must be below the original price."]


def test_foreign_merchant_cannot_create_or_see_drafts(api, merchant, make_user):
    other = make_user("merchant")
    r = api.as_user(other).post("/api/v1/deals", _payload(merchant))
    assert r.status_code == 404
    assert Deal.objects.count() == 0


def test_foreign_merchant_cannot_see_or_edit_a_draft(api, deal_factory, make_user):
    deal = deal_factory(live=False)
    api.as_user(make_user("merchant"))
    assert api.get(f"/api/v1/deals/{deal.pk}").status_code == 404
    assert api.patch(f"/api/v1/deals/{deal.pk}", {"title": "x"}).status_code == 404
    assert api.post(f"/api/v1/deals/{deal.pk}/submit").status_code == 404
    assert api.get("/api/v1/deals", {"scope": "manage"}).json() == []


def test_merchant_without_agreement_is_refused(api, make_user):
    from tests.deals.factories import make_merchant

    admin = make_user("merchant")
    merchant = make_merchant(admin=admin, agreement=False)
    r = api.as_user(admin).post("/api/v1/deals", _payload(merchant))
    assert r.status_code == 400 and "merchant" in r.json()["errors"]


def test_edit_narrows_with_state(api, deal_factory, merchant_admin):
    deal = deal_factory()
    api.as_user(merchant_admin)
    r = api.patch(f"/api/v1/deals/{deal.pk}", {"group_price": "1.00"})
    assert r.status_code == 400 and r.json()["code"] == "field_locked"
    r = api.patch(f"/api/v1/deals/{deal.pk}", {"title": "新標題", "stock": 80})
    assert r.status_code == 200 and r.json()["title"] == "新標題"


@pytest.mark.parametrize("quantity", [0, -1, 6])
def test_join_bad_quantity(api, deal_factory, member, quantity):
    deal = deal_factory()
    r = api.as_user(member).post(f"/api/v1/deals/{deal.pk}/orders", {"quantity": quantity})
    assert r.status_code == 400 and "quantity" in r.json()["errors"]
    deal.refresh_from_db()
    assert deal.reserved_units == 0 and Order.objects.count() == 0


def test_join_needs_sign_in(api, deal_factory):
    deal = deal_factory()
    assert api.post(f"/api/v1/deals/{deal.pk}/orders", {"quantity": 1}).status_code == 401


def test_openapi_lists_the_deal_endpoints(api):
    doc = api.get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/cities",
        "/api/v1/deals",
        "/api/v1/deals/{deal_id}",
        "/api/v1/deals/{deal_id}/submit",
        "/api/v1/deals/{deal_id}/approve",
        "/api/v1/deals/{deal_id}/reject",
        "/api/v1/deals/{deal_id}/orders",
        "/api/v1/deals/{deal_id}/teams",
        "/api/v1/teams/{team_id}",
        "/api/v1/teams/{team_id}/orders",
        "/api/v1/orders/{order_id}",
        "/api/v1/me/orders",
    ):
        assert path in doc["paths"], path
    params = doc["paths"]["/api/v1/deals/{deal_id}/orders"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in params)


def test_list_query_count_is_constant(api, deal_factory, django_assert_max_num_queries):
    for _ in range(3):
        deal_factory()
    with django_assert_max_num_queries(4) as few:
        r = api.get("/api/v1/deals")
    assert len(r.json()) == 3
    for _ in range(5):
        deal_factory()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get("/api/v1/deals").json()) == 8
