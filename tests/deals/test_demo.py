import pytest
from django.core.management import call_command

from tuangou.deals.models import Deal, Team

pytestmark = pytest.mark.django_db


def test_demo_deals_load_twice():
    call_command("demo_load")
    call_command("demo_load")
    deals = Deal.objects.all()
    assert {d.city.slug for d in deals} == {"shanghai", "hangzhou"}
    assert deals.filter(status="tipped").exists()
    assert deals.filter(status="live", tiers__isnull=False).exists()
    assert Team.objects.filter(status="forming").exists()
    short = deals.get(title__contains="差幾人成團")
    assert 0 < short.to_tip <= 3
    assert deals.count() == 4


def test_demo_buyers_paid_through_the_gateway():
    from django.apps import apps

    from tuangou.orders.models import Order

    call_command("demo_load")
    paid = Order.objects.filter(status="paid")
    assert paid.filter(deal__merchant__slug__in=["laojie-hotpot", "xihu-spa", "chen-photo"]).count() >= 7 + 7 + 3 + 1
    if apps.is_installed("tuangou.payments"):
        from tuangou.payments.models import Payment

        assert Payment.objects.filter(order_id__in=paid.values("pk"), status="succeeded").count() == paid.count()
