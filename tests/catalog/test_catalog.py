from __future__ import annotations

from decimal import Decimal

import pytest

from tuangou.catalog.models import PriceList, PriceListItem, Product, price_for
from tuangou.catalog.services import stock_issue, stock_receive
from tuangou.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def wine() -> Product:
    return Product.objects.create(code="W01", name="黃酒", unit="箱", list_price=Decimal("300"), stock_on_hand=10)


def test_price_list_tiers_and_the_list_price(wine: Product) -> None:
    units = PriceList.objects.create(name="單位團購價")
    PriceListItem.objects.create(price_list=units, product=wine, min_quantity=1, price=Decimal("280"))
    PriceListItem.objects.create(price_list=units, product=wine, min_quantity=20, price=Decimal("260"))
    assert price_for(wine, 5, None) == Decimal("300.00")
    assert price_for(wine, 5, units) == Decimal("280.00")
    assert price_for(wine, 20, units) == Decimal("260.00")


def test_stock_never_goes_below_zero_and_all_or_nothing(wine: Product) -> None:
    other = Product.objects.create(code="M01", name="月餅", unit="盒", list_price=Decimal("88"), stock_on_hand=1)
    with pytest.raises(ValidationFailed) as exc:
        stock_issue(items=[(wine.pk, 3), (other.pk, 2)], field="lines")
    assert "lines" in exc.value.errors
    wine.refresh_from_db()
    assert wine.stock_on_hand == 10
    stock_issue(items=[(wine.pk, 3), (wine.pk, 7)])
    wine.refresh_from_db()
    assert wine.stock_on_hand == 0
    stock_receive(product_id=wine.pk, quantity=5)
    wine.refresh_from_db()
    assert wine.stock_on_hand == 5
    with pytest.raises(ValidationFailed):
        stock_receive(product_id=wine.pk, quantity=0)
