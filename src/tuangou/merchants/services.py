"""The BD pipeline (S4): prospects, visits, moving along the declared process, signing the agreement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tuangou.accounts.roles import Role
from tuangou.core.audit import audit
from tuangou.core.errors import Conflict, NotFound, ValidationFailed
from tuangou.core.models import City
from tuangou.core.money import money
from tuangou.core.ownership import get_visible, has_role, require_role
from tuangou.core.workflow.engine import transition
from tuangou.merchants.models import Agreement, Merchant, MerchantMember, Prospect, Store, Visit
from tuangou.merchants.process import PIPELINE


def prospect_create(
    *, actor: Any, name: str, city_id: int, contact: str = "", phone: str = "", address: str = "", note: str = ""
) -> Prospect:
    require_role(actor, Role.BD_REP, Role.OPERATOR)
    if not name.strip():
        raise ValidationFailed.field("name", _("This field is required."), code="required")
    city = City.objects.filter(pk=city_id).first()
    if city is None:
        raise ValidationFailed.field("city_id", _("Choose a city."), code="invalid_choice")
    with transaction.atomic():
        prospect = Prospect.objects.create(
            name=name.strip(), city=city, contact=contact, phone=phone, address=address, note=note, rep=actor
        )
        audit("prospect.create", actor=actor, obj=prospect)
    return prospect


def prospect_move(*, actor: Any, prospect_id: int, action: str, note: str = "") -> Prospect:
    """Move a prospect along the declared pipeline, through the workflow engine (which checks the
    lane or ownership and the note, and logs it). ``sign`` needs the filed agreement. The row is
    locked while still at the stage the caller saw: of two people moving it at once, the second
    is told it changed."""
    prospect = get_visible(Prospect.objects.all(), actor, pk=prospect_id)
    if action == "sign" and prospect.agreement_id is None:
        raise Conflict(_("File the signed agreement first."), code="agreement_missing")
    with transaction.atomic():
        locked = Prospect.objects.select_for_update().filter(pk=prospect.pk, stage=prospect.stage).first()
        if locked is None:
            raise Conflict(_("This prospect changed meanwhile; reload it."), code="prospect_changed")
        documents = {"agreement": str(locked.agreement_id)} if action == "sign" else None
        log = transition(locked, action, actor=actor, note=note, documents=documents, process=PIPELINE)
        Prospect.objects.filter(pk=prospect.pk).update(stage_changed_at=log.at)
        audit(f"bd_pipeline.{action}", actor=actor, obj=prospect, source=log.from_state, target=log.to_state, note=note)
    prospect.refresh_from_db()
    return prospect


def visit_record(
    *, actor: Any, prospect_id: int, notes: str, next_step: str = "", visited_at: dt.datetime | None = None
) -> Visit:
    prospect = get_visible(Prospect.objects.all(), actor, pk=prospect_id)
    if not notes.strip():
        raise ValidationFailed.field("notes", _("Write what was said."), code="required")
    with transaction.atomic():
        visit = Visit.objects.create(
            prospect=prospect,
            rep=actor,
            notes=notes.strip(),
            next_step=next_step,
            visited_at=visited_at or timezone.now(),
        )
        audit("prospect.visit", actor=actor, obj=prospect)
    if prospect.stage == "lead":
        prospect_move(actor=actor, prospect_id=prospect.pk, action="contact")
    return visit


def _amount(value: Any, field: str) -> Decimal:
    try:
        return money(value if value not in (None, "") else "0")
    except (TypeError, ValueError):
        raise ValidationFailed.field(field, _("Enter an amount like 19.90."), code="invalid_amount") from None


def agreement_file(
    *,
    actor: Any,
    prospect_id: int,
    commission_kind: str,
    commission_rate: Any = "0",
    commission_per_person: Any = "0",
    settlement_cycle: str = Agreement.Cycle.MONTHLY,
    valid_from: dt.date,
    valid_until: dt.date,
    file: UploadedFile | None = None,
) -> Agreement:
    """達成合作事宜: file the signed agreement (commission by rate or per person, cycle, validity,
    the signed file); the prospect becomes a merchant and moves to ``signed``."""
    prospect = get_visible(Prospect.objects.select_related("merchant"), actor, pk=prospect_id)
    if prospect.stage != "negotiating":
        raise Conflict(_("An agreement is filed while negotiating."), code="transition_not_allowed")
    if commission_kind not in Agreement.CommissionKind.values:
        raise ValidationFailed.field("commission_kind", _("This value is not valid."), code="invalid_choice")
    if settlement_cycle not in Agreement.Cycle.values:
        raise ValidationFailed.field("settlement_cycle", _("This value is not valid."), code="invalid_choice")
    if valid_until < valid_from:
        raise ValidationFailed.field("valid_until", _("The end is before the start."), code="period_order")
    rate = _amount(commission_rate, "commission_rate")
    per_person = _amount(commission_per_person, "commission_per_person")
    if not (0 <= rate <= 100):
        raise ValidationFailed.field("commission_rate", _("Enter a percentage from 0 to 100."), code="out_of_range")
    if per_person < 0:
        raise ValidationFailed.field("commission_per_person", _("Enter an amount of zero or more."), code="negative")
    if commission_kind == Agreement.CommissionKind.PER_PERSON and per_person == 0:
        raise ValidationFailed.field("commission_per_person", _("Enter the commission per person."), code="required")
    with transaction.atomic():
        merchant = prospect.merchant or Merchant.objects.create(
            name=prospect.name,
            slug=f"{slugify(prospect.name) or 'merchant'}-p{prospect.pk}",
            city=prospect.city,
            phone=prospect.phone,
        )
        agreement = Agreement.objects.create(
            merchant=merchant,
            commission_kind=commission_kind,
            commission_rate=rate,
            commission_per_person=per_person,
            settlement_cycle=settlement_cycle,
            valid_from=valid_from,
            valid_until=valid_until,
            signed_at=timezone.now(),
        )
        prospect.merchant = merchant
        prospect.agreement = agreement
        if file is not None:
            prospect.agreement_file = file
        prospect.save(update_fields=["merchant", "agreement", "agreement_file"])
        audit("agreement.file", actor=actor, obj=agreement, prospect=prospect.pk)
        prospect_move(actor=actor, prospect_id=prospect.pk, action="sign")
    return agreement


# --------------------------------------------------------------------------------------------
# The merchant's mini-site (商家獨立首頁, S2): home, details, promotions, all deals, video


def _require_site_editor(actor: Any, merchant_id: int) -> Merchant:
    """A merchant's admins edit its mini-site (an operator may too); anyone else: 404."""
    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is None:
        raise NotFound()
    admin = MerchantMember.objects.filter(
        user_id=getattr(actor, "pk", 0), merchant_id=merchant_id, store__isnull=True
    ).exists()
    if not admin and not has_role(actor, Role.OPERATOR):
        raise NotFound()
    return merchant


