"""Reads of deals for the storefront, the back office and the API."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, F, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.timezone import get_current_timezone as local_tz

from tuangou.core.models import City
from tuangou.core.money import money
from tuangou.core.ownership import visible_to
from tuangou.core.rows import Columns, keep_prefetched
from tuangou.deals.models import Category, Deal, DealMedia, DealTier, Team
from tuangou.merchants.models import Merchant, Store

# The tiers and images in their own order: their Meta ordering starts with "deal", which would
# join every prefetch to deals_deal only to sort by the deal's ordering.
_PREFETCH = (
    Prefetch("tiers", queryset=DealTier.objects.order_by("threshold", "pk")),
    Prefetch("media", queryset=DealMedia.objects.order_by("position", "pk")),
)


def _with_related(qs: QuerySet[Deal]) -> QuerySet[Deal]:
    return qs.select_related("merchant", "city", "category").prefetch_related(*_PREFETCH)


# A list shows cards and summaries: the long texts stay in the database until a deal page.
LIST_DEFERRED = ("description", "terms", "conditions", "rejection_reason")


def deal_list_public(
    *,
    city: str | None = None,
    category: str | None = None,
    q: str | None = None,
    status: str | None = None,
    on_sale: bool = False,
) -> QuerySet[Deal]:
    """Deals the storefront lists, by end time, filtered by city, category, words and status
    (`on_sale`: only deals one can buy now).

    The city is compared by id (`city_id = (SELECT id … slug)`), not through a join, so that
    PostgreSQL reads a page from the index on (city, ends_at, id) instead of sorting every deal
    of the city; the index on deals on sale serves `on_sale`.
    """
    qs = Deal.objects.on_sale() if on_sale else Deal.objects.public()
    if city:
        qs = qs.filter(city_id=Subquery(City.objects.filter(slug=city).values("pk")[:1]))
    if category:
        qs = qs.filter(category__slug=category)
    if q:
        words = q.strip()[:60]
        qs = qs.filter(Q(title__icontains=words) | Q(summary__icontains=words) | Q(merchant__name__icontains=words))
    if status:
        qs = qs.filter(status=status)
    return _with_related(qs).defer(*LIST_DEFERRED).order_by("ends_at", "pk")


def deal_list_for(user: Any, *, status: str | None = None, merchant_id: int | None = None) -> QuerySet[Deal]:
    """The deals a merchant's people or an operator may see in the back office."""
    qs = visible_to(Deal.objects.all(), user).distinct()
    if status:
        qs = qs.filter(status=status)
    if merchant_id:
        qs = qs.filter(merchant_id=merchant_id)
    return _with_related(qs).order_by("-pk")


@dataclass(frozen=True)
class _DealPage:
    """The deal page's statement and the columns of each model it selects, side by side."""

    sql: str
    deal: Columns
    merchant: Columns
    city: Columns
    category: Columns
    tier: Columns
    medium: Columns
    store: Columns


@functools.cache
def _deal_public_sql() -> _DealPage:
    """The deal page's one statement: the deal with its merchant, city and category on the first
    row only (part 0), then one row per tier (part 1), per image or video (part 2) and per store
    (part 3), each in the order the ORM gives (a part with none has one row of NULLs). The deal's
    columns are not repeated on the other rows: converting them again (seven timestamps through
    Django's Python loader) cost more than the rest of the read."""
    qn = connection.ops.quote_name
    d, m, c, k = Deal._meta, Merchant._meta, City._meta, Category._meta
    t, media, s = DealTier._meta, DealMedia._meta, Store._meta
    links = Deal.stores.through._meta

    def col(meta: Any, name: str) -> str:
        return qn(meta.get_field(name).column)

    pk = qn("id")
    part = qn("part")
    tables = [
        Columns.of(model, alias)
        for alias, model in (
            ("d", Deal), ("m", Merchant), ("c", City), ("k", Category), ("t", DealTier), ("i", DealMedia), ("s", Store)
        )
    ]  # fmt: skip
    return _DealPage(
        f"SELECT {', '.join(columns.sql for columns in tables)}"  # noqa: S608 - names from _meta, quoted
        # f: the public deal asked for, on every row; d (with m, c, k): its columns, on part 0 only
        f" FROM {qn(d.db_table)} f"
        f" CROSS JOIN (SELECT 0 AS {part} UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) p"
        f" LEFT JOIN ({qn(d.db_table)} d"
        f" JOIN {qn(m.db_table)} m ON m.{pk} = d.{col(d, 'merchant')}"
        f" JOIN {qn(c.db_table)} c ON c.{pk} = d.{col(d, 'city')}"
        f" LEFT JOIN {qn(k.db_table)} k ON k.{pk} = d.{col(d, 'category')})"
        f" ON p.{part} = 0 AND d.{pk} = f.{pk}"
        f" LEFT JOIN {qn(t.db_table)} t ON p.{part} = 1 AND t.{col(t, 'deal')} = f.{pk}"
        f" LEFT JOIN {qn(media.db_table)} i ON p.{part} = 2 AND i.{col(media, 'deal')} = f.{pk}"
        f" LEFT JOIN ({qn(links.db_table)} l JOIN {qn(s.db_table)} s ON s.{pk} = l.{col(links, 'store')}"
        f" JOIN {qn(m.db_table)} sm ON sm.{pk} = s.{col(s, 'merchant')})"
        f" ON p.{part} = 3 AND l.{col(links, 'deal')} = f.{pk}"
        f" WHERE f.{pk} = %s AND f.{col(d, 'status')} IN ({', '.join(['%s'] * len(Deal.PUBLIC))})"
        # Store's ordering ("merchant", "name") with the merchant's ("name"), as deal.stores.all() sorts.
        f" ORDER BY p.{part}, t.{col(t, 'threshold')}, t.{pk}, i.{col(media, 'position')}, i.{pk},"
        f" sm.{col(m, 'name')}, s.{col(s, 'name')}",
        *tables,
    )


