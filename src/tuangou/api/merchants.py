"""/api/v1/bd/prospects: the BD pipeline (S4 業務員上門聯系商家 → 達成合作事宜)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from tuangou.api.schemas import ERRORS, ErrorOut
from tuangou.core.ownership import get_visible, require_login, visible_to
from tuangou.merchants import services
from tuangou.merchants.models import Prospect

router = Router(tags=["merchants"])


class ProspectIn(Schema):
    name: str = Field(max_length=120)
    city_id: int
    contact: str = Field("", max_length=60)
    phone: str = Field("", max_length=40)
    address: str = Field("", max_length=200)
    note: str = ""


class ProspectOut(Schema):
    id: int
    name: str
    city_id: int
    rep_id: int
    stage: str
    merchant_id: int | None
    agreement_id: int | None
    visits: int


class VisitIn(Schema):
    notes: str
    next_step: str = Field("", max_length=200)


class MoveIn(Schema):
    action: str = Field(description="contact | negotiate | go_live | lapse | drop")
    note: str = ""


class AgreementIn(Schema):
    commission_kind: str = Field(description="rate | per_person")
    commission_rate: str = "0"
    commission_per_person: str = "0"
    settlement_cycle: str = "monthly"
    valid_from: dt.date
    valid_until: dt.date


def prospect_out(p: Prospect) -> ProspectOut:
    return ProspectOut(
        id=p.pk,
        name=p.name,
        city_id=p.city_id,
        rep_id=p.rep_id,
        stage=p.stage,
        merchant_id=p.merchant_id,
        agreement_id=p.agreement_id,
        visits=p.visits.count(),
    )


@router.get("/bd/prospects", response={200: list[ProspectOut], 401: ErrorOut}, summary="The BD pipeline")
def prospects(request: HttpRequest, stage: str | None = None) -> list[ProspectOut]:
    require_login(request.user)
    qs = visible_to(Prospect.objects.all(), request.user)
    if stage:
        qs = qs.filter(stage=stage)
    return [prospect_out(p) for p in qs[:200]]


@router.post("/bd/prospects", response={200: ProspectOut, **ERRORS}, summary="Add a lead")
def prospect_create(request: HttpRequest, payload: ProspectIn) -> ProspectOut:
    return prospect_out(services.prospect_create(actor=request.user, **payload.dict()))


@router.post("/bd/prospects/{prospect_id}/visits", response={200: ProspectOut, **ERRORS}, summary="Record a visit")
def visit(request: HttpRequest, prospect_id: int, payload: VisitIn) -> ProspectOut:
    services.visit_record(actor=request.user, prospect_id=prospect_id, notes=payload.notes, next_step=payload.next_step)
    return prospect_out(get_visible(Prospect.objects.all(), request.user, pk=prospect_id))


@router.post(
    "/bd/prospects/{prospect_id}/move", response={200: ProspectOut, **ERRORS}, summary="Move along the pipeline"
)
def move(request: HttpRequest, prospect_id: int, payload: MoveIn) -> ProspectOut:
    return prospect_out(
        services.prospect_move(actor=request.user, prospect_id=prospect_id, action=payload.action, note=payload.note)
    )


@router.post(
    "/bd/prospects/{prospect_id}/agreement",
    response={200: ProspectOut, **ERRORS},
    summary="File the signed agreement (the prospect becomes a merchant)",
)
def agreement(request: HttpRequest, prospect_id: int, payload: AgreementIn) -> ProspectOut:
    services.agreement_file(actor=request.user, prospect_id=prospect_id, **payload.dict())
    return prospect_out(get_visible(Prospect.objects.all(), request.user, pk=prospect_id))
