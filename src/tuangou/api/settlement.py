"""/api/v1/merchant/settlements, reconciliation (tallies, differences, disputes), back-office settlement."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from ninja import File, Router, Schema
from ninja.files import UploadedFile
from pydantic import Field

from tuangou.api.schemas import ERRORS, ErrorOut, Money
from tuangou.core.ownership import get_visible, require_login
from tuangou.core.time import local_date
from tuangou.settlement import selectors, services
from tuangou.settlement.models import Dispute, Statement

router = Router(tags=["settlement"])


class StatementOut(Schema):
    id: int
    number: str
    merchant_id: int
    merchant: str
    period_start: dt.date
    period_end: dt.date
    basis: str
    commission_kind: str
    units: int
    gross: Money
    refund_units: int
    refunds: Money
    commission: Money
    payable: Money
    state: str
    confirmed_at: dt.datetime | None
    approved_at: dt.datetime | None
    paid_at: dt.datetime | None
    payout_reference: str


def statement_out(s: Statement) -> StatementOut:
    return StatementOut(
        id=s.pk,
        number=s.number,
        merchant_id=s.merchant_id,
        merchant=s.merchant.name,
        period_start=s.period_start,
        period_end=s.period_end,
        basis=s.basis,
        commission_kind=s.commission_kind,
        units=s.units,
        gross=s.gross,
        refund_units=s.refund_units,
        refunds=s.refunds,
        commission=s.commission,
        payable=s.payable,
        state=s.state,
        confirmed_at=s.confirmed_at,
        approved_at=s.approved_at,
        paid_at=s.paid_at,
        payout_reference=s.payout_reference,
    )


class NoteIn(Schema):
    note: str = Field(max_length=2000)


class PayIn(Schema):
    reference: str = Field(max_length=80)


class GenerateIn(Schema):
    merchant_id: int
    period_start: dt.date
    period_end: dt.date
    basis: Statement.Basis = Statement.Basis.VERIFIED


class TallyIn(Schema):
    merchant_id: int | None = None
    day: str
    units: str | int
    amount: str
    note: str = Field("", max_length=200)


class TallyOut(Schema):
    day: dt.date
    units: int
    amount: Money


class DayOut(Schema):
    day: dt.date
    platform_units: int
    platform_amount: Money
    merchant_units: int | None
    merchant_amount: Money | None
    differs: bool
    dispute_id: int | None


class DisputeIn(Schema):
    merchant_id: int | None = None
    day: str
    comment: str = Field(max_length=2000)


class CommentIn(Schema):
    text: str = Field(max_length=2000)


class ResolveIn(Schema):
    resolution: str = Field(max_length=2000)


class CommentOut(Schema):
    author: str
    text: str
    at: dt.datetime


class DisputeOut(Schema):
    id: int
    merchant_id: int
    day: dt.date
    platform_units: int
    platform_amount: Money
    merchant_units: int
    merchant_amount: Money
    state: str
    resolution: str
    comments: list[CommentOut]


def dispute_out(d: Dispute) -> DisputeOut:
    return DisputeOut(
        id=d.pk,
        merchant_id=d.merchant_id,
        day=d.day,
        platform_units=d.platform_units,
        platform_amount=d.platform_amount,
        merchant_units=d.merchant_units,
        merchant_amount=d.merchant_amount,
        state=d.state,
        resolution=d.resolution,
        comments=[CommentOut(author=str(c.author or ""), text=c.text, at=c.at) for c in d.comments.all()],
    )


# -- statements -------------------------------------------------------------------------------


@router.get(
    "/merchant/settlements",
    response={200: list[StatementOut], 401: ErrorOut},
    summary="Settlement statements (a merchant's admins: theirs; operators and finance: all)",
)
def settlements(request: HttpRequest, state: str | None = None, limit: int = 50, offset: int = 0) -> list[StatementOut]:
    require_login(request.user)
    qs = selectors.statements_visible(request.user)
    if state:
        qs = qs.filter(state=state)
    limit = max(1, min(limit, 200))
    return [statement_out(s) for s in qs[offset : offset + limit]]


@router.get(
    "/merchant/settlements/{statement_id}",
    response={200: StatementOut, 401: ErrorOut, 404: ErrorOut},
    summary="One statement",
)
def settlement(request: HttpRequest, statement_id: int) -> StatementOut:
    return statement_out(get_visible(selectors.statements_visible(request.user), request.user, pk=statement_id))


@router.get(
    "/merchant/settlements/{statement_id}/xlsx",
    response={200: None, 401: ErrorOut, 404: ErrorOut},
    summary="The statement as an Excel file",
)
def settlement_xlsx(request: HttpRequest, statement_id: int) -> HttpResponse:
    s = get_visible(selectors.statements_visible(request.user), request.user, pk=statement_id)
    response = HttpResponse(
        services.statement_workbook(s),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{s.number}.xlsx"'
    return response


@router.post(
    "/merchant/settlements/{statement_id}/confirm",
    response={200: StatementOut, **ERRORS},
    summary="The merchant confirms its statement",
)
def settlement_confirm(request: HttpRequest, statement_id: int) -> StatementOut:
    return statement_out(services.statement_confirm(actor=request.user, statement_id=statement_id))


@router.post(
    "/merchant/settlements/{statement_id}/dispute",
    response={200: StatementOut, **ERRORS},
    summary="The merchant disputes its statement, saying why",
)
def settlement_dispute(request: HttpRequest, statement_id: int, payload: NoteIn) -> StatementOut:
    return statement_out(services.statement_dispute(actor=request.user, statement_id=statement_id, note=payload.note))


@router.post("/settlements", response={200: StatementOut, **ERRORS}, summary="Draft a statement (operator)")
def settlement_generate(request: HttpRequest, payload: GenerateIn) -> StatementOut:
    return statement_out(
        services.statement_generate(
            actor=request.user,
            merchant_id=payload.merchant_id,
            period_start=payload.period_start,
            period_end=payload.period_end,
            basis=payload.basis,
        )
    )


@router.post(
    "/settlements/{statement_id}/recompute",
    response={200: StatementOut, **ERRORS},
    summary="Recompute a disputed statement (operator)",
)
def settlement_recompute(request: HttpRequest, statement_id: int) -> StatementOut:
    return statement_out(services.statement_recompute(actor=request.user, statement_id=statement_id))


@router.post(
    "/settlements/{statement_id}/approve",
    response={200: StatementOut, **ERRORS},
    summary="Approve a confirmed statement (operator): escrow → merchant payable",
)
def settlement_approve(request: HttpRequest, statement_id: int) -> StatementOut:
    return statement_out(services.statement_approve(actor=request.user, statement_id=statement_id))


@router.post(
    "/settlements/{statement_id}/pay",
    response={200: StatementOut, **ERRORS},
    summary="Record the payout (finance): merchant payable → paid out",
)
def settlement_pay(request: HttpRequest, statement_id: int, payload: PayIn) -> StatementOut:
    return statement_out(
        services.statement_pay(actor=request.user, statement_id=statement_id, reference=payload.reference)
    )


# -- reconciliation ---------------------------------------------------------------------------


@router.get(
    "/merchant/reconciliation",
    response={200: list[DayOut], **ERRORS},
    summary="Per day: the platform's verifications beside the merchant's tally",
)
def reconciliation(
    request: HttpRequest, start: dt.date | None = None, end: dt.date | None = None, merchant_id: int | None = None
) -> list[DayOut]:
    require_login(request.user)
    mid = selectors.admin_merchant_id(request.user, merchant_id)
    end = end or local_date()
    start = start or end - dt.timedelta(days=30)
    return [
        DayOut(
            day=r.day,
            platform_units=r.platform_units,
            platform_amount=r.platform_amount,
            merchant_units=r.merchant_units,
            merchant_amount=r.merchant_amount,
            differs=r.differs,
            dispute_id=r.dispute_id,
        )
        for r in services.reconciliation(merchant_id=mid, start=start, end=end)
    ]


@router.post(
    "/merchant/tallies", response={200: TallyOut, **ERRORS}, summary="Record the merchant's own tally of a day"
)
def tally_record(request: HttpRequest, payload: TallyIn) -> TallyOut:
    require_login(request.user)
    mid = selectors.admin_merchant_id(request.user, payload.merchant_id)
    t = services.tally_record(
        actor=request.user,
        merchant_id=mid,
        day=payload.day,
        units=payload.units,
        amount=payload.amount,
        note=payload.note,
    )
    return TallyOut(day=t.day, units=t.units, amount=t.amount)


class ImportOut(Schema):
    rows: int


@router.post(
    "/merchant/tallies/upload",
    response={200: ImportOut, **ERRORS},
    summary="Upload tallies as CSV or Excel (columns day, units, amount[, note])",
)
def tally_upload(request: HttpRequest, file: UploadedFile = File(...), merchant_id: int | None = None) -> ImportOut:  # noqa: B008
    require_login(request.user)
    mid = selectors.admin_merchant_id(request.user, merchant_id)
    rows = services.tally_import(actor=request.user, merchant_id=mid, filename=file.name or "", content=file.read())
    return ImportOut(rows=rows)


@router.get("/merchant/disputes", response={200: list[DisputeOut], 401: ErrorOut}, summary="Reconciliation disputes")
def disputes(request: HttpRequest, state: str | None = None) -> list[DisputeOut]:
    require_login(request.user)
    qs = selectors.disputes_visible(request.user)
    if state:
        qs = qs.filter(state=state)
    return [dispute_out(d) for d in qs[:200]]


@router.post("/merchant/disputes", response={200: DisputeOut, **ERRORS}, summary="Dispute a day that differs")
def dispute_open(request: HttpRequest, payload: DisputeIn) -> DisputeOut:
    require_login(request.user)
    mid = selectors.admin_merchant_id(request.user, payload.merchant_id)
    d = services.dispute_open(actor=request.user, merchant_id=mid, day=payload.day, comment=payload.comment)
    return dispute_out(selectors.disputes_visible(request.user).get(pk=d.pk))


@router.post(
    "/merchant/disputes/{dispute_id}/comments", response={200: DisputeOut, **ERRORS}, summary="Comment on a dispute"
)
def dispute_comment(request: HttpRequest, dispute_id: int, payload: CommentIn) -> DisputeOut:
    services.dispute_comment(actor=request.user, dispute_id=dispute_id, text=payload.text)
    return dispute_out(selectors.disputes_visible(request.user).get(pk=dispute_id))


@router.post(
    "/merchant/disputes/{dispute_id}/resolve",
    response={200: DisputeOut, **ERRORS},
    summary="Resolve a dispute (operator)",
)
def dispute_resolve(request: HttpRequest, dispute_id: int, payload: ResolveIn) -> DisputeOut:
    services.dispute_resolve(actor=request.user, dispute_id=dispute_id, resolution=payload.resolution)
    return dispute_out(selectors.disputes_visible(request.user).get(pk=dispute_id))
