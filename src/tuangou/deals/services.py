"""Every change of a deal or a team: proposing, reviewing, and the clock that moves them.

Rules enforced here (each raises an AppError naming the field and changes nothing):
- a deal is created only for a merchant with a signed, valid agreement, by its admin or an
  operator; the group price is below the original price; it ends after it starts; tiers lower
  the price as the count grows;
- only the deal's merchant edits and submits it, only operators approve or send it back (with
  reasons), and what may be edited narrows as the deal moves on;
- the clock starts, tips, fails and closes deals on time, idempotently: each deal is moved
  under its row lock and only if it is still in the state the move starts from.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import nh3
from django.db import models, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from tuangou.accounts.roles import Role
from tuangou.core import events
from tuangou.core.audit import audit
from tuangou.core.errors import Forbidden, NotFound, ValidationFailed
from tuangou.core.money import money
from tuangou.core.ownership import has_role, require_login
from tuangou.core.time import now as _now
from tuangou.core.workflow import Process
from tuangou.core.workflow.engine import transition
from tuangou.deals.models import Category, Deal, DealMedia, DealTier, Team
from tuangou.deals.process import DEAL, TEAM
from tuangou.merchants.models import Agreement, Merchant, MerchantMember, Store

# --------------------------------------------------------------------------------------------
# The one place a state changes: the engine's transition call (core.workflow.engine), which
# follows the declaration, refuses anything else and logs every move.


def state_transition(obj: models.Model, process: Process, action: str, *, actor: Any = None, note: str = "") -> str:
    """Move `obj.status` along `action` of `process`; ``actor=None`` is the platform (its clock).

    The caller holds the row lock (the engine takes it again, harmlessly, in the same
    transaction). Refuses (Conflict) an action the declaration does not allow from the current
    state, and (Forbidden) an actor outside the action's lanes; nothing changes then.
    """
    log = transition(obj, action, actor=actor, note=note, process=process)
    return log.to_state


# --------------------------------------------------------------------------------------------
# Proposing and editing


DESCRIPTIVE_FIELDS = ("title", "summary", "description", "terms", "conditions", "category_id", "channels")
EDITABLE_BY_STATE: dict[str, tuple[str, ...]] = {
    "draft": ("*",),
    "returned": ("*",),
    "submitted": DESCRIPTIVE_FIELDS,
    "approved": DESCRIPTIVE_FIELDS,
    "scheduled": (*DESCRIPTIVE_FIELDS, "stock", "ends_at"),
    "live": (*DESCRIPTIVE_FIELDS, "stock", "ends_at"),
    "tipped": (*DESCRIPTIVE_FIELDS, "stock", "ends_at"),
}
ALLOWED_HTML_TAGS = {"p", "br", "strong", "em", "b", "i", "u", "ul", "ol", "li", "h3", "h4", "blockquote", "img", "a"}


def sanitise_html(value: str) -> str:
    """The deal's rich description, stripped of scripts, styles and event handlers."""
    return nh3.clean(
        value or "",
        tags=ALLOWED_HTML_TAGS,
        attributes={"a": {"href", "title"}, "img": {"src", "alt"}},
        url_schemes={"http", "https"},
    )


def _require_merchant_admin(user: Any, merchant: Merchant) -> None:
    require_login(user)
    if has_role(user, Role.OPERATOR):
        return
    if not MerchantMember.objects.filter(merchant=merchant, user=user, store__isnull=True).exists():
        raise NotFound()


def _require_deal_editor(user: Any, deal: Deal) -> None:
    _require_merchant_admin(user, deal.merchant)


def _money_field(errors: dict[str, list[str]], name: str, value: Any, *, required: bool = True) -> Decimal | None:
    if value in (None, ""):
        if required:
            errors.setdefault(name, []).append(_("This field is required."))
        return None
    try:
        amount = money(value if not isinstance(value, float) else str(value))
    except (ValueError, TypeError, InvalidOperation):
        errors.setdefault(name, []).append(_("Enter an amount in yuan, like 19.90."))
        return None
    if amount <= 0:
        errors.setdefault(name, []).append(_("The amount must be more than zero."))
        return None
    return amount


