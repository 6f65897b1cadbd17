"""/api/v1/vouchers/… (the counter), /api/v1/me/vouchers (members), /api/v1/merchant/vouchers."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from tuangou.api.schemas import ERRORS, ErrorOut, Money
from tuangou.core.ownership import get_visible, require_login
from tuangou.core.ratelimit import client_ip
from tuangou.vouchers import selectors, services
from tuangou.vouchers.models import Voucher

router = Router(tags=["vouchers"])


class VoucherOut(Schema):
    id: int
    code: str = Field(description="Shown in groups of four; the last digit is a Damm check digit")
    deal_id: int
    deal_title: str
    order_id: int
    units: int
    amount: Money
    state: str
    state_label: str
    valid_from: dt.date
    valid_until: dt.date
    used_at: dt.datetime | None
    used_store: str | None


class MyVoucherOut(VoucherOut):
    password: str
    resends_left: int
    qr_svg: str = Field(description="Inline SVG QR code of the code")


class VerifyIn(Schema):
    code: str = Field(max_length=40, examples=["1234 5678 9012 3456 7890"])
    store: int = Field(description="Id of the store at whose counter the voucher is used")
    password: str = Field("", max_length=12)


class UndoIn(Schema):
    reason: str = Field(max_length=200)


def voucher_out(v: Voucher, *, cls: type[VoucherOut] = VoucherOut, **extra: object) -> VoucherOut:
    return cls(
        id=v.pk,
        code=v.display_code,
        deal_id=v.deal_id,
        deal_title=v.deal.title,
        order_id=v.order_id,
        units=v.units,
        amount=v.amount,
        state=v.state,
        state_label=v.state_label,
        valid_from=v.valid_from,
        valid_until=v.valid_until,
        used_at=v.used_at,
        used_store=v.used_store.name if v.used_store else None,
        **extra,
    )


def my_voucher_out(v: Voucher) -> VoucherOut:
    return voucher_out(
        v,
        cls=MyVoucherOut,
        password=v.password,
        resends_left=services.MAX_RESENDS - v.resends,
        qr_svg=selectors.qr_svg(v),
    )


@router.post("/vouchers/lookup", response={200: VoucherOut, **ERRORS}, summary="What a code is for (counter)")
def voucher_lookup(request: HttpRequest, payload: VerifyIn) -> VoucherOut:
    v = services.voucher_lookup(actor=request.user, code=payload.code, store_id=payload.store, ip=client_ip(request))
    return voucher_out(v)


@router.post(
    "/vouchers/verify",
    response={200: VoucherOut, **ERRORS},
    summary="Use a voucher at a store (驗證); a code is used once",
)
def voucher_verify(request: HttpRequest, payload: VerifyIn) -> VoucherOut:
    v = services.voucher_verify(
        actor=request.user, code=payload.code, store_id=payload.store, password=payload.password, ip=client_ip(request)
    )
    return voucher_out(v)  # as used: its deal's title and the store read with it


@router.post(
    "/vouchers/{voucher_id}/undo",
    response={200: VoucherOut, **ERRORS},
    summary="Undo a verification within the undo window, with a reason",
)
def voucher_undo(request: HttpRequest, voucher_id: int, payload: UndoIn) -> VoucherOut:
    v = services.voucher_undo(actor=request.user, voucher_id=voucher_id, reason=payload.reason)
    return voucher_out(Voucher.objects.select_related("deal", "used_store").get(pk=v.pk))


@router.get("/me/vouchers", response={200: list[MyVoucherOut], 401: ErrorOut}, summary="My vouchers")
def my_vouchers(request: HttpRequest, limit: int = 50, offset: int = 0) -> list[VoucherOut]:
    require_login(request.user)
    limit = max(1, min(limit, 200))
    qs = selectors.vouchers_of_member(request.user).select_related("used_store")
    return [my_voucher_out(v) for v in qs[offset : offset + limit]]


@router.post(
    "/me/vouchers/{voucher_id}/resend",
    response={200: MyVoucherOut, **ERRORS},
    summary="Send the voucher SMS again (at most 5 times)",
)
def my_voucher_resend(request: HttpRequest, voucher_id: int) -> VoucherOut:
    services.voucher_resend(actor=request.user, voucher_id=voucher_id)
    return my_voucher_out(Voucher.objects.select_related("deal", "used_store").get(pk=voucher_id))


@router.post(
    "/me/vouchers/{voucher_id}/refund",
    response={200: MyVoucherOut, **ERRORS},
    summary="Refund an unused voucher (隨時退), where the deal allows it",
)
def my_voucher_refund(request: HttpRequest, voucher_id: int) -> VoucherOut:
    services.voucher_refund(actor=request.user, voucher_id=voucher_id)
    return my_voucher_out(Voucher.objects.select_related("deal", "used_store").get(pk=voucher_id))


@router.get(
    "/merchant/vouchers",
    response={200: list[VoucherOut], 401: ErrorOut},
    summary="The merchant's vouchers (admins: all; clerks: used at their store)",
)
def merchant_vouchers(
    request: HttpRequest, state: str | None = None, limit: int = 50, offset: int = 0
) -> list[VoucherOut]:
    require_login(request.user)
    limit = max(1, min(limit, 200))
    return [voucher_out(v) for v in selectors.vouchers_of_merchant(request.user, state=state)[offset : offset + limit]]


@router.get(
    "/merchant/vouchers/{voucher_id}",
    response={200: VoucherOut, 401: ErrorOut, 404: ErrorOut},
    summary="One of the merchant's vouchers",
)
def merchant_voucher(request: HttpRequest, voucher_id: int) -> VoucherOut:
    return voucher_out(get_visible(selectors.vouchers_of_merchant(request.user), request.user, pk=voucher_id))
