"""Orders placed by joining a deal, the member's standing in a deal, and idempotency keys."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tuangou.core.money import MoneyField
from tuangou.core.workflow.engine import StateField
from tuangou.deals.models import Deal, Team
from tuangou.orders.process import ORDER


class Order(models.Model):
    """訂單: a member's join of a deal for a quantity, at the unit price of that moment.

    While ``pending`` it holds `quantity` units of the deal's stock (``Deal.reserved_units``);
    paid, it counts as sold (S5 數量+1); unpaid past `expires_at`, it expires and gives them back.
    """

    number = models.CharField(_("order number"), max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("member"), on_delete=models.PROTECT, related_name="deal_orders"
    )
    deal = models.ForeignKey(Deal, verbose_name=_("deal"), on_delete=models.PROTECT, related_name="orders")
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    is_leader = models.BooleanField(_("team leader"), default=False)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = MoneyField(_("unit price"))
    amount = MoneyField(_("amount"))
    status = StateField(_("status"), process=ORDER)
    created_at = models.DateTimeField(_("placed"), auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField(_("pay before"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["deal", "status"]),
            models.Index(fields=["user", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_quantity_positive"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return self.number

    @classmethod
    def owned_by(cls, user: Any) -> Q:
        """A member sees their orders; a merchant's people the orders of its deals; operators all."""
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role

        if has_role(user, Role.OPERATOR, Role.FINANCE):
            return Q()
        from tuangou.merchants.models import Merchant

        # A subquery, not a join: a merchant's several members must not repeat an order.
        return Q(user=user) | Q(deal__merchant__in=Merchant.objects.filter(members__user=user).values("pk"))


class DealBuyer(models.Model):
    """A member's standing in one deal: units held by unpaid orders and units paid.

    The per-member limit is enforced on this row with a guarded update, so two tabs of the same
    member cannot both slip past it; `paid_units` going from zero to more counts a new buyer.
    """

    deal = models.ForeignKey(Deal, verbose_name=_("deal"), on_delete=models.CASCADE, related_name="buyer_rows")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+"
    )
    reserved_units = models.PositiveIntegerField(_("units reserved"), default=0)
    paid_units = models.PositiveIntegerField(_("units paid"), default=0)

    class Meta:
        verbose_name = _("deal buyer")
        verbose_name_plural = _("deal buyers")
        constraints = [
            models.UniqueConstraint(fields=["deal", "user"], name="deal_buyer_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.deal}"


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` a client sent with a request that creates something.

    Unique per user and key: the same request twice (a retry, a double click, two racing
    retries) finds the first one's result instead of creating a second order. The fingerprint
    of the request refuses a key reused for a different request.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(_("key"), max_length=100)
    scope = models.CharField(_("scope"), max_length=40)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    order = models.ForeignKey(
        Order, verbose_name=_("order"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique")]

    def __str__(self) -> str:
        return self.key
