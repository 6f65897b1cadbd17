"""產品目錄: products with their unit, price lists and stock on hand.

Shared by the sales desk (S1) and, later, procurement and the warehouse (S3). Stock on hand is
a counter moved only by `catalog.services` with `F()` and never below zero.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from tuangou.core.money import MoneyField


class Product(models.Model):
    """產品: something the group-buy department sells by a unit (箱, 瓶, 份 …)."""

    code = models.CharField(_("product code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    unit = models.CharField(_("unit"), max_length=20, help_text=_("箱, 瓶, 盒, 份 …"))
    list_price = MoneyField(_("list price"))
    stock_on_hand = models.IntegerField(_("stock on hand"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(stock_on_hand__gte=0), name="catalog_product_stock_not_negative"),
            models.CheckConstraint(condition=models.Q(list_price__gte=0), name="catalog_product_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @classmethod
    def owned_by(cls, user: Any) -> models.Q:
        """The catalogue is the company's: every back-office role may read it."""
        from tuangou.accounts.roles import BACK_OFFICE_ROLES
        from tuangou.core.ownership import has_role

        return models.Q() if has_role(user, *BACK_OFFICE_ROLES) else models.Q(pk__in=[])


class PriceList(models.Model):
    """價目表: prices agreed for a class of customers (work units, distributors …)."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PriceListItem(models.Model):
    """A product's price on one price list, from a minimum quantity on (量大價優)."""

    price_list = models.ForeignKey(
        PriceList, verbose_name=_("price list"), on_delete=models.CASCADE, related_name="items"
    )
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="prices")
    min_quantity = models.PositiveIntegerField(_("from quantity"), default=1)
    price = MoneyField(_("unit price"))

    class Meta:
        verbose_name = _("price list item")
        verbose_name_plural = _("price list items")
        ordering = ["price_list", "product", "min_quantity"]
        constraints = [
            models.UniqueConstraint(fields=["price_list", "product", "min_quantity"], name="catalog_price_unique_tier"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="catalog_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.price_list} · {self.product} ≥{self.min_quantity}: {self.price}"


def price_for(product: Product, quantity: int, price_list: PriceList | None) -> Decimal:
    """The unit price for `quantity` of `product`: the best tier reached on the list, else list price."""
    if price_list is not None:
        item = (
            PriceListItem.objects.filter(price_list=price_list, product=product, min_quantity__lte=quantity)
            .order_by("-min_quantity")
            .first()
        )
        if item is not None:
            return item.price
    return product.list_price