def _video_url(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    try:
        URLValidator(schemes=["http", "https"])(value)
    except DjangoValidationError:
        raise ValidationFailed.field(
            "video_url", _("Enter a web address starting with http:// or https://."), code="invalid_url"
        ) from None
    return value


def merchant_site_update(
    *,
    actor: Any,
    merchant_id: int,
    description: str,
    promotions: str,
    video_url: str = "",
    phone: str = "",
) -> Merchant:
    """The merchant's admin edits its mini-site: the introduction on the home and details pages,
    the promotions, the video and the phone. Only its admins (or an operator); the deals on the
    "all deals" page come from the deals themselves."""
    merchant = _require_site_editor(actor, merchant_id)
    if len(description) > 5000:
        raise ValidationFailed.field("description", _("At most 5000 characters."), code="too_long")
    if len(promotions) > 2000:
        raise ValidationFailed.field("promotions", _("At most 2000 characters."), code="too_long")
    if len(phone.strip()) > 40:
        raise ValidationFailed.field("phone", _("At most 40 characters."), code="too_long")
    video = _video_url(video_url)
    with transaction.atomic():
        Merchant.objects.filter(pk=merchant.pk).update(
            description=description.strip(), promotions=promotions.strip(), video_url=video, phone=phone.strip()
        )
        audit("merchant.site_update", actor=actor, obj=merchant)
    merchant.refresh_from_db()
    return merchant


def store_update(*, actor: Any, store_id: int, address: str, phone: str = "", opening_hours: str = "") -> Store:
    """A store's address, phone and opening hours, shown on the mini-site's details page."""
    store = Store.objects.filter(pk=store_id).first()
    if store is None:
        raise NotFound()
    _require_site_editor(actor, store.merchant_id)
    if not address.strip():
        raise ValidationFailed.field("address", _("This field is required."), code="required")
    for field, value, limit in (("address", address, 200), ("phone", phone, 40), ("opening_hours", opening_hours, 120)):
        if len(value.strip()) > limit:
            raise ValidationFailed.field(field, _("At most %(n)d characters.") % {"n": limit}, code="too_long")
    with transaction.atomic():
        Store.objects.filter(pk=store.pk).update(
            address=address.strip(), phone=phone.strip(), opening_hours=opening_hours.strip()
        )
        audit("store.update", actor=actor, obj=store)
    store.refresh_from_db()
    return store
