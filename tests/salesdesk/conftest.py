"""Sales-desk fixtures: reps, the department, products and customers; orders through the services."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.catalog.models import Product
from tuangou.salesdesk import services
from tuangou.salesdesk.models import Customer, Order


def tiny_png(width: int = 4, height: int = 2) -> bytes:
    """A real (tiny, grey) PNG, as the signature canvas would send."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def rep(make_user: Callable[..., User]) -> User:
    return make_user(Role.SALES_REP, name="趙團購")


@pytest.fixture
def rep2(make_user: Callable[..., User]) -> User:
    return make_user(Role.SALES_REP, name="錢團購")


@pytest.fixture
def dept(make_user: Callable[..., User]) -> User:
    return make_user(Role.SALES_DEPT, name="孫文員")


@pytest.fixture
def wine(db: None) -> Product:
    return Product.objects.create(
        code="W01", name="年份黃酒", unit="箱", list_price=Decimal("300.00"), stock_on_hand=100
    )


@pytest.fixture
def mooncake(db: None) -> Product:
    return Product.objects.create(
        code="M01", name="月餅禮盒", unit="盒", list_price=Decimal("88.00"), stock_on_hand=500
    )


@pytest.fixture
def cash_customer(dept: User) -> Customer:
    return services.customer_create(
        actor=dept, name="張先生", kind=Customer.Kind.PERSON, contacts=[("張先生", "13900000001")]
    )


@pytest.fixture
def credit_customer(dept: User) -> Customer:
    return services.customer_create(
        actor=dept,
        name="市第一中學工會",
        payment_terms=Customer.Terms.NET_DAYS,
        net_days=30,
        credit_limit="5000",
        contacts=[("李主席", "13900000002")],
    )


@pytest.fixture
def take(rep: User, wine: Product, mooncake: Product) -> Callable[..., Order]:
    def make(
        customer: Customer, *, actor: User | None = None, wine_qty: int = 2, cake_qty: int = 10, **kw: Any
    ) -> Order:
        lines = [services.LineIn(wine.pk, wine_qty), services.LineIn(mooncake.pk, cake_qty)]
        order, _warnings = services.order_take(actor=actor or rep, customer_id=customer.pk, lines=lines, **kw)
        return order

    return make


@pytest.fixture
def delivered(take: Callable[..., Order], rep: User, dept: User) -> Callable[..., Order]:
    """An order taken, placed, shipped and signed for in full (total 600 + 880 = 1480)."""

    def make(customer: Customer) -> Order:
        order = take(customer)
        services.order_place(order_id=order.pk, actor=rep, channel="written")
        services.order_dispatch(order_id=order.pk, actor=dept, invoice_number=f"FP{order.pk:06d}")
        services.order_sign(order_id=order.pk, actor=rep, receiver_name="張先生", signature=tiny_png())
        order.refresh_from_db()
        return order

    return make
