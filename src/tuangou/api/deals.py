"""/api/v1/cities, /api/v1/deals…, /api/v1/teams…: the storefront's and the back office's deals.

Thin: validate the shape, call a service or a selector, return a schema. Joining and opening a
team create orders, so they accept an `Idempotency-Key` header (the same key twice returns the
same order); see api/orders.py for reading orders.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Header, Query, Router, Schema, Status, UploadedFile
from ninja.responses import NinjaJSONEncoder
from pydantic import Field

from tuangou.accounts.services import Alongside
from tuangou.api.base import BrowserSession, TokenAuth, alongside_rows, session_or_token
from tuangou.api.orders import OrderOut, order_out
from tuangou.api.schemas import ERRORS, ErrorOut, Money
from tuangou.core import microcache
from tuangou.core.errors import NotFound
from tuangou.core.models import City
from tuangou.deals import selectors, services
from tuangou.deals.models import Deal, DealMedia, Team
from tuangou.orders import services as order_services

router = Router(tags=["deals"])


def _anonymous(request: HttpRequest) -> bool:
    return True


# Public reads: anyone, but a signed-in caller (token or session) is recognised.
PUBLIC = [*session_or_token, _anonymous]


class CityOut(Schema):
    slug: str
    name: str


class TierOut(Schema):
    threshold: int
    price: Money


class MediaIn(Schema):
    kind: Literal["image", "video"] = "image"
    src: str = Field(max_length=300, description="An address on the site's media host (or upload a file instead)")
    caption: str = Field("", max_length=120)


class MediaOut(Schema):
    id: int
    kind: str
    src: str
    caption: str
    position: int


class MediaOrderIn(Schema):
    media_ids: list[int] = Field(description="Every image of the deal, each once, in the order to show them")


class DealOut(Schema):
    id: int
    title: str
    summary: str
    merchant_id: int
    merchant_name: str
    city: str
    category: str | None
    status: str
    mode: Literal["single", "team"]
    original_price: Money
    group_price: Money
    current_price: Money = Field(description="What a buyer pays now: the group price or the tier reached")
    discount_percent: int
    count_basis: Literal["people", "units"]
    tipping_point: int
    count: int = Field(description="Paid people or units, by count_basis (S5: only payment counts)")
    buyers: int
    sold_units: int
    available: int
    per_member_limit: int
    starts_at: datetime
    ends_at: datetime
    tiers: list[TierOut]
    team_size: int | None
    team_hours: int | None
    leader_price: Money | None
    final_unit_price: Money | None


class DealDetailOut(DealOut):
    description: str
    terms: str
    conditions: str
    new_members_only: bool
    delivery: str
    refund_anytime: bool
    refund_on_expiry: bool
    voucher_validity: str
    voucher_valid_from: date | None
    voucher_valid_until: date | None
    voucher_valid_days: int | None
    channels: list[str]
    store_ids: list[int]
    media: list[MediaOut]
    rejection_reason: str


def media_out(m: DealMedia) -> MediaOut:
    return MediaOut(id=m.pk, kind=m.kind, src=m.src, caption=m.caption, position=m.position)


def deal_values(deal: Deal) -> dict[str, Any]:
    """A deal as DealOut's fields, plain values (tiers as dicts): what DealOut(**values).model_dump()
    gives, without validating again what the database already typed."""
    return {
        "id": deal.pk,
        "title": deal.title,
        "summary": deal.summary,
        "merchant_id": deal.merchant_id,
        "merchant_name": deal.merchant.name,
        "city": deal.city.slug,
        "category": deal.category.slug if deal.category else None,
        "status": deal.status,
        "mode": deal.mode,
        "original_price": deal.original_price,
        "group_price": deal.group_price,
        "current_price": deal.current_price,
        "discount_percent": deal.discount_percent,
        "count_basis": deal.count_basis,
        "tipping_point": deal.tipping_point,
        "count": deal.count,
        "buyers": deal.buyers,
        "sold_units": deal.sold_units,
        "available": deal.available,
        "per_member_limit": deal.per_member_limit,
        "starts_at": deal.starts_at,
        "ends_at": deal.ends_at,
        "tiers": [{"threshold": t.threshold, "price": t.price} for t in deal.tier_list],
        "team_size": deal.team_size,
        "team_hours": deal.team_hours,
        "leader_price": deal.leader_price,
        "final_unit_price": deal.final_unit_price,
    }


def deal_out(deal: Deal, *, detail: bool = False) -> DealOut:
    values = deal_values(deal)
    if not detail:
        return DealOut(**values)
    return DealDetailOut(
        **values,
        description=deal.description,
        terms=deal.terms,
        conditions=deal.conditions,
        new_members_only=deal.new_members_only,
        delivery=deal.delivery,
        refund_anytime=deal.refund_anytime,
        refund_on_expiry=deal.refund_on_expiry,
        voucher_validity=deal.voucher_validity,
        voucher_valid_from=deal.voucher_valid_from,
        voucher_valid_until=deal.voucher_valid_until,
        voucher_valid_days=deal.voucher_valid_days,
        channels=list(deal.channels or []),
        store_ids=[s.pk for s in deal.stores.all()],
        media=[media_out(m) for m in deal.media.all()],
        rejection_reason=deal.rejection_reason,
    )


class TierIn(Schema):
    threshold: int
    price: Decimal


class DealIn(Schema):
    merchant_id: int
    title: str = Field(max_length=120)
    summary: str = Field("", max_length=240)
    description: str = Field("", description="HTML; scripts and styles are removed")
    terms: str = ""
    conditions: str = ""
    category_id: int | None = None
    original_price: Decimal
    group_price: Decimal
    mode: Literal["single", "team"] = "single"
    count_basis: Literal["people", "units"] = "people"
    tipping_point: int = 1
    stock: int
    per_member_limit: int = 1
    starts_at: datetime
    ends_at: datetime
    voucher_validity: Literal["fixed", "days"] = "days"
    voucher_valid_from: date | None = None
    voucher_valid_until: date | None = None
    voucher_valid_days: int | None = 90
    refund_anytime: bool = True
    refund_on_expiry: bool = True
    delivery: Literal["voucher", "shipped", "pickup"] = "voucher"
    new_members_only: bool = False
    channels: list[str] = Field(default_factory=lambda: ["web", "mobile"])
    settlement_price: Decimal | None = None
    commission_rate: Decimal | None = None
    team_size: int | None = None
    team_hours: int | None = None
    leader_price: Decimal | None = None
    virtual_completion: bool = False
    tiers: list[TierIn] = Field(default_factory=list)
    store_ids: list[int] | None = None
    media: list[MediaIn] = Field(default_factory=list)


class DealPatch(Schema):
    title: str | None = Field(None, max_length=120)
    summary: str | None = Field(None, max_length=240)
    description: str | None = None
    terms: str | None = None
    conditions: str | None = None
    category_id: int | None = None
    original_price: Decimal | None = None
    group_price: Decimal | None = None
    tipping_point: int | None = None
    stock: int | None = None
    per_member_limit: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    tiers: list[TierIn] | None = None


class RejectIn(Schema):
    reason: str = Field(max_length=1000)


class JoinIn(Schema):
    quantity: int = Field(1, description="Units to buy (at least 1, at most the deal's limit per member)")


class TeamMemberOut(Schema):
    name: str
    is_leader: bool
    paid: bool


class TeamOut(Schema):
    id: int
    deal_id: int
    status: str
    size: int
    seats_taken: int
    members_paid: int
    virtual: bool
    opened_at: datetime
    expires_at: datetime | None
    members: list[TeamMemberOut]


def _mask(name: str) -> str:
    """Members see each other's names masked (王*明), as group-buy sites do."""
    if len(name) <= 1:
        return name + "*"
    return name[0] + "*" * max(1, len(name) - 2) + (name[-1] if len(name) > 2 else "")


