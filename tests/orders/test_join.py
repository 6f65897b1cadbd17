"""Joining: reservations, payment (S5: sold counts paid), limits, conditions, expiry, tiers."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.deals.factories import join_and_pay
from tuangou.core import events
from tuangou.core.errors import Conflict, Forbidden, ValidationFailed
from tuangou.deals import selectors, services
from tuangou.deals.models import Deal
from tuangou.orders import services as order_services
from tuangou.orders.models import DealBuyer, Order

pytestmark = pytest.mark.django_db


def test_reservation_holds_stock_payment_counts_as_sold(deal_factory, member):
    deal = deal_factory(stock=10, per_member_limit=3)
    order = order_services.deal_join(actor=member, deal_id=deal.pk, quantity=3)
    deal.refresh_from_db()
    assert (deal.reserved_units, deal.sold_units, deal.buyers, deal.available) == (3, 0, 0, 7)
    order_services.order_mark_paid(order_id=order.pk)
    deal.refresh_from_db()
    assert (deal.reserved_units, deal.sold_units, deal.buyers, deal.available) == (0, 3, 1, 7)
    # Paying twice (a duplicate notification) changes nothing.
    order_services.order_mark_paid(order_id=order.pk)
    deal.refresh_from_db()
    assert (deal.sold_units, deal.buyers) == (3, 1)


def test_per_member_limit_counts_earlier_orders(deal_factory, member):
    deal = deal_factory(per_member_limit=3)
    join_and_pay(deal, member, 2)
    with pytest.raises(ValidationFailed) as exc:
        order_services.deal_join(actor=member, deal_id=deal.pk, quantity=2)
    assert exc.value.code == "over_limit" and "quantity" in exc.value.errors
    deal.refresh_from_db()
    assert deal.reserved_units == 0 and Order.objects.count() == 1
    order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1)


def test_same_member_second_order_does_not_count_twice_as_buyer(deal_factory, member):
    deal = deal_factory(per_member_limit=3, tipping_point=2)
    join_and_pay(deal, member, 1)
    join_and_pay(deal, member, 1)
    deal.refresh_from_db()
    assert deal.buyers == 1 and deal.sold_units == 2 and deal.status == "live"


def test_not_enough_stock_names_quantity(deal_factory, make_user):
    deal = deal_factory(stock=3, per_member_limit=3, tipping_point=1)
    order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=2)
    with pytest.raises(ValidationFailed) as exc:
        order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=2)
    assert exc.value.errors["quantity"] and exc.value.code == "not_enough_stock"
    order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=1)
    with pytest.raises(Conflict) as sold_out:
        order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=1)
    assert sold_out.value.code == "sold_out"


def test_new_members_only(deal_factory, member):
    first = deal_factory()
    join_and_pay(first, member)
    newcomers = deal_factory(new_members_only=True)
    with pytest.raises(Forbidden):
        order_services.deal_join(actor=member, deal_id=newcomers.pk, quantity=1)


def test_unpaid_order_expires_and_gives_stock_back(deal_factory, member, django_capture_on_commit_callbacks):
    deal = deal_factory(stock=5, per_member_limit=5)
    order = order_services.deal_join(actor=member, deal_id=deal.pk, quantity=4)
    assert abs(order.expires_at - order.created_at - dt.timedelta(minutes=15)) < dt.timedelta(seconds=2)
    assert order_services.orders_expire_due(now=order.expires_at - dt.timedelta(seconds=1)) == 0
    with events.capture() as seen, django_capture_on_commit_callbacks(execute=True):
        assert order_services.orders_expire_due(now=order.expires_at) == 1
    assert seen == [("order.expired", {"order_id": order.pk, "deal_id": deal.pk})]
    deal.refresh_from_db()
    order.refresh_from_db()
    assert order.status == "expired" and deal.reserved_units == 0 and deal.available == 5
    assert DealBuyer.objects.get(deal=deal, user=member).reserved_units == 0
    assert order_services.orders_expire_due(now=order.expires_at) == 0
    with pytest.raises(Conflict):
        order_services.order_mark_paid(order_id=order.pk)
    # The quota is free again.
    order_services.deal_join(actor=member, deal_id=deal.pk, quantity=5)


def test_payment_minutes_are_configurable(deal_factory, member, settings):
    settings.ORDERS_PAYMENT_MINUTES = 30
    order = order_services.deal_join(actor=member, deal_id=deal_factory().pk, quantity=1)
    assert abs(order.expires_at - order.created_at - dt.timedelta(minutes=30)) < dt.timedelta(seconds=2)


def test_cancel_gives_stock_back_only_for_its_owner(deal_factory, member, make_user):
    deal = deal_factory()
    order = order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1)
    from tuangou.core.errors import NotFound

    with pytest.raises(NotFound):
        order_services.order_cancel(actor=make_user(), order_id=order.pk)
    order_services.order_cancel(actor=member, order_id=order.pk)
    deal.refresh_from_db()
    assert deal.reserved_units == 0 and Order.objects.get(pk=order.pk).status == "cancelled"


# -- volume tiers (量大價優) -------------------------------------------------------------------

TIERS = [(3, "90.00"), (5, "80.00")]


@pytest.mark.parametrize(
    ("paid_people", "price"),
    [(0, "99.00"), (2, "99.00"), (3, "90.00"), (4, "90.00"), (5, "80.00"), (6, "80.00")],
)
def test_tier_boundaries(deal_factory, make_user, paid_people, price):
    deal = deal_factory(tiers=TIERS, tipping_point=1)
    for _ in range(paid_people):
        join_and_pay(deal, make_user())
    deal = Deal.objects.prefetch_related("tiers").get(pk=deal.pk)
    assert deal.current_price == Decimal(price)
    assert order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=1).unit_price == Decimal(price)


def test_tiers_counted_in_units(deal_factory, make_user):
    deal = deal_factory(tiers=[(4, "90.00")], count_basis="units", per_member_limit=4, tipping_point=1)
    join_and_pay(deal, make_user(), 3)
    assert Deal.objects.get(pk=deal.pk).current_price == Decimal("99.00")
    join_and_pay(deal, make_user(), 1)
    assert Deal.objects.get(pk=deal.pk).current_price == Decimal("90.00")


def test_close_with_tiers_refunds_the_difference(deal_factory, make_user, django_capture_on_commit_callbacks):
    deal = deal_factory(tiers=TIERS, tipping_point=2)
    early = [join_and_pay(deal, make_user()) for _ in range(3)]  # 99, 99, 99 (tier reached after 3rd)
    later = [join_and_pay(deal, make_user()) for _ in range(2)]  # 90, 90 → 5 people: 80
    assert [o.unit_price for o in early + later] == [Decimal("99.00")] * 3 + [Decimal("90.00")] * 2
    with events.capture() as seen, django_capture_on_commit_callbacks(execute=True):
        services.deals_tick(now=deal.ends_at)
    assert ("deal.closed", {"deal_id": deal.pk, "tipped": True, "final_unit_price": "80.00"}) in seen
    differences = dict(selectors.deal_tier_differences(deal_id=deal.pk))
    assert differences == {
        **{o.pk: Decimal("19.00") for o in early},
        **{o.pk: Decimal("10.00") for o in later},
    }


def test_deal_is_not_closed_by_reservations_alone(deal_factory, make_user):
    deal = deal_factory(stock=2, per_member_limit=2, tipping_point=1)
    order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=2)
    services.deals_tick(now=timezone.now())
    assert Deal.objects.get(pk=deal.pk).status == "live"


def test_paid_and_refunded_are_announced(deal_factory, member, django_capture_on_commit_callbacks):
    deal = deal_factory(tipping_point=5)
    order = order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1)
    with events.capture() as seen, django_capture_on_commit_callbacks(execute=True):
        order_services.order_mark_paid(order_id=order.pk)
    assert seen == [("order.paid", {"order_id": order.pk, "deal_id": deal.pk})]
    order_services.order_mark_refunded(order_id=order.pk, note="deal failed")
    order_services.order_mark_refunded(order_id=order.pk)
    assert Order.objects.get(pk=order.pk).status == "refunded"


@pytest.mark.redis
def test_redis_gate_counts_with_the_database(deal_factory, make_user, settings, django_capture_on_commit_callbacks):
    import os

    from tuangou.orders import gate

    settings.REDIS_URL = os.environ["REDIS_URL"]
    gate._client = None
    deal = deal_factory(stock=3, per_member_limit=3, tipping_point=1)
    first = order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=2)
    with pytest.raises(ValidationFailed):  # 1 left, 2 asked: the database names the quantity
        order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=2)
    order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=1)
    with pytest.raises(Conflict) as exc:  # nothing left: refused on the counters read
        order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=1)
    assert exc.value.code == "sold_out"
    with django_capture_on_commit_callbacks(execute=True):  # after commit, the cancel gives 2 back
        order_services.order_cancel(actor=first.user, order_id=first.pk)
    order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=2)


def test_a_sold_out_answer_is_not_logged_as_a_client_error(api, deal_factory, member, make_user, caplog):
    """django.request writes a WARNING per 4xx; a 409 (an answer about the state) is left out."""
    deal = deal_factory(stock=1, per_member_limit=1, tipping_point=1)
    order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=1)
    api.as_user(member)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert api.post(f"/api/v1/deals/{deal.pk}/orders", {"quantity": 1}).status_code == 409
        assert api.post(f"/api/v1/deals/{deal.pk + 1000}/orders", {"quantity": 1}).status_code == 404
    logged = [(r.name, r.levelname, getattr(r, "status_code", None)) for r in caplog.records]
    assert logged == [("django.request", "WARNING", 404)], logged