def _validate(
    values: dict[str, Any], tiers: Sequence[tuple[int, Any]] | None, *, merchant: Merchant
) -> tuple[dict[str, Any], list[tuple[int, Decimal]] | None]:
    """Check a deal's values as a whole; raise ValidationFailed listing every bad field."""
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    v = dict(values)
    title = str(v.get("title") or "").strip()
    if not title:
        err("title", _("This field is required."))
    elif len(title) > 120:
        err("title", _("At most 120 characters."))
    v["title"] = title
    v["original_price"] = _money_field(errors, "original_price", v.get("original_price"))
    v["group_price"] = _money_field(errors, "group_price", v.get("group_price"))
    if v["original_price"] and v["group_price"] and v["group_price"] >= v["original_price"]:
        err("group_price", _("The group price must be below the original price."))

    for name in ("stock", "tipping_point", "per_member_limit"):
        raw = v.get(name)
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
            err(name, _("Enter a whole number of at least 1."))
            v[name] = None
    if v.get("stock") and v.get("tipping_point") and v["tipping_point"] > v["stock"]:
        err("tipping_point", _("The tipping point cannot be above the stock."))
    if v.get("stock") and v.get("per_member_limit") and v["per_member_limit"] > v["stock"]:
        err("per_member_limit", _("The limit per member cannot be above the stock."))

    starts, ends = v.get("starts_at"), v.get("ends_at")
    for name, when in (("starts_at", starts), ("ends_at", ends)):
        if not isinstance(when, dt.datetime):
            err(name, _("This field is required."))
        elif when.tzinfo is None:
            err(name, _("Give the time with its time zone."))
    if (
        isinstance(starts, dt.datetime)
        and isinstance(ends, dt.datetime)
        and starts.tzinfo
        and ends.tzinfo
        and ends <= starts
    ):
        err("ends_at", _("The end must be after the start."))

    if v.get("voucher_validity") == Deal.VoucherValidity.FIXED:
        vf, vu = v.get("voucher_valid_from"), v.get("voucher_valid_until")
        if not vf:
            err("voucher_valid_from", _("This field is required."))
        if not vu:
            err("voucher_valid_until", _("This field is required."))
        if vf and vu and vu < vf:
            err("voucher_valid_until", _("The voucher must stay valid after it starts."))
        if vu and isinstance(ends, dt.datetime) and ends.tzinfo and vu < ends.date():
            err("voucher_valid_until", _("Vouchers must stay valid until the deal ends."))
    else:
        v["voucher_validity"] = Deal.VoucherValidity.DAYS
        days = v.get("voucher_valid_days") or 90
        if not isinstance(days, int) or days < 1 or days > 3650:
            err("voucher_valid_days", _("Enter a number of days between 1 and 3650."))
        v["voucher_valid_days"] = days

    for choice_field, choices in (
        ("mode", Deal.Mode.values),
        ("count_basis", Deal.CountBasis.values),
        ("delivery", Deal.Delivery.values),
        ("voucher_validity", Deal.VoucherValidity.values),
    ):
        if v.get(choice_field) is not None and v[choice_field] not in choices:
            err(choice_field, _("Choose one of: %(choices)s.") % {"choices": ", ".join(choices)})
    channels = v.get("channels") or []
    if not isinstance(channels, list) or any(c not in Deal.Channel.values for c in channels):
        err("channels", _("Choose among: %(choices)s.") % {"choices": ", ".join(Deal.Channel.values)})

    if v.get("settlement_price") not in (None, ""):
        sp = _money_field(errors, "settlement_price", v["settlement_price"])
        if sp and v["group_price"] and sp > v["group_price"]:
            err("settlement_price", _("The settlement price cannot be above the group price."))
        v["settlement_price"] = sp
    if v.get("commission_rate") not in (None, ""):
        try:
            rate = Decimal(str(v["commission_rate"]))
        except InvalidOperation:
            rate = Decimal(-1)
        if not (0 <= rate <= 100):
            err("commission_rate", _("Enter a percentage between 0 and 100."))
        v["commission_rate"] = rate

    if v.get("mode") == Deal.Mode.TEAM:
        size, hours = v.get("team_size"), v.get("team_hours")
        if not isinstance(size, int) or size < 2 or size > 100:
            err("team_size", _("A team has between 2 and 100 members."))
        if not isinstance(hours, int) or hours < 1 or hours > 720:
            err("team_hours", _("Enter between 1 and 720 hours."))
        if v.get("leader_price") not in (None, ""):
            lp = _money_field(errors, "leader_price", v["leader_price"])
            if lp and v["group_price"] and lp > v["group_price"]:
                err("leader_price", _("The leader price cannot be above the group price."))
            v["leader_price"] = lp
        if tiers:
            err("tiers", _("Team buys have no volume tiers."))
        v["tipping_point"] = 1  # a team buy's deal tips when its first team fills
    else:
        for name in ("team_size", "team_hours", "leader_price"):
            v[name] = None

    clean_tiers: list[tuple[int, Decimal]] | None = None
    if tiers is not None:
        clean_tiers = []
        for i, (threshold, price) in enumerate(tiers):
            field = f"tiers.{i}"
            amount = _money_field(errors, field, price)
            if not isinstance(threshold, int) or threshold < 1:
                err(field, _("A tier starts at a count of at least 1."))
                continue
            if amount is not None:
                clean_tiers.append((threshold, amount))
        clean_tiers.sort()
        thresholds = [t for t, _p in clean_tiers]
        if len(set(thresholds)) != len(thresholds):
            err("tiers", _("Two tiers start at the same count."))
        last = v.get("group_price")
        for _threshold, price in clean_tiers:
            if last is not None and price >= last:
                err("tiers", _("Each tier must be cheaper than the group price and the tiers before it."))
                break
            last = price

    if not Agreement.current_for(merchant):
        err("merchant", _("This merchant has no signed agreement valid today."))
    category_id = v.get("category_id")
    if category_id and not Category.objects.filter(pk=category_id).exists():
        err("category_id", _("Unknown category."))
    store_ids = v.get("store_ids")
    if store_ids is not None:
        found = set(Store.objects.filter(merchant=merchant, pk__in=store_ids).values_list("pk", flat=True))
        if found != set(store_ids):
            err("store_ids", _("Choose stores of this merchant."))

    if errors:
        raise ValidationFailed(errors=errors)
    v["description"] = sanitise_html(str(v.get("description") or ""))
    return v, clean_tiers