def team_out(team: Team) -> TeamOut:
    orders = [o for o in team.orders.all() if o.status in ("pending", "paid", "completed", "refunded")]
    return TeamOut(
        id=team.pk,
        deal_id=team.deal_id,
        status=team.status,
        size=team.size,
        seats_taken=team.seats_taken,
        members_paid=team.members_paid,
        virtual=team.virtual,
        opened_at=team.opened_at,
        expires_at=team.expires_at,
        members=[
            TeamMemberOut(name=_mask(str(o.user)), is_leader=o.is_leader, paid=o.status != "pending") for o in orders
        ],
    )


IDEMPOTENCY = Header(None, alias="Idempotency-Key", description="The same key twice returns the same order")


@router.get("/cities", auth=PUBLIC, response=list[CityOut], summary="Cities with deals")
def cities(request: HttpRequest) -> list[CityOut]:
    return [CityOut(slug=c.slug, name=c.name) for c in City.objects.filter(is_active=True)]


class DealFilter(Schema):
    city: str | None = None
    category: str | None = None
    q: str | None = Field(None, max_length=60)
    status: str | None = None
    scope: Literal["public", "manage"] = Field(
        "public", description="public: what the storefront shows; manage: every deal you may manage, any state"
    )
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


@router.get("/deals", auth=PUBLIC, response={200: list[DealOut], **ERRORS}, summary="List deals")
def deal_list(request: HttpRequest, filters: Query[DealFilter]) -> list[DealOut] | HttpResponse:
    if filters.scope == "public":
        return _public_deal_list(filters)
    from tuangou.core.ownership import require_login

    require_login(request.user)
    qs = selectors.deal_list_for(request.user, status=filters.status)
    if filters.city:
        qs = qs.filter(city__slug=filters.city)
    if filters.category:
        qs = qs.filter(category__slug=filters.category)
    if filters.q:
        qs = qs.filter(title__icontains=filters.q)
    return [deal_out(d) for d in qs[filters.offset : filters.offset + filters.limit]]


