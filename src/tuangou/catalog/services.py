"""Changes to the catalogue's stock. Counters move in SQL with `F()`, never below zero."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from tuangou.catalog.models import Product
from tuangou.core.errors import ValidationFailed


def stock_issue(*, items: list[tuple[int, int]], field: str = "quantity") -> None:
    """Take `(product_id, quantity)` out of stock, all or nothing.

    Rule: stock on hand never goes below zero; two shipments racing for the last boxes: one
    wins, the other is refused naming the product. Rows are locked in primary-key order.
    """
    with transaction.atomic():
        wanted: dict[int, int] = {}
        for product_id, quantity in items:
            wanted[product_id] = wanted.get(product_id, 0) + quantity
        products = {p.pk: p for p in Product.objects.select_for_update().filter(pk__in=wanted).order_by("pk")}
        for product_id in sorted(wanted):
            quantity = wanted[product_id]
            if quantity <= 0:
                continue
            moved = Product.objects.filter(pk=product_id, stock_on_hand__gte=quantity).update(
                stock_on_hand=F("stock_on_hand") - quantity
            )
            if not moved:
                product = products[product_id]
                raise ValidationFailed.field(
                    field,
                    _("Not enough %(product)s in stock: %(have)s on hand, %(want)s asked for.")
                    % {"product": product.name, "have": product.stock_on_hand, "want": quantity},
                    code="stock_short",
                )


def stock_receive(*, product_id: int, quantity: int) -> None:
    """Put goods into stock (goods received; procurement will call this)."""
    if quantity <= 0:
        raise ValidationFailed.field("quantity", _("Enter a quantity above zero."), code="quantity_positive")
    Product.objects.filter(pk=product_id).update(stock_on_hand=F("stock_on_hand") + quantity)