DEAL_DEFAULTS: dict[str, Any] = {
    "summary": "",
    "description": "",
    "terms": "",
    "conditions": "",
    "mode": Deal.Mode.SINGLE,
    "count_basis": Deal.CountBasis.PEOPLE,
    "tipping_point": 1,
    "per_member_limit": 1,
    "voucher_validity": Deal.VoucherValidity.DAYS,
    "voucher_valid_from": None,
    "voucher_valid_until": None,
    "voucher_valid_days": 90,
    "refund_anytime": True,
    "refund_on_expiry": True,
    "delivery": Deal.Delivery.VOUCHER,
    "new_members_only": False,
    "channels": ["web", "mobile"],
    "settlement_price": None,
    "commission_rate": None,
    "team_size": None,
    "team_hours": None,
    "leader_price": None,
    "virtual_completion": False,
    "category_id": None,
}
MODEL_FIELDS = (*DEAL_DEFAULTS.keys(), "title", "original_price", "group_price", "stock", "starts_at", "ends_at")


@transaction.atomic
def deal_create(
    *,
    actor: Any,
    merchant_id: int,
    tiers: Sequence[tuple[int, Any]] = (),
    store_ids: Sequence[int] | None = None,
    media: Iterable[tuple[str, str]] = (),
    **fields: Any,
) -> Deal:
    """Draft a deal for a merchant with a signed agreement (its admin or an operator).

    `fields` are the deal's columns (see `MODEL_FIELDS`); `tiers` are (count reached, price);
    `media` are (kind, address) pairs. Bad values raise ValidationFailed naming every field.
    """
    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is None:
        raise ValidationFailed.field("merchant_id", _("Unknown merchant."), code="unknown_merchant")
    _require_merchant_admin(actor, merchant)
    unknown = set(fields) - set(MODEL_FIELDS)
    if unknown:
        raise ValidationFailed(errors={f: [_("Unknown field.")] for f in sorted(unknown)})
    values, clean_tiers = _validate(
        {**DEAL_DEFAULTS, **fields, "store_ids": list(store_ids) if store_ids is not None else None},
        list(tiers),
        merchant=merchant,
    )
    deal = Deal.objects.create(
        merchant=merchant,
        city_id=merchant.city_id,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        **{k: values[k] for k in MODEL_FIELDS},
    )
    DealTier.objects.bulk_create([DealTier(deal=deal, threshold=t, price=p) for t, p in clean_tiers or []])
    if store_ids is not None:
        deal.stores.set(store_ids)
    else:
        deal.stores.set(merchant.stores.all())
    DealMedia.objects.bulk_create(
        [DealMedia(deal=deal, kind=kind, url=url, position=i) for i, (kind, url) in enumerate(media)]
    )
    audit("deal.create", actor=actor, obj=deal, title=deal.title)
    return deal


