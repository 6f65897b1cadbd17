"""結算單 settlement statements and 對賬 reconciliation of the merchant's own tally."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tuangou.core.money import MoneyField
from tuangou.core.workflow.engine import StateField
from tuangou.settlement.process import STATEMENT


def _merchant_admins_and_staff(user: Any, *, clerks: bool) -> Q:
    from tuangou.accounts.roles import Role
    from tuangou.core.ownership import has_role
    from tuangou.merchants.models import MerchantMember

    if has_role(user, Role.OPERATOR, Role.FINANCE):
        return Q()
    members = MerchantMember.objects.filter(user=user)
    if not clerks:
        members = members.filter(store__isnull=True)
    return Q(merchant__in=members.values("merchant"))


class Statement(models.Model):
    """結算單: what the platform owes one merchant for one settlement period.

    gross (verified or sold amount) − refunds − commission = payable. Commission follows the
    merchant's agreement: a rate of sales, or an amount per person (S4 按人數獲得提成); a deal's
    settlement price (結算價) or commission rate override wins over the agreement.
    """

    class Basis(models.TextChoices):
        VERIFIED = "verified", _("Verified vouchers")
        SOLD = "sold", _("Vouchers sold")

    merchant = models.ForeignKey(
        "merchants.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="statements"
    )
    number = models.CharField(_("statement number"), max_length=40, unique=True)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to (inclusive)"))
    basis = models.CharField(_("basis"), max_length=10, choices=Basis.choices, default=Basis.VERIFIED)
    commission_kind = models.CharField(_("commission kind"), max_length=12)
    commission_rate = models.DecimalField(_("commission rate (%)"), max_digits=5, decimal_places=2, default=0)
    commission_per_person = MoneyField(_("commission per person"), default=0)
    units = models.PositiveIntegerField(_("units"), default=0)
    gross = MoneyField(_("amount"), default=0)
    refund_units = models.PositiveIntegerField(_("units refunded"), default=0)
    refunds = MoneyField(_("refunds"), default=0)
    commission = MoneyField(_("commission"), default=0)
    payable = MoneyField(_("payable"), default=0)
    state = StateField(_("state"), process=STATEMENT)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("confirmed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    dispute_note = models.TextField(_("dispute note"), blank=True)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("paid by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    payout_reference = models.CharField(_("payout reference"), max_length=80, blank=True)
    # The vouchers on the statement, by rule (ADR 0014): the merchant's vouchers whose time
    # (used_at for the verified basis; issued_at for sales and closed_at for refunds on the sold
    # basis) is in [since, cut_off). A merchant's ranges never overlap, so no voucher is on two.
    since = models.DateTimeField(_("since"))
    cut_off = models.DateTimeField(_("cut-off"))

    class Meta:
        verbose_name = _("settlement statement")
        verbose_name_plural = _("settlement statements")
        ordering = ["-period_end", "merchant", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "period_start", "period_end"], name="statement_one_per_merchant_period"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="statement_period_order"
            ),
            models.CheckConstraint(condition=Q(cut_off__gte=models.F("since")), name="statement_range_order"),
        ]
        indexes = [models.Index(fields=["merchant", "since", "cut_off"], name="statement_merchant_range")]

    def __str__(self) -> str:
        return self.number

    @classmethod
    def owned_by(cls, user: Any) -> Q:
        """Operators and finance all; a merchant's admins theirs; clerks none."""
        return _merchant_admins_and_staff(user, clerks=False)


class StatementLine(models.Model):
    """One line of a statement: the vouchers of one deal used at one store (sold, or refunded,
    on the sold basis) at one price and number of units each, counted and summed. Which
    vouchers they are follows from the statement's rule (`Statement.since`/`cut_off`)."""

    class Kind(models.TextChoices):
        SALE = "sale", _("Sale or verification")
        REFUND = "refund", _("Refund")

    statement = models.ForeignKey(
        Statement, verbose_name=_("statement"), on_delete=models.CASCADE, related_name="lines"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SALE)
    deal = models.ForeignKey("deals.Deal", verbose_name=_("deal"), on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(
        "merchants.Store", verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    price = MoneyField(_("price"))
    vouchers = models.PositiveIntegerField(_("vouchers"))
    units = models.PositiveIntegerField(_("units"))
    amount = MoneyField(_("amount"))
    commission = MoneyField(_("commission"), default=0)

    class Meta:
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")
        ordering = ["statement", "kind", "deal", "store", "price", "pk"]

    def __str__(self) -> str:
        return f"{self.statement} {self.deal_id} × {self.vouchers}"

    @property
    def units_each(self) -> int:
        """Units per voucher (the same for every voucher of the line)."""
        return self.units // self.vouchers if self.vouchers else 0


class Tally(models.Model):
    """商家記錄銷售情況: the merchant's own count of vouchers taken on one day (at one store or all)."""

    merchant = models.ForeignKey(
        "merchants.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="tallies"
    )
    day = models.DateField(_("day"))
    units = models.PositiveIntegerField(_("units"))
    amount = MoneyField(_("amount"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded"), auto_now=True)

    class Meta:
        verbose_name = _("merchant tally")
        verbose_name_plural = _("merchant tallies")
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["merchant", "day"], name="tally_one_per_merchant_day")]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.day}"

    @classmethod
    def owned_by(cls, user: Any) -> Q:
        return _merchant_admins_and_staff(user, clerks=False)


class Dispute(models.Model):
    """對賬差異: a day on which the merchant's tally and the platform's records differ, disputed."""

    class State(models.TextChoices):
        OPEN = "open", _("open")
        RESOLVED = "resolved", _("resolved")

    merchant = models.ForeignKey(
        "merchants.Merchant", verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="disputes"
    )
    day = models.DateField(_("day"))
    platform_units = models.IntegerField(_("platform units"))
    platform_amount = MoneyField(_("platform amount"))
    merchant_units = models.IntegerField(_("merchant units"))
    merchant_amount = MoneyField(_("merchant amount"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("opened by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(pgettext_lazy("time", "resolved"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)

    class Meta:
        verbose_name = _("reconciliation dispute")
        verbose_name_plural = _("reconciliation disputes")
        ordering = ["-day", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "day"], condition=Q(state="open"), name="dispute_one_open_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.day} ({self.state})"

    @classmethod
    def owned_by(cls, user: Any) -> Q:
        return _merchant_admins_and_staff(user, clerks=False)


class DisputeComment(models.Model):
    dispute = models.ForeignKey(Dispute, verbose_name=_("dispute"), on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(_("comment"))
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("dispute comment")
        verbose_name_plural = _("dispute comments")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return self.text[:40]
