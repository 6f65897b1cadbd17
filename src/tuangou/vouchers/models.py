"""團購券 vouchers, their verifications at the counter, and wrong-code attempts per store."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tuangou.core.money import MoneyField
from tuangou.core.workflow.engine import StateField
from tuangou.vouchers import codes
from tuangou.vouchers.process import VOUCHER

STATE_LABELS = {
    "new": _("new"),
    "issued": _("valid"),
    "used": _("used"),
    "settled": _("used"),
    "expired": _("expired"),
    "refunded": _("refunded"),
    "lapsed": _("expired"),
}


class Voucher(models.Model):
    """團購券: one unit of a paid order (or one per order), used once at a store that accepts it.

    The code cannot be guessed (63 random bits and a Damm check digit, see `codes`); the state
    moves only along the declared `VOUCHER` process, through the engine, on a row the service
    has locked while it is still in the expected state (``SELECT … WHERE state=… FOR UPDATE``),
    so two counters verifying the same code at the same moment cannot both succeed.
    """

    code = models.CharField(pgettext_lazy("voucher", "code"), max_length=codes.LENGTH, unique=True)
    password = models.CharField(_("password"), max_length=8, blank=True)
    order = models.ForeignKey(
        "orders.Order", verbose_name=_("order"), on_delete=models.PROTECT, related_name="vouchers"
    )
    seq = models.PositiveSmallIntegerField(_("number in the order"), default=1)
    deal = models.ForeignKey("deals.Deal", verbose_name=_("deal"), on_delete=models.PROTECT, related_name="vouchers")
    merchant = models.ForeignKey(
        "merchants.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="vouchers"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("member"), on_delete=models.PROTECT, related_name="vouchers"
    )
    units = models.PositiveSmallIntegerField(_("units"), default=1)
    amount = MoneyField(_("amount paid"))
    state = StateField(_("state"), process=VOUCHER)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"))
    issued_at = models.DateTimeField(_("issued"), auto_now_add=True)
    used_at = models.DateTimeField(pgettext_lazy("time", "used"), null=True, blank=True)
    used_store = models.ForeignKey(
        "merchants.Store", verbose_name=_("used at"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("verified by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    closed_at = models.DateTimeField(_("expired or refunded"), null=True, blank=True)
    sms_sent = models.PositiveSmallIntegerField(_("SMS sent"), default=0)
    resends = models.PositiveSmallIntegerField(_("SMS resent"), default=0)

    class Meta:
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        ordering = ["-issued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["order", "seq"], name="voucher_one_per_order_seq"),
            models.CheckConstraint(condition=Q(resends__lte=5), name="voucher_resend_at_most_5"),
            models.CheckConstraint(condition=Q(valid_until__gte=models.F("valid_from")), name="voucher_valid_window"),
        ]
        indexes = [
            models.Index(fields=["merchant", "state", "used_at"]),
            models.Index(fields=["state", "valid_until"]),
            models.Index(fields=["user", "-issued_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.deal_id}:{codes.display(self.code)[-4:]}"

    @classmethod
    def owned_by(cls, user: Any) -> Q:
        """Members their own; a merchant's admins all its vouchers; clerks those of their store's merchant
        that were used at their store or may be used there; operators and finance all."""
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role
        from tuangou.merchants.models import MerchantMember

        if has_role(user, Role.OPERATOR, Role.FINANCE):
            return Q()
        memberships = MerchantMember.objects.filter(user=user)
        admin = Q(merchant__in=memberships.filter(store__isnull=True).values("merchant"))
        clerk = Q(used_store__in=memberships.filter(store__isnull=False).values("store"))
        return Q(user=user) | admin | clerk

    @property
    def display_code(self) -> str:
        return codes.display(self.code)

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS.get(self.state, self.state))

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day <= self.valid_until

    def accepted_stores(self) -> models.QuerySet[Any]:
        """The deal's stores, or every store of the merchant when the deal names none."""
        from tuangou.merchants.models import Store

        named = Store.objects.filter(deals=self.deal_id)
        return named if named.exists() else Store.objects.filter(merchant_id=self.merchant_id)


class Redemption(models.Model):
    """驗證記錄: one verification at a counter, and its undo if the counter took it back."""

    voucher = models.ForeignKey(
        Voucher, verbose_name=_("voucher"), on_delete=models.PROTECT, related_name="redemptions"
    )
    merchant = models.ForeignKey(
        "merchants.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+"
    )
    store = models.ForeignKey(
        "merchants.Store", verbose_name=_("store"), on_delete=models.PROTECT, related_name="redemptions"
    )
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("clerk"), on_delete=models.PROTECT, related_name="+"
    )
    amount = MoneyField(_("amount"))
    units = models.PositiveSmallIntegerField(_("units"), default=1)
    verified_at = models.DateTimeField(pgettext_lazy("time", "verified"), db_index=True)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("undone by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    undo_reason = models.CharField(_("reason for the undo"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("verification")
        verbose_name_plural = _("verifications")
        ordering = ["-verified_at", "-pk"]
        indexes = [models.Index(fields=["merchant", "verified_at"]), models.Index(fields=["store", "verified_at"])]

    def __str__(self) -> str:
        return f"{self.voucher} @ {self.store_id}"

    @classmethod
    def owned_by(cls, user: Any) -> Q:
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role
        from tuangou.merchants.models import MerchantMember

        if has_role(user, Role.OPERATOR, Role.FINANCE):
            return Q()
        memberships = MerchantMember.objects.filter(user=user)
        return Q(merchant__in=memberships.filter(store__isnull=True).values("merchant")) | Q(
            store__in=memberships.filter(store__isnull=False).values("store")
        )


class WrongCode(models.Model):
    """A well-formed code that matched nothing at this store: a guess (OWASP OAT-002 coupon cracking).

    Kept in the database, not only the cache, so the lockout holds across processes and restarts
    and the back office can see who tried.
    """

    store = models.ForeignKey("merchants.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    code_tail = models.CharField(_("last digits"), max_length=4)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("wrong voucher code")
        verbose_name_plural = _("wrong voucher codes")
        indexes = [models.Index(fields=["store", "at"])]

    def __str__(self) -> str:
        return f"{self.store_id} …{self.code_tail}"