@transaction.atomic
def deal_update(*, actor: Any, deal_id: int, tiers: Sequence[tuple[int, Any]] | None = None, **changes: Any) -> Deal:
    """Change a deal within what its state allows: everything in a draft, less once submitted,
    and on sale only descriptions, more stock (never below what is sold and held) and a later end.
    """
    deal = Deal.objects.select_for_update().filter(pk=deal_id).first()
    if deal is None:
        raise NotFound()
    _require_deal_editor(actor, deal)
    allowed = EDITABLE_BY_STATE.get(deal.status, ())
    if "*" not in allowed:
        refused = [f for f in (*changes, *(["tiers"] if tiers is not None else [])) if f not in allowed]
        if refused:
            raise ValidationFailed(
                errors={f: [_("This cannot be changed in the deal's current state.")] for f in refused},
                code="field_locked",
            )
    unknown = set(changes) - set(MODEL_FIELDS)
    if unknown:
        raise ValidationFailed(errors={f: [_("Unknown field.")] for f in sorted(unknown)})
    current = {k: getattr(deal, k) for k in MODEL_FIELDS}
    values, clean_tiers = _validate({**current, **changes}, tiers, merchant=deal.merchant)
    if "stock" in changes and values["stock"] < deal.sold_units + deal.reserved_units:
        raise ValidationFailed.field(
            "stock",
            _("Stock cannot go below what is sold and held (%(n)d).") % {"n": deal.sold_units + deal.reserved_units},
        )
    if "ends_at" in changes and deal.on_sale and values["ends_at"] < deal.ends_at:
        raise ValidationFailed.field("ends_at", _("A deal on sale can only end later."))
    for key in changes:
        setattr(deal, key, values[key])
    deal.save()
    if "stock" in changes:
        from tuangou.orders import gate

        transaction.on_commit(lambda: gate.reset(deal.pk))  # rebuilt from the database on next use
    if clean_tiers is not None:
        deal.tiers.all().delete()
        DealTier.objects.bulk_create([DealTier(deal=deal, threshold=t, price=p) for t, p in clean_tiers])
    audit("deal.update", actor=actor, obj=deal, fields=sorted(changes))
    return deal


def _locked_deal(deal_id: int) -> Deal:
    deal = Deal.objects.select_for_update().select_related("merchant").filter(pk=deal_id).first()
    if deal is None:
        raise NotFound()
    return deal


@transaction.atomic
def deal_submit(*, actor: Any, deal_id: int) -> Deal:
    """The merchant sends its deal for review; it must still be valid and not already over."""
    deal = _locked_deal(deal_id)
    _require_deal_editor(actor, deal)
    _validate({k: getattr(deal, k) for k in MODEL_FIELDS}, None, merchant=deal.merchant)
    if deal.ends_at <= _now():
        raise ValidationFailed.field("ends_at", _("The end time has already passed."), code="deal_over")
    state_transition(deal, DEAL, "submit", actor=actor)
    Deal.objects.filter(pk=deal.pk).update(submitted_at=_now(), rejection_reason="")
    return deal


@transaction.atomic
def deal_approve(*, actor: Any, deal_id: int) -> Deal:
    """An operator approves; the deal is scheduled at once and starts when its time comes."""
    require_login(actor)
    if not has_role(actor, Role.OPERATOR):
        raise Forbidden(_("Only operators approve deals."), code="role_required")
    deal = _locked_deal(deal_id)
    state_transition(deal, DEAL, "approve", actor=actor)
    Deal.objects.filter(pk=deal.pk).update(approved_at=_now())
    state_transition(deal, DEAL, "schedule")
    _advance(deal, _now())
    deal.refresh_from_db()
    return deal


