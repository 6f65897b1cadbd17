"""商家 and their stores, and who works for them.

The BD pipeline and the agreement workflow come with the merchant issue; deals need these now.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tuangou.core.models import City


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
        return models.Q(members__user=user)


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
        admin = models.Q(merchant__members__user=user, merchant__members__store__isnull=True)
        clerk = models.Q(members__user=user)
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
