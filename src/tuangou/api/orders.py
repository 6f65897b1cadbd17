"""/api/v1/orders/{id}, /api/v1/me/orders: the orders joining creates. Payments plug in on top."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from tuangou.accounts.roles import Role
from tuangou.api.schemas import ERRORS, ErrorOut, Money
from tuangou.core.ownership import get_visible, require_role
from tuangou.orders import selectors, services
from tuangou.orders.models import Order

router = Router(tags=["orders"])


class OrderOut(Schema):
    id: int
    number: str
    deal_id: int
    deal_title: str
    team_id: int | None
    is_leader: bool
    quantity: int
    unit_price: Money
    amount: Money
    status: str
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None


def order_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.pk,
        number=order.number,
        deal_id=order.deal_id,
        deal_title=order.deal.title,
        team_id=order.team_id,
        is_leader=order.is_leader,
        quantity=order.quantity,
        unit_price=order.unit_price,
        amount=order.amount,
        status=order.status,
        created_at=order.created_at,
        expires_at=order.expires_at,
        paid_at=order.paid_at,
    )


@router.get("/orders/{order_id}", response={200: OrderOut, 401: ErrorOut, 404: ErrorOut}, summary="One order")
def order_detail(request: HttpRequest, order_id: int) -> OrderOut:
    return order_out(get_visible(Order.objects.select_related("deal"), request.user, pk=order_id))


@router.post("/orders/{order_id}/cancel", response={200: OrderOut, **ERRORS}, summary="Cancel an unpaid order")
def order_cancel(request: HttpRequest, order_id: int) -> OrderOut:
    services.order_cancel(actor=request.user, order_id=order_id)
    return order_out(Order.objects.select_related("deal").get(pk=order_id))


@router.get("/me/orders", response={200: list[OrderOut], 401: ErrorOut}, summary="My orders")
def my_orders(request: HttpRequest, limit: int = 50, offset: int = 0) -> list[OrderOut]:
    limit = max(1, min(limit, 200))
    return [order_out(o) for o in selectors.orders_of_member(request.user)[offset : offset + limit]]


class MerchantOrderOut(Schema):
    id: int
    number: str
    deal_id: int
    deal_title: str
    team_id: int | None
    member: str = Field(description="The buyer's mobile, masked (138****0000)")
    quantity: int
    unit_price: Money
    amount: Money
    status: str
    created_at: datetime
    paid_at: datetime | None
    vouchers_issued: int
    vouchers_used: int = Field(description="Vouchers verified at a store (used or already settled)")


class MerchantOrderFilter(Schema):
    deal_id: int | None = None
    status: Literal["pending", "paid", "expired", "cancelled", "refunded", "completed"] | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


@router.get(
    "/merchant/orders",
    response={200: list[MerchantOrderOut], **ERRORS},
    summary="Orders of my deals (merchants; operators see every deal's)",
)
def merchant_orders(request: HttpRequest, filters: Query[MerchantOrderFilter]) -> list[MerchantOrderOut]:
    require_role(request.user, Role.MERCHANT, Role.OPERATOR)
    qs = selectors.orders_of_merchant_deals(request.user, deal_id=filters.deal_id, status=filters.status)
    return [
        MerchantOrderOut(
            id=o.pk,
            number=o.number,
            deal_id=o.deal_id,
            deal_title=o.deal.title,
            team_id=o.team_id,
            member=selectors.mask_mobile(o.user.mobile),
            quantity=o.quantity,
            unit_price=o.unit_price,
            amount=o.amount,
            status=o.status,
            created_at=o.created_at,
            paid_at=o.paid_at,
            vouchers_issued=o.vouchers_issued,  # type: ignore[attr-defined]
            vouchers_used=o.vouchers_used,  # type: ignore[attr-defined]
        )
        for o in qs[filters.offset : filters.offset + filters.limit]
    ]