@transaction.atomic
def deal_reject(*, actor: Any, deal_id: int, reason: str) -> Deal:
    """An operator sends the deal back to its merchant with the reasons (required)."""
    require_login(actor)
    if not has_role(actor, Role.OPERATOR):
        raise Forbidden(_("Only operators review deals."), code="role_required")
    if not (reason or "").strip():
        raise ValidationFailed.field("reason", _("Please give a reason."), code="reason_required")
    deal = _locked_deal(deal_id)
    state_transition(deal, DEAL, "reject", actor=actor, note=reason.strip())
    Deal.objects.filter(pk=deal.pk).update(rejection_reason=reason.strip())
    deal.refresh_from_db()
    return deal


# --------------------------------------------------------------------------------------------
# The clock


def deal_tip_if_reached(deal: Deal, now: dt.datetime) -> bool:
    """Tip a live deal whose count reached the tipping point (team buys: a team filled).

    The caller holds the deal's row lock and has fresh counters on `deal`.
    """
    if deal.status != "live":
        return False
    if deal.is_team:
        reached = Team.objects.filter(deal=deal, status="filled").exists()
    else:
        reached = deal.count >= deal.tipping_point
    if not reached:
        return False
    state_transition(deal, DEAL, "tip")
    Deal.objects.filter(pk=deal.pk).update(tipped_at=now)
    events.publish("deal.tipped", deal_id=deal.pk)
    return True


def _close(deal: Deal, now: dt.datetime) -> None:
    tipped = deal.status == "tipped"
    final = deal.price_at(deal.count) if tipped and not deal.is_team else None
    state_transition(deal, DEAL, "close")
    Deal.objects.filter(pk=deal.pk).update(closed_at=now, final_unit_price=final)
    events.publish(
        "deal.closed", deal_id=deal.pk, tipped=tipped, final_unit_price=str(final) if final is not None else None
    )


def _end_teams(deal: Deal, now: dt.datetime) -> None:
    """At the deal's end, teams still open or forming cannot fill any more."""
    for team in Team.objects.select_for_update().filter(deal=deal, status__in=("open", "forming")).order_by("pk"):
        _team_timeout(team, now, force_fail=True)


def _advance(deal: Deal, now: dt.datetime) -> list[str]:
    """Every move due for one locked deal at `now`; returns the actions taken (may be none)."""
    done: list[str] = []
    if deal.status == "approved":
        state_transition(deal, DEAL, "schedule")
        done.append("schedule")
    if deal.status == "scheduled" and deal.starts_at <= now:
        state_transition(deal, DEAL, "start")
        done.append("start")
    if deal.status == "live" and deal_tip_if_reached(deal, now):
        done.append("tip")
    sold_out = deal.sold_units >= deal.stock
    if deal.on_sale and (deal.ends_at <= now or sold_out):
        if deal.is_team:
            _end_teams(deal, now)
            deal.refresh_from_db()
            if deal_tip_if_reached(deal, now):
                done.append("tip")
        if deal.status == "live":
            state_transition(deal, DEAL, "fail")
            events.publish("deal.failed", deal_id=deal.pk)
            done.append("fail")
        _close(deal, now)
        done.append("close")
    if done:
        audit("deal.clock", obj=deal, actions=done, at=now.isoformat())
    return done


def deal_advance(*, deal_id: int, now: dt.datetime | None = None) -> list[str]:
    """Move one deal as its clock says: start, tip, fail, close. Safe to call any number of times."""
    when = now or _now()
    with transaction.atomic():
        deal = Deal.objects.select_for_update().filter(pk=deal_id).first()
        if deal is None:
            return []
        return _advance(deal, when)