def _public_deal_list(filters: DealFilter) -> HttpResponse:
    """The public list as JSON bytes, kept a few seconds (core.microcache) or rendered from plain
    values (deal_values): the same bytes ninja would give for list[DealOut]."""

    def render() -> bytes:
        qs = selectors.deal_list_public(
            city=filters.city, category=filters.category, q=filters.q, status=filters.status
        )
        page = [deal_values(d) for d in qs[filters.offset : filters.offset + filters.limit]]
        return json.dumps(page, cls=NinjaJSONEncoder).encode()

    key = "api:deals:" + hashlib.sha256(json.dumps(filters.model_dump(), sort_keys=True).encode()).hexdigest()
    return HttpResponse(microcache.cached_bytes(key, render), content_type="application/json; charset=utf-8")


def _public_or_managed(request: HttpRequest, deal_id: int) -> Deal:
    deal = selectors.deal_public(deal_id=deal_id)
    if deal is None and request.user.is_authenticated:
        deal = selectors.deal_list_for(request.user).filter(pk=deal_id).first()
    if deal is None:
        raise NotFound()
    return deal


@router.get("/deals/{deal_id}", auth=PUBLIC, response={200: DealDetailOut, 404: ErrorOut}, summary="One deal")
def deal_detail(request: HttpRequest, deal_id: int) -> DealOut:
    return deal_out(_public_or_managed(request, deal_id), detail=True)


def _fields(payload: Schema, *, exclude: set[str]) -> dict[str, Any]:
    return {k: v for k, v in payload.dict().items() if k not in exclude}


@router.post("/deals", response={201: DealDetailOut, **ERRORS}, summary="Draft a deal (merchant admin or operator)")
def deal_create(request: HttpRequest, payload: DealIn) -> Status:
    deal = services.deal_create(
        actor=request.user,
        merchant_id=payload.merchant_id,
        tiers=[(t.threshold, t.price) for t in payload.tiers],
        store_ids=payload.store_ids,
        media=[(m.kind, m.src) for m in payload.media],
        **_fields(payload, exclude={"merchant_id", "tiers", "store_ids", "media"}),
    )
    return Status(201, deal_out(_public_or_managed(request, deal.pk), detail=True))


