"""Deals (團購項目): what a merchant sells to a group, its price tiers, media and team buys.

A deal belongs to one merchant and is sold in one city. Its life cycle is declared in
`deals/process.py`; its counters move only in `deals/services.py` and `orders/services.py`, with
guarded SQL updates, never with ``x += 1; save()``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from tuangou.core.models import City
from tuangou.core.money import MoneyField
from tuangou.core.workflow.engine import StateField
from tuangou.deals.process import DEAL, TEAM
from tuangou.merchants.models import Merchant, Store


class Category(models.Model):
    """分類"""

    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=40)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "slug"]

    def __str__(self) -> str:
        return self.name


class DealQuerySet(models.QuerySet["Deal"]):
    def on_sale(self) -> DealQuerySet:
        return self.filter(status__in=Deal.ON_SALE)

    def public(self) -> DealQuerySet:
        """What the storefront shows: on sale, or finished but still worth a look."""
        return self.filter(status__in=Deal.PUBLIC)


class Deal(models.Model):
    """團購項目: one offer of one merchant, with a tipping point (成團人數) and a stock cap.

    The price the buyer pays is the group price, or the tier reached when volume tiers are set
    (S6 量大價優); the final price at close is the tier reached, and whoever paid more gets the
    difference back. Quantity sold counts paid orders only (S5 一旦買家支付貨款…數量+1);
    `reserved_units` holds stock for unpaid orders until they expire.
    """

    ON_SALE = ("live", "tipped")
    PUBLIC = (*ON_SALE, "closed")  # what the storefront shows: on sale, or finished but worth a look

    class Mode(models.TextChoices):
        SINGLE = "single", _("Group buy")
        TEAM = "team", _("Team buy (拼團)")

    class CountBasis(models.TextChoices):
        PEOPLE = "people", _("People")
        UNITS = "units", _("Units")

    class VoucherValidity(models.TextChoices):
        FIXED = "fixed", _("Fixed dates")
        DAYS = "days", _("Days after purchase")

    class Delivery(models.TextChoices):
        VOUCHER = "voucher", _("Voucher used at the store")
        SHIPPED = "shipped", _("Goods shipped")
        PICKUP = "pickup", _("Pick up at the store")

    class Channel(models.TextChoices):
        WEB = "web", _("Website")
        MOBILE = "mobile", _("Mobile site")
        WECHAT = "wechat", _("WeChat")
        SMS = "sms", _("SMS")
        STORE = "store", _("In store")

    merchant = models.ForeignKey(Merchant, verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="deals")
    city = models.ForeignKey(City, verbose_name=_("city"), on_delete=models.PROTECT, related_name="deals")
    category = models.ForeignKey(
        Category, verbose_name=_("category"), null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    title = models.CharField(_("title"), max_length=120)
    summary = models.CharField(_("summary"), max_length=240, blank=True)
    description = models.TextField(_("description"), blank=True, help_text=_("Sanitised HTML"))
    terms = models.TextField(_("terms of use"), blank=True)

    original_price = MoneyField(_("original price"))
    group_price = MoneyField(_("group price"))
    mode = models.CharField(_("mode"), max_length=10, choices=Mode.choices, default=Mode.SINGLE)
    count_basis = models.CharField(
        _("counted in"),
        max_length=10,
        choices=CountBasis.choices,
        default=CountBasis.PEOPLE,
        help_text=_("What the tipping point and the tiers count: people who paid, or units paid."),
    )
    tipping_point = models.PositiveIntegerField(_("tipping point"), default=1)
    stock = models.PositiveIntegerField(_("stock"))
    per_member_limit = models.PositiveIntegerField(_("limit per member"), default=1)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))

    voucher_validity = models.CharField(
        _("voucher validity"), max_length=10, choices=VoucherValidity.choices, default=VoucherValidity.DAYS
    )
    voucher_valid_from = models.DateField(_("voucher valid from"), null=True, blank=True)
    voucher_valid_until = models.DateField(_("voucher valid until"), null=True, blank=True)
    voucher_valid_days = models.PositiveSmallIntegerField(_("voucher valid for days"), null=True, blank=True)
    stores = models.ManyToManyField(Store, verbose_name=_("stores"), blank=True, related_name="deals")
    refund_anytime = models.BooleanField(_("refund anytime before use (隨時退)"), default=True)
    refund_on_expiry = models.BooleanField(_("refund automatically on expiry (過期退)"), default=True)
    delivery = models.CharField(_("delivery"), max_length=10, choices=Delivery.choices, default=Delivery.VOUCHER)
    new_members_only = models.BooleanField(_("new members only"), default=False)
    conditions = models.TextField(_("participant conditions"), blank=True)
    channels = models.JSONField(_("publishing channels"), default=list, blank=True)
    settlement_price = MoneyField(_("settlement price"), null=True, blank=True)
    commission_rate = models.DecimalField(
        _("commission rate override (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )

    team_size = models.PositiveSmallIntegerField(_("team size"), null=True, blank=True)
    team_hours = models.PositiveSmallIntegerField(_("hours to fill a team"), null=True, blank=True)
    leader_price = MoneyField(_("leader price"), null=True, blank=True)
    virtual_completion = models.BooleanField(
        _("virtual completion"), default=False, help_text=_("Complete a team that does not fill in time.")
    )

    status = StateField(_("status"), process=DEAL)
    rejection_reason = models.TextField(_("reason sent back"), blank=True)
    sold_units = models.PositiveIntegerField(_("units sold (paid)"), default=0)
    buyers = models.PositiveIntegerField(_("people who paid"), default=0)
    reserved_units = models.PositiveIntegerField(_("units reserved (unpaid)"), default=0)
    final_unit_price = MoneyField(_("final price"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    tipped_at = models.DateTimeField(_("tipped"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = DealQuerySet.as_manager()

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        ordering = ["-starts_at", "-pk"]
        indexes = [
            models.Index(fields=["city", "status", "-starts_at"]),
            models.Index(fields=["status", "ends_at"]),
            models.Index(fields=["status", "starts_at"]),
            # The storefront's lists (deals.selectors.deal_list_public): a city's deals by ends_at,
            # read a page at a time in index order instead of sorting every deal of the city.
            models.Index(fields=["city", "ends_at", "id"], name="deal_city_ends"),
            models.Index(
                fields=["city", "ends_at", "id"],
                name="deal_city_on_sale_ends",
                condition=Q(status__in=("live", "tipped")),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(group_price__gt=0), name="deal_group_price_positive"),
            models.CheckConstraint(condition=Q(group_price__lt=F("original_price")), name="deal_group_below_original"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="deal_ends_after_start"),
            models.CheckConstraint(condition=Q(stock__gte=1), name="deal_stock_positive"),
            models.CheckConstraint(condition=Q(tipping_point__gte=1), name="deal_tipping_point_positive"),
            models.CheckConstraint(condition=Q(per_member_limit__gte=1), name="deal_limit_positive"),
            # The last line of defence against overselling: reserved and paid never exceed stock.
            models.CheckConstraint(
                condition=Q(sold_units__lte=F("stock") - F("reserved_units")), name="deal_never_oversold"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @classmethod
    def owned_by(cls, user: Any) -> models.Q:
        """Operators see every deal; a merchant's people see their merchant's deals."""
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role

        if has_role(user, Role.OPERATOR, Role.BD_REP, Role.FINANCE):
            return Q()
        # A subquery, not a join: several memberships must not repeat a deal.
        return Q(merchant__in=Merchant.objects.filter(members__user=user).values("pk"))

    # -- reading the counters ------------------------------------------------------------

    @property
    def is_team(self) -> bool:
        return self.mode == self.Mode.TEAM

    @property
    def on_sale(self) -> bool:
        return self.status in self.ON_SALE

    @property
    def count(self) -> int:
        """Where the count stands for the tipping point and the tiers."""
        return self.buyers if self.count_basis == self.CountBasis.PEOPLE else self.sold_units

    @property
    def available(self) -> int:
        return max(0, self.stock - self.sold_units - self.reserved_units)

    @property
    def to_tip(self) -> int:
        return max(0, self.tipping_point - self.count)

    @property
    def progress_percent(self) -> int:
        return min(100, round(100 * self.count / self.tipping_point)) if self.tipping_point else 100

    @property
    def discount_percent(self) -> int:
        """How much cheaper than the original price, in percent (S10 團購前後價格對比)."""
        if not self.original_price:
            return 0
        return int(
            (Decimal(100) * (self.original_price - self.current_price) / self.original_price).quantize(Decimal(1))
        )

    @property
    def current_price(self) -> Decimal:
        return self.price_at(self.count)

    def price_at(self, count: int) -> Decimal:
        """The price for everyone once `count` is reached: the lowest tier at or below it."""
        price = self.group_price
        for tier in self.tier_list:
            if count >= tier.threshold and tier.price < price:
                price = tier.price
        return price

    @property
    def tier_list(self) -> list[DealTier]:
        # The tiers the caller read with the deal (keep_tiers), or prefetch_related("tiers").
        kept: list[DealTier] | None = self.__dict__.get("_kept_tiers")
        if kept is not None:
            return kept
        return sorted(self.tiers.all(), key=lambda t: t.threshold)

    def keep_tiers(self, tiers: list[DealTier]) -> None:
        """Keep `tiers`, read by the caller with the deal: its prices then cost no further query."""
        self.__dict__["_kept_tiers"] = sorted(tiers, key=lambda t: t.threshold)

    @property
    def next_tier(self) -> DealTier | None:
        return next((t for t in self.tier_list if t.threshold > self.count), None)

    @property
    def cover(self) -> DealMedia | None:
        return next((m for m in self.media.all() if m.kind == DealMedia.Kind.IMAGE), None)

    @property
    def images(self) -> list[DealMedia]:
        """The images in their order (uses prefetch_related("media") when the caller prefetched)."""
        return [m for m in self.media.all() if m.kind == DealMedia.Kind.IMAGE]

    @property
    def video(self) -> DealMedia | None:
        return next((m for m in self.media.all() if m.kind == DealMedia.Kind.VIDEO), None)


class DealTier(models.Model):
    """量大價優 volume tier: once `threshold` people (or units) have paid, everyone pays `price`."""

    deal = models.ForeignKey(Deal, verbose_name=_("deal"), on_delete=models.CASCADE, related_name="tiers")
    threshold = models.PositiveIntegerField(_("reached at"))
    price = MoneyField(_("price"))

    class Meta:
        verbose_name = _("volume tier")
        verbose_name_plural = _("volume tiers")
        ordering = ["deal", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["deal", "threshold"], name="deal_tier_unique_threshold"),
            models.CheckConstraint(condition=Q(price__gt=0), name="deal_tier_price_positive"),
            models.CheckConstraint(condition=Q(threshold__gte=1), name="deal_tier_threshold_positive"),
        ]

    def __str__(self) -> str:
        return f"≥{self.threshold}: {self.price}"


class DealMedia(models.Model):
    """Images and a video of a deal, in order. A file uploaded, or an address on the site's media host."""

    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        VIDEO = "video", _("Video")

    deal = models.ForeignKey(Deal, verbose_name=_("deal"), on_delete=models.CASCADE, related_name="media")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.IMAGE)
    file = models.FileField(_("file"), upload_to="deals/%Y/%m/", blank=True)
    url = models.CharField(_("address"), max_length=300, blank=True)
    caption = models.CharField(_("caption"), max_length=120, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("deal media")
        verbose_name_plural = _("deal media")
        ordering = ["deal", "position", "pk"]

    def __str__(self) -> str:
        return self.caption or self.src

    @property
    def src(self) -> str:
        return self.file.url if self.file else self.url


class Team(models.Model):
    """拼團: a leader opens a team of N; the clock starts when the leader pays; it fills or fails.

    `seats_taken` counts orders placed in the team (paid or still payable); `members_paid` counts
    paid ones. Both move by guarded updates so a team never takes more than `size` members.
    """

    deal = models.ForeignKey(Deal, verbose_name=_("deal"), on_delete=models.PROTECT, related_name="teams")
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("leader"), on_delete=models.PROTECT, related_name="led_teams"
    )
    size = models.PositiveSmallIntegerField(_("team size"))
    status = StateField(_("status"), process=TEAM)
    seats_taken = models.PositiveSmallIntegerField(_("seats taken"), default=0)
    members_paid = models.PositiveSmallIntegerField(_("members paid"), default=0)
    virtual = models.BooleanField(_("completed virtually"), default=False)
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    clock_started_at = models.DateTimeField(_("clock started"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(seats_taken__lte=F("size")), name="team_never_overfilled"),
            models.CheckConstraint(condition=Q(members_paid__lte=F("seats_taken")), name="team_paid_within_seats"),
        ]

    def __str__(self) -> str:
        return f"{self.deal} #{self.pk}"

    @classmethod
    def owned_by(cls, user: Any) -> models.Q:
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role

        if has_role(user, Role.OPERATOR):
            return Q()
        from tuangou.orders.models import Order

        mine = Order.objects.filter(user=user).values("team_id")
        return Q(pk__in=mine) | Q(deal__merchant__in=Merchant.objects.filter(members__user=user).values("pk"))

    @property
    def seats_left(self) -> int:
        return max(0, self.size - self.seats_taken)