def deal_public(*, deal_id: int) -> Deal | None:
    """A deal the storefront shows, with its merchant, city, category, tiers, images and stores
    (`deal.tiers.all()`, `deal.media.all()`, `deal.stores.all()` cost no further query).

    The deal page and the API's deal read it on every request, mostly for deals nobody asked for
    in the last seconds (ADR 0015), so it is one plain parametrised statement (core.rows) instead
    of four ORM querysets: building the querysets and their SQL cost about 2 ms of CPU, more than
    running them, and under load each round trip to the database waits for it to be scheduled."""
    page = _deal_public_sql()
    with connection.cursor() as cursor:
        cursor.execute(page.sql, [deal_id, *Deal.PUBLIC])
        found = cursor.fetchall()
    if not found:
        return None
    first = found[0]
    deal = page.deal.instance(first, 0)
    at = len(page.deal.names)
    deal.merchant = page.merchant.instance(first, at)
    at += len(page.merchant.names)
    deal.city = page.city.instance(first, at)
    at += len(page.city.names)
    deal.category = page.category.instance(first, at)
    tiers_at = at + len(page.category.names)
    media_at = tiers_at + len(page.tier.names)
    stores_at = media_at + len(page.medium.names)
    tiers: list[DealTier] = []
    media: list[DealMedia] = []
    stores: list[Store] = []
    for row in found[1:]:
        tier = page.tier.instance(row, tiers_at)
        if tier is not None:
            tier.deal = deal
            tiers.append(tier)
        medium = page.medium.instance(row, media_at)
        if medium is not None:
            medium.deal = deal
            media.append(medium)
        store = page.store.instance(row, stores_at)
        if store is not None:
            stores.append(store)
    keep_prefetched(deal, "tiers", tiers)
    keep_prefetched(deal, "media", media)
    keep_prefetched(deal, "stores", stores)
    return deal


def deal_tier_differences(*, deal_id: int) -> list[tuple[int, Decimal]]:
    """量大價優 at close: (order id, amount to refund) for every paid order that paid above the final price."""
    deal = Deal.objects.get(pk=deal_id)
    if deal.final_unit_price is None:
        return []
    final = deal.final_unit_price
    rows = deal.orders.filter(status="paid", unit_price__gt=final).values_list("pk", "unit_price", "quantity")
    return [(pk, money((price - final) * qty)) for pk, price, qty in rows]


def team_public(*, team_id: int) -> Team | None:
    return (
        Team.objects.select_related("deal", "deal__merchant", "leader")
        .prefetch_related("orders__user")
        .filter(pk=team_id)
        .first()
    )


def teams_forming(*, deal: Deal) -> QuerySet[Team]:
    return Team.objects.filter(deal=deal, status="forming").select_related("leader").order_by("expires_at")


TEAM_REPORT_COLUMNS = ("teams", "filled", "virtual", "failed", "forming", "cancelled", "virtual_seats")


def team_report(
    *,
    city: str | None = None,
    deal_id: int | None = None,
    opened_from: dt.date | None = None,
    opened_until: dt.date | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """拼團 report per deal: teams opened, filled by real members, completed virtually (with the
    seats the platform made up), failed, still forming and cancelled; and the totals.

    Virtual completion (issue 4: off by default, shown in reports when used) is counted apart from
    real fills, so a deal's success rate is never flattered by it. One grouped query.
    """
    qs = Team.objects.all()
    if city:
        qs = qs.filter(deal__city__slug=city)
    if deal_id:
        qs = qs.filter(deal_id=deal_id)
    if opened_from:
        qs = qs.filter(opened_at__gte=dt.datetime.combine(opened_from, dt.time.min, tzinfo=local_tz()))
    if opened_until:
        qs = qs.filter(
            opened_at__lt=dt.datetime.combine(opened_until + dt.timedelta(days=1), dt.time.min, tzinfo=local_tz())
        )
    virtual = Q(status="filled", virtual=True)
    grouped: Any = (
        qs.values("deal_id", "deal__title", "deal__merchant__name", "deal__city__name", "deal__team_size")
        .annotate(
            teams=Count("pk"),
            filled=Count("pk", filter=Q(status="filled", virtual=False)),
            virtual_teams=Count("pk", filter=virtual),  # not "virtual": that is Team's field
            failed=Count("pk", filter=Q(status="failed")),
            forming=Count("pk", filter=Q(status__in=("open", "forming"))),
            cancelled=Count("pk", filter=Q(status="cancelled")),
            virtual_seats=Coalesce(Sum(F("size") - F("members_paid"), filter=virtual), 0),
        )
        .order_by("-deal_id")
    )
    rows: list[dict[str, Any]] = [dict(r) for r in grouped]
    for row in rows:
        row["virtual"] = row.pop("virtual_teams")
        finished = row["filled"] + row["virtual"] + row["failed"]
        row["fill_rate"] = round(100 * row["filled"] / finished) if finished else None
    totals = {c: sum(int(r[c]) for r in rows) for c in TEAM_REPORT_COLUMNS}
    return rows, totals