@router.patch("/deals/{deal_id}", response={200: DealDetailOut, **ERRORS}, summary="Edit within what the state allows")
def deal_update(request: HttpRequest, deal_id: int, payload: DealPatch) -> DealOut:
    changes = payload.dict(exclude_unset=True)
    tiers = changes.pop("tiers", None)
    services.deal_update(
        actor=request.user,
        deal_id=deal_id,
        tiers=[(t["threshold"], t["price"]) for t in tiers] if tiers is not None else None,
        **changes,
    )
    return deal_out(_public_or_managed(request, deal_id), detail=True)


@router.post(
    "/deals/{deal_id}/media",
    response={201: list[MediaOut], **ERRORS},
    summary="Upload images and/or the video (multipart)",
    description=(
        "Multipart form: `images` (one or more JPEG, PNG, WebP or GIF files, added after the deal's images "
        "in the order sent), `video` (MP4 or WebM; replaces the deal's video), optional `captions` (one per "
        "image). Files are checked by content; errors name the field (`images.0`, `video`)."
    ),
)
def deal_media_upload(
    request: HttpRequest,
    deal_id: int,
    images: list[UploadedFile] = File(None),  # noqa: B008
    video: UploadedFile = File(None),  # noqa: B008
    captions: list[str] = Form(None),  # noqa: B008
) -> Status:
    if not images and video is None:
        from tuangou.core.errors import ValidationFailed

        raise ValidationFailed.field("images", _("Choose a file to upload."), code="file_required")
    created = services.deal_media_upload(
        actor=request.user, deal_id=deal_id, images=images or [], video=video, captions=captions or []
    )
    return Status(201, [media_out(m) for m in created])


@router.delete(
    "/deals/{deal_id}/media/{media_id}", response={204: None, **ERRORS}, summary="Remove an image or the video"
)
def deal_media_remove(request: HttpRequest, deal_id: int, media_id: int) -> Status:
    services.deal_media_remove(actor=request.user, deal_id=deal_id, media_id=media_id)
    return Status(204, None)


@router.put("/deals/{deal_id}/media", response={200: list[MediaOut], **ERRORS}, summary="Reorder the images")
def deal_media_reorder(request: HttpRequest, deal_id: int, payload: MediaOrderIn) -> list[MediaOut]:
    return [
        media_out(m)
        for m in services.deal_media_reorder(actor=request.user, deal_id=deal_id, media_ids=payload.media_ids)
    ]


@router.post("/deals/{deal_id}/submit", response={200: DealDetailOut, **ERRORS}, summary="Submit for review")
def deal_submit(request: HttpRequest, deal_id: int) -> DealOut:
    services.deal_submit(actor=request.user, deal_id=deal_id)
    return deal_out(_public_or_managed(request, deal_id), detail=True)


@router.post("/deals/{deal_id}/approve", response={200: DealDetailOut, **ERRORS}, summary="Approve (operators)")
def deal_approve(request: HttpRequest, deal_id: int) -> DealOut:
    services.deal_approve(actor=request.user, deal_id=deal_id)
    return deal_out(_public_or_managed(request, deal_id), detail=True)


@router.post("/deals/{deal_id}/reject", response={200: DealDetailOut, **ERRORS}, summary="Send back with reasons")
def deal_reject(request: HttpRequest, deal_id: int, payload: RejectIn) -> DealOut:
    services.deal_reject(actor=request.user, deal_id=deal_id, reason=payload.reason)
    return deal_out(_public_or_managed(request, deal_id), detail=True)


def _join_read(request: HttpRequest) -> Alongside | None:
    """A join's read of the deal and the member's Idempotency-Key, made with the bearer token."""
    match = request.resolver_match
    key = request.headers.get("Idempotency-Key") or None
    if match is None or (key is not None and len(key) > 100):
        return None  # a key the join refuses anyway: no read
    try:
        deal_id = int(match.kwargs["deal_id"])
    except (KeyError, TypeError, ValueError):
        return None
    return order_services.join_alongside(deal_id, key)