def deals_tick(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The clock's job: every deal due to start or end, sold out, and every team out of time.

    Each object is moved in its own short transaction, so one failure does not hold the rest,
    and running the tick twice (two clocks, a retry) finds nothing left to do the second time.
    """
    when = now or _now()
    due = (
        Deal.objects.filter(
            models.Q(status="approved")
            | models.Q(status="scheduled", starts_at__lte=when)
            | models.Q(status__in=Deal.ON_SALE, ends_at__lte=when)
            | models.Q(status__in=Deal.ON_SALE, sold_units__gte=F("stock"))
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    moved = sum(1 for pk in list(due) if deal_advance(deal_id=pk, now=when))
    teams = teams_expire_due(now=when)
    return {"deals": moved, "teams": teams}


# --------------------------------------------------------------------------------------------
# Teams (拼團): their state changes. Orders in teams are placed by orders.services.


def team_leader_paid(team: Team, now: dt.datetime) -> None:
    """The leader paid: the team's clock starts (H hours from now). Caller holds the team lock."""
    deal = team.deal
    state_transition(team, TEAM, "start_clock")
    expires = now + dt.timedelta(hours=deal.team_hours or 24)
    Team.objects.filter(pk=team.pk).update(clock_started_at=now, expires_at=expires)
    team.clock_started_at, team.expires_at = now, expires


def team_fill_if_complete(team: Team, now: dt.datetime) -> bool:
    """The last member paid: the team fills and its members get vouchers (team.filled)."""
    if team.status != "forming" or team.members_paid < team.size:
        return False
    state_transition(team, TEAM, "fill")
    Team.objects.filter(pk=team.pk).update(finished_at=now)
    events.publish("team.filled", team_id=team.pk, deal_id=team.deal_id)
    return True


def team_cancel(team: Team, now: dt.datetime) -> None:
    """The leader never paid: the team is cancelled (nobody else could join it yet)."""
    if team.status == "open":
        state_transition(team, TEAM, "cancel")
        Team.objects.filter(pk=team.pk).update(finished_at=now)


def _team_timeout(team: Team, now: dt.datetime, *, force_fail: bool = False) -> str | None:
    if team.status == "open":
        team_cancel(team, now)
        return "cancel"
    if team.status != "forming":
        return None
    if team.deal.virtual_completion and not force_fail:
        state_transition(team, TEAM, "complete_virtually")
        Team.objects.filter(pk=team.pk).update(finished_at=now, virtual=True)
        audit("team_buy.virtual", obj=team, members_paid=team.members_paid, size=team.size)
        events.publish("team.filled", team_id=team.pk, deal_id=team.deal_id, virtual=True)
        return "complete_virtually"
    state_transition(team, TEAM, "fail")
    Team.objects.filter(pk=team.pk).update(finished_at=now)
    events.publish("team.failed", team_id=team.pk, deal_id=team.deal_id)
    return "fail"


def teams_expire_due(*, now: dt.datetime | None = None) -> int:
    """Teams whose H hours ran out fail (or complete virtually); idempotent like the deal clock."""
    when = now or _now()
    ids = list(Team.objects.filter(status="forming", expires_at__lte=when).order_by("pk").values_list("pk", flat=True))
    moved = 0
    for pk in ids:
        with transaction.atomic():
            # Deal, then team (ADR 0010's order: the member rows come before the deal, and this
            # touches none).
            deal_id = Team.objects.filter(pk=pk).values_list("deal_id", flat=True).get()
            deal = Deal.objects.select_for_update().get(pk=deal_id)
            team = Team.objects.select_for_update().select_related("deal").get(pk=pk)
            if team.status == "forming" and team.expires_at and team.expires_at <= when:
                _team_timeout(team, when)
                moved += 1
                deal.refresh_from_db()
                if deal.status == "live":
                    deal_tip_if_reached(deal, when)
    return moved


# --------------------------------------------------------------------------------------------
# Media: uploaded images (several, in order) and one video, checked by content (deals/media.py)

log = logging.getLogger(__name__)


def _media_deal(actor: Any, deal_id: int, *, field: str) -> Deal:
    deal = Deal.objects.select_for_update().select_related("merchant").filter(pk=deal_id).first()
    if deal is None:
        raise NotFound()
    _require_deal_editor(actor, deal)
    if deal.status not in EDITABLE_BY_STATE:
        raise ValidationFailed.field(
            field, _("This cannot be changed in the deal's current state."), code="field_locked"
        )
    return deal


def _delete_files_on_commit(names: Iterable[str | None]) -> None:
    storage = DealMedia._meta.get_field("file").storage  # type: ignore[union-attr]

    def delete(name: str) -> Callable[[], None]:
        return lambda: storage.delete(name)

    for name in names:
        if name:
            transaction.on_commit(delete(name))


def deal_media_upload(
    *,
    actor: Any,
    deal_id: int,
    images: Sequence[Any] = (),
    video: Any = None,
    captions: Sequence[str] = (),
) -> list[DealMedia]:
    """Add images (after the ones already there, in the order given) and/or set the video.

    Every file is checked before any is stored (errors name the field, ``images.<i>`` or
    ``video``); a new video replaces the old one, whose file is deleted once this commits.
    If anything fails after a file is stored (a later file, the rows, the audit, the commit
    itself), the files this call stored are deleted before the error goes on (ADR 0009).
    """
    storage = DealMedia._meta.get_field("file").storage  # type: ignore[union-attr]
    saved: list[str] = []
    try:
        with transaction.atomic():  # a savepoint inside a caller's transaction, else the commit
            return _media_upload(actor, deal_id, images, video, captions, storage=storage, saved=saved)
    except BaseException:
        for name in saved:
            try:
                storage.delete(name)
            except Exception:  # the first error is the one to report; this one is logged
                log.exception("could not delete %s after a failed media upload", name)
        raise


def _media_upload(
    actor: Any,
    deal_id: int,
    images: Sequence[Any],
    video: Any,
    captions: Sequence[str],
    *,
    storage: Any,
    saved: list[str],
) -> list[DealMedia]:
    """deal_media_upload's work, in its transaction; each stored name is added to `saved` at once."""
    from tuangou.deals import media as checks

    deal = _media_deal(actor, deal_id, field="images" if images else "video")
    found = [checks.inspect(f, field=f"images.{i}", kind="image") for i, f in enumerate(images)]
    video_found = checks.inspect(video, field="video", kind="video") if video is not None else None
    existing = list(deal.media.filter(kind=DealMedia.Kind.IMAGE).values_list("position", flat=True))
    if len(existing) + len(found) > checks.max_images():
        raise ValidationFailed.field(
            "images",
            _("A deal has at most %(n)d images.") % {"n": checks.max_images()},
            code="too_many_images",
        )
    created: list[DealMedia] = []
    position = max(existing, default=-1) + 1
    for i, (upload, info) in enumerate(zip(images, found, strict=True)):
        name = storage.save(info.storage_name(), upload)
        saved.append(name)
        caption = (captions[i] if i < len(captions) else "")[:120]
        created.append(
            DealMedia.objects.create(
                deal=deal, kind=DealMedia.Kind.IMAGE, file=name, caption=caption, position=position + i
            )
        )
    if video is not None and video_found is not None:
        old = list(deal.media.filter(kind=DealMedia.Kind.VIDEO))
        name = storage.save(video_found.storage_name(), video)
        saved.append(name)
        for row in old:
            row.delete()
        _delete_files_on_commit(row.file.name for row in old)  # dropped with the savepoint on a rollback
        created.append(DealMedia.objects.create(deal=deal, kind=DealMedia.Kind.VIDEO, file=name, position=0))
    audit(
        "deal.media_upload",
        actor=actor,
        obj=deal,
        images=len(found),
        video=video_found is not None,
    )
    return created


@transaction.atomic
def deal_media_remove(*, actor: Any, deal_id: int, media_id: int) -> None:
    """Remove one image or the video; the file goes once this commits."""
    deal = _media_deal(actor, deal_id, field="media")
    row = deal.media.filter(pk=media_id).first()
    if row is None:
        raise NotFound()
    name = row.file.name if row.file else ""
    row.delete()
    _delete_files_on_commit([name])
    audit("deal.media_remove", actor=actor, obj=deal, media_id=media_id, kind=row.kind)


@transaction.atomic
def deal_media_reorder(*, actor: Any, deal_id: int, media_ids: Sequence[int]) -> list[DealMedia]:
    """Put the deal's images in the order of `media_ids`, which must list each of them once."""
    deal = _media_deal(actor, deal_id, field="media_ids")
    rows = {m.pk: m for m in deal.media.filter(kind=DealMedia.Kind.IMAGE)}
    if sorted(media_ids) != sorted(rows) or len(set(media_ids)) != len(media_ids):
        raise ValidationFailed.field("media_ids", _("List each of the deal's images once."), code="media_ids_mismatch")
    for position, pk in enumerate(media_ids):
        rows[pk].position = position
    DealMedia.objects.bulk_update(list(rows.values()), ["position"])
    audit("deal.media_reorder", actor=actor, obj=deal, order=list(media_ids))
    return [rows[pk] for pk in media_ids]
