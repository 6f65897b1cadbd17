"""The little payments needs from orders, in one place (a port).

Payments is designed against a minimal order: an id, an amount (Decimal), a buyer and a subject,
plus two questions — "may this order still be paid?" and "it is paid now". While the orders app
is not installed (or in unit tests) a backend can be plugged in with `use_backend`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.apps import apps


@dataclass(frozen=True)
class PayableOrder:
    id: int
    amount: Decimal
    buyer_id: int
    subject: str
    awaiting_payment: bool = True
    number: str = ""


class OrderBackend(Protocol):
    def get(self, order_id: int) -> PayableOrder | None: ...

    def mark_paid(self, order_id: int, *, payment_id: int, amount: Decimal) -> bool:
        """Mark the order paid; False when it can no longer be (expired, deal closed)."""
        ...

    def mark_refunded(self, order_id: int, *, note: str = "") -> None:
        """The order's money went back in full."""
        ...


# Why a member may not have their money back (the deal's refund policy), for `refund_refusal`.
REFUND_NOT_ALLOWED = "refund_not_allowed"  # the deal does not offer 隨時退
VOUCHER_USED = "voucher_used"  # a voucher of the order was used (or settled)
REFUND_BY_VOUCHER = "refund_by_voucher"  # a part of an order with vouchers: give back single vouchers


class _OrdersApp:
    """The real orders app: `orders.services.order_mark_paid` refuses what can no longer be paid."""

    def get(self, order_id: int) -> PayableOrder | None:
        from django.utils import timezone

        from tuangou.orders.models import Order

        order = Order.objects.select_related("deal").filter(pk=order_id).first()
        if order is None:
            return None
        return PayableOrder(
            id=order.pk,
            amount=order.amount,
            buyer_id=order.user_id,
            subject=order.deal.title,
            awaiting_payment=order.status == "pending" and order.expires_at > timezone.now(),
            number=order.number,
        )

    def refund_refusal(self, order_id: int, *, partial: bool) -> str | None:
        """The deal's refund policy for a member's own request; None when it allows it.

        隨時退 only where the deal offers it; nothing once a voucher is used; a part of an order
        that has vouchers is given back voucher by voucher (so the refunded ones cannot be used).
        過期退 is not asked here: vouchers refunds expired vouchers by itself.
        """
        from tuangou.orders.models import Order
        from tuangou.vouchers.models import Voucher
        from tuangou.vouchers.selectors import order_refund_allowed

        order = Order.objects.select_related("deal").filter(pk=order_id).only("deal__refund_anytime").first()
        if order is None:
            return None
        if not order.deal.refund_anytime:
            return REFUND_NOT_ALLOWED
        if not order_refund_allowed(order_id):
            return VOUCHER_USED
        if partial and Voucher.objects.filter(order_id=order_id).exists():
            return REFUND_BY_VOUCHER
        return None

    def mark_paid(self, order_id: int, *, payment_id: int, amount: Decimal) -> bool:
        from tuangou.core.errors import AppError
        from tuangou.orders.services import order_mark_paid

        try:
            order = order_mark_paid(order_id=order_id)
        except AppError:
            return False
        return order.amount == amount

    def paid_order_ids(self, *, deal_id: int, team_id: int | None = None) -> list[int]:
        from tuangou.orders.models import Order
        from tuangou.orders.services import PAID_STATES

        orders = Order.objects.filter(deal_id=deal_id, status__in=PAID_STATES)
        if team_id is not None:
            orders = orders.filter(team_id=team_id)
        return list(orders.order_by("pk").values_list("pk", flat=True))

    def overpaid(self, *, deal_id: int, final_unit_price: Decimal) -> list[tuple[int, Decimal]]:
        """(order id, amount paid above the final tier price) for every paid order of the deal."""
        from tuangou.deals.selectors import deal_tier_differences

        return deal_tier_differences(deal_id=deal_id)

    def mark_refunded(self, order_id: int, *, note: str = "") -> None:
        from tuangou.core.errors import AppError
        from tuangou.orders.services import order_mark_refunded

        # not a paid order any more (expired, completed): nothing to record there
        with contextlib.suppress(AppError):
            order_mark_refunded(order_id=order_id, note=note)


class _Missing:
    def mark_refunded(self, order_id: int, *, note: str = "") -> None:
        return None

    def get(self, order_id: int) -> PayableOrder | None:
        return None

    def mark_paid(self, order_id: int, *, payment_id: int, amount: Decimal) -> bool:
        return False


_backend: OrderBackend | None = None


def use_backend(backend: OrderBackend | None) -> None:
    global _backend
    _backend = backend


def backend() -> OrderBackend:
    if _backend is not None:
        return _backend
    if apps.is_installed("tuangou.orders"):
        return _OrdersApp()
    return _Missing()


class _DealOrders:
    """Which orders a deal event concerns; empty while the orders app is not installed."""

    def paid_order_ids(self, *, deal_id: int, team_id: int | None = None) -> list[int]:
        if not apps.is_installed("tuangou.orders"):
            return []
        return _OrdersApp().paid_order_ids(deal_id=deal_id, team_id=team_id)

    def overpaid(self, *, deal_id: int, final_unit_price: Decimal) -> list[tuple[int, Decimal]]:
        if not apps.is_installed("tuangou.orders"):
            return []
        return _OrdersApp().overpaid(deal_id=deal_id, final_unit_price=final_unit_price)


deal_orders = _DealOrders()