@router.post(
    "/deals/{deal_id}/orders",
    auth=[TokenAuth(alongside=_join_read), BrowserSession()],
    response={201: OrderOut, **ERRORS},
    summary="Join a deal (creates an order)",
)
def deal_join(
    request: HttpRequest,
    deal_id: int,
    payload: JoinIn,
    idempotency_key: str | None = IDEMPOTENCY,
) -> Status:
    order = order_services.deal_join(
        actor=request.user,
        deal_id=deal_id,
        quantity=payload.quantity,
        idempotency_key=idempotency_key,
        read=alongside_rows(request),
    )
    return Status(201, order_out(order))


@router.post("/deals/{deal_id}/teams", response={201: OrderOut, **ERRORS}, summary="Open a team (拼團)")
def team_open(request: HttpRequest, deal_id: int, idempotency_key: str | None = IDEMPOTENCY) -> Status:
    order = order_services.team_open(actor=request.user, deal_id=deal_id, idempotency_key=idempotency_key)
    return Status(201, order_out(order))


@router.get("/teams/{team_id}", auth=PUBLIC, response={200: TeamOut, 404: ErrorOut}, summary="A team and its members")
def team_detail(request: HttpRequest, team_id: int) -> TeamOut:
    team = selectors.team_public(team_id=team_id)
    if team is None:
        raise NotFound()
    return team_out(team)


@router.post("/teams/{team_id}/orders", response={201: OrderOut, **ERRORS}, summary="Join a team")
def team_join(request: HttpRequest, team_id: int, idempotency_key: str | None = IDEMPOTENCY) -> Status:
    order = order_services.team_join(actor=request.user, team_id=team_id, idempotency_key=idempotency_key)
    return Status(201, order_out(order))


class TeamReportRow(Schema):
    deal_id: int
    deal_title: str
    merchant_name: str
    city: str
    team_size: int | None
    teams: int = Field(description="Teams opened")
    filled: int = Field(description="Filled by real paying members")
    virtual: int = Field(description="Completed virtually at timeout (the deal allows virtual completion)")
    virtual_seats: int = Field(description="Seats the platform made up in virtually completed teams")
    failed: int
    forming: int = Field(description="Open or forming now")
    cancelled: int = Field(description="The leader never paid")
    fill_rate: int | None = Field(description="Percent of finished teams filled by real members")


class TeamReportTotals(Schema):
    teams: int
    filled: int
    virtual: int
    virtual_seats: int
    failed: int
    forming: int
    cancelled: int


class TeamReportOut(Schema):
    rows: list[TeamReportRow]
    totals: TeamReportTotals


class TeamReportFilter(Schema):
    city: str | None = None
    deal_id: int | None = None
    opened_from: date | None = None
    opened_until: date | None = None


@router.get(
    "/reports/teams",
    response={200: TeamReportOut, **ERRORS},
    summary="Team buys per deal: filled, completed virtually, failed (operators)",
)
def team_report(request: HttpRequest, filters: Query[TeamReportFilter]) -> TeamReportOut:
    from tuangou.accounts.roles import Role
    from tuangou.core.ownership import require_role

    require_role(request.user, Role.OPERATOR)
    rows, totals = selectors.team_report(
        city=filters.city,
        deal_id=filters.deal_id,
        opened_from=filters.opened_from,
        opened_until=filters.opened_until,
    )
    return TeamReportOut(
        rows=[
            TeamReportRow(
                deal_id=r["deal_id"],
                deal_title=r["deal__title"],
                merchant_name=r["deal__merchant__name"],
                city=r["deal__city__name"],
                team_size=r["deal__team_size"],
                teams=r["teams"],
                filled=r["filled"],
                virtual=r["virtual"],
                virtual_seats=r["virtual_seats"],
                failed=r["failed"],
                forming=r["forming"],
                cancelled=r["cancelled"],
                fill_rate=r["fill_rate"],
            )
            for r in rows
        ],
        totals=TeamReportTotals(**totals),
    )
