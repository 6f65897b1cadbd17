"""Money is a Decimal amount of yuan with two places. Never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import models
from django.utils.translation import gettext_lazy as _

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal | int | str) -> Decimal:
    """Return `value` as yuan with two places (half up). Floats are refused: they are not exact."""
    if isinstance(value, float):
        raise TypeError("money must not be built from a float; pass a str or Decimal")
    if isinstance(value, bool):
        raise TypeError("money must not be built from a bool")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount of money: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not an amount of money: {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_yuan(value: Decimal | int | str, *, symbol: str = "¥") -> str:
    """¥1,234.50 — the way a price reads on every page and message."""
    amount = money(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount):,.2f}"


def split_evenly(total: Decimal, parts: int) -> list[Decimal]:
    """Split `total` into `parts` amounts that differ by at most one cent and sum to `total`."""
    if parts <= 0:
        raise ValueError("parts must be positive")
    cents = int(money(total) / CENT)
    base, rest = divmod(cents, parts)
    return [(Decimal(base + (1 if i < rest else 0)) * CENT).quantize(CENT) for i in range(parts)]


class MoneyField(models.DecimalField):
    """A DecimalField for yuan: 14 digits, 2 places."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("help_text", _("Amount in yuan"))
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
