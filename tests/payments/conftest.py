"""Orders for payment tests: a small in-memory order backend (the minimal order interface)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from itertools import count

import pytest

from tuangou.payments import orders
from tuangou.payments.orders import PayableOrder


class FakeOrders:
    def __init__(self) -> None:
        self.orders: dict[int, PayableOrder] = {}
        self.paid: dict[int, int] = {}
        self.closed: set[int] = set()
        self.refunded: set[int] = set()
        self._ids = count(1000)

    def add(self, buyer_id: int, amount: str = "19.90", subject: str = "火鍋雙人套餐") -> PayableOrder:
        order = PayableOrder(id=next(self._ids), amount=Decimal(amount), buyer_id=buyer_id, subject=subject)
        self.orders[order.id] = order
        return order

    def get(self, order_id: int) -> PayableOrder | None:
        order = self.orders.get(order_id)
        if order is None:
            return None
        waiting = order_id not in self.paid and order_id not in self.closed
        return PayableOrder(order.id, order.amount, order.buyer_id, order.subject, awaiting_payment=waiting)

    def mark_refunded(self, order_id: int, *, note: str = "") -> None:
        self.refunded.add(order_id)

    def mark_paid(self, order_id: int, *, payment_id: int, amount: Decimal) -> bool:
        if order_id in self.closed:
            return False
        self.paid.setdefault(order_id, payment_id)
        return True


@pytest.fixture
def fake_orders() -> Iterator[FakeOrders]:
    backend = FakeOrders()
    orders.use_backend(backend)
    yield backend
    orders.use_backend(None)
