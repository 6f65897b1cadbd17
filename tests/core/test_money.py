from decimal import Decimal

import pytest

from tuangou.core.money import format_yuan, money, split_evenly


@pytest.mark.parametrize(
    ("value", "expected"),
    [("19.9", Decimal("19.90")), (5, Decimal("5.00")), ("0.005", Decimal("0.01")), (Decimal("2.675"), Decimal("2.68"))],
)
def test_money_has_two_places_half_up(value, expected):
    assert money(value) == expected
    assert money(value).as_tuple().exponent == -2


def test_money_refuses_floats_and_garbage():
    with pytest.raises(TypeError):
        money(19.9)
    with pytest.raises(ValueError):
        money("abc")
    with pytest.raises(ValueError):
        money("NaN")


@pytest.mark.parametrize(
    ("value", "text"), [("1234.5", "¥1,234.50"), ("0", "¥0.00"), ("-12", "-¥12.00"), ("1000000", "¥1,000,000.00")]
)
def test_format_yuan(value, text):
    assert format_yuan(value) == text


def test_split_evenly_sums_to_total():
    parts = split_evenly(Decimal("100.00"), 3)
    assert parts == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert sum(parts) == Decimal("100.00")
