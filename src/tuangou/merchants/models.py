"""商家 and their stores, and who works for them.

The BD pipeline and the agreement workflow come with the merchant issue; deals need these now.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tuangou.core.models import City
from tuangou.core.money import MoneyField
from tuangou.core.workflow.engine import StateField
from tuangou.merchants.process import PIPELINE


class Merchant(models.Model):
    """商家: a company or a person (S6: 企業或個人) that sells through the platform."""

    class Kind(models.TextChoices):
        COMPANY = "company", _("Company")
        PERSON = "person", _("Individual")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.COMPANY)
    city = models.ForeignKey(City, verbose_name=_("city"), on_delete=models.PROTECT, related_name="merchants")
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    description = models.TextField(_("description"), blank=True)
    promotions = models.TextField(_("promotions"), blank=True, help_text=_("Shown on the merchant's mini-site"))
    video_url = models.URLField(_("video"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def owned_by(cls, user: Any) -> models.Q:
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role

        if has_role(user, Role.OPERATOR, Role.BD_REP, Role.FINANCE):
            return models.Q()
        return models.Q(pk__in=MerchantMember.objects.filter(user=user).values("merchant"))


class Store(models.Model):
    """門店: where vouchers are redeemed."""

    merchant = models.ForeignKey(Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="stores")
    name = models.CharField(_("name"), max_length=120)
    address = models.CharField(_("address"), max_length=200)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    opening_hours = models.CharField(_("opening hours"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["merchant", "name"]

    def __str__(self) -> str:
        return f"{self.merchant} · {self.name}"

    @classmethod
    def owned_by(cls, user: Any) -> models.Q:
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role

        if has_role(user, Role.OPERATOR, Role.BD_REP, Role.FINANCE):
            return models.Q()
        # Subqueries, not joins: a list of stores never repeats a row.
        memberships = MerchantMember.objects.filter(user=user)
        admin = models.Q(merchant__in=memberships.filter(store__isnull=True).values("merchant"))
        clerk = models.Q(pk__in=memberships.filter(store__isnull=False).values("store"))
        return admin | clerk


class MerchantMember(models.Model):
    """A user working for a merchant: an admin of all its stores, or a clerk of one store."""

    merchant = models.ForeignKey(Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="merchant_memberships"
    )
    store = models.ForeignKey(
        Store,
        verbose_name=_("store"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="members",
        help_text=_("Empty for a merchant admin, who sees every store."),
    )

    class Meta:
        verbose_name = _("merchant member")
        verbose_name_plural = _("merchant members")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "user", "store"], name="merchant_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.store or self.merchant}"


class Agreement(models.Model):
    """合作協議: what the merchant and the platform agreed (S4 達成合作事宜).

    Commission by rate (a percentage of sales) or per person (S4 按人數獲得提成), a settlement
    cycle and a validity window. A deal can only be created for a merchant whose agreement is
    signed and valid on the day. The BD pipeline that produces agreements comes with issue 6.
    """

    class CommissionKind(models.TextChoices):
        RATE = "rate", _("Rate of sales")
        PER_PERSON = "per_person", _("Per person")

    class Cycle(models.TextChoices):
        WEEKLY = "weekly", _("Weekly")
        SEMIMONTHLY = "semimonthly", _("Twice a month")
        MONTHLY = "monthly", _("Monthly")

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="agreements"
    )
    commission_kind = models.CharField(
        _("commission kind"), max_length=12, choices=CommissionKind.choices, default=CommissionKind.RATE
    )
    commission_rate = models.DecimalField(
        _("commission rate (%)"), max_digits=5, decimal_places=2, default=0, help_text=_("Percent of sales")
    )
    commission_per_person = MoneyField(_("commission per person"), default=0)
    settlement_cycle = models.CharField(
        _("settlement cycle"), max_length=12, choices=Cycle.choices, default=Cycle.MONTHLY
    )
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"))
    signed_at = models.DateTimeField(_("signed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")
        ordering = ["merchant", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_until__gte=models.F("valid_from")), name="agreement_valid_window"
            ),
            models.CheckConstraint(
                condition=models.Q(commission_rate__gte=0, commission_rate__lte=100),
                name="agreement_rate_percent",
            ),
            models.CheckConstraint(condition=models.Q(commission_per_person__gte=0), name="agreement_per_person_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant} {self.valid_from}–{self.valid_until}"

    @classmethod
    def owned_by(cls, user: Any) -> models.Q:
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role

        if has_role(user, Role.OPERATOR, Role.BD_REP, Role.FINANCE):
            return models.Q()
        return models.Q(merchant__members__user=user, merchant__members__store__isnull=True)

    @classmethod
    def current_for(cls, merchant: Merchant, on: date | None = None) -> Agreement | None:
        """The signed agreement valid on `on` (today by default), newest first."""
        from tuangou.core.time import local_date

        day = on or local_date()
        return (
            cls.objects.filter(merchant=merchant, signed_at__isnull=False, valid_from__lte=day, valid_until__gte=day)
            .order_by("-valid_from", "-pk")
            .first()
        )


class Prospect(models.Model):
    """潛在商家: a merchant a BD rep (業務員) is winning over (S4 業務員上門聯系商家)."""

    name = models.CharField(_("name"), max_length=120)
    contact = models.CharField(_("contact person"), max_length=60, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    city = models.ForeignKey(City, verbose_name=_("city"), on_delete=models.PROTECT, related_name="+")
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("BD rep"), on_delete=models.PROTECT, related_name="prospects"
    )
    stage = StateField(_("stage"), process=PIPELINE)
    merchant = models.OneToOneField(
        Merchant, verbose_name=_("merchant"), null=True, blank=True, on_delete=models.SET_NULL, related_name="prospect"
    )
    agreement = models.ForeignKey(
        Agreement, verbose_name=_("agreement"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agreement_file = models.FileField(_("signed agreement file"), upload_to="agreements/%Y/", blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    stage_changed_at = models.DateTimeField(_("stage changed"), auto_now_add=True)

    class Meta:
        verbose_name = _("prospective merchant")
        verbose_name_plural = _("BD pipeline")
        ordering = ["stage", "-stage_changed_at"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def owned_by(cls, user: Any) -> models.Q:
        """A rep sees their own prospects; operators all."""
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role

        if has_role(user, Role.OPERATOR):
            return models.Q()
        return models.Q(rep=user)


class Visit(models.Model):
    """拜訪記錄: a rep's visit to a prospect and what was said."""

    prospect = models.ForeignKey(Prospect, verbose_name=_("prospect"), on_delete=models.CASCADE, related_name="visits")
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("BD rep"), on_delete=models.PROTECT, related_name="+"
    )
    visited_at = models.DateTimeField(_("visited"))
    notes = models.TextField(_("notes"))
    next_step = models.CharField(_("next step"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-visited_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.prospect} {self.visited_at:%Y-%m-%d}"
