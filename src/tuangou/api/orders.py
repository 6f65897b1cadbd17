"""/api/v1/orders/{id}, /api/v1/me/orders: the orders joining creates. Payments plug in on top."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema

from tuangou.api.schemas import ERRORS, ErrorOut, Money
from tuangou.core.ownership import get_visible
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
