"""Demo data for the sales desk: products, customers and a week of orders in every step.

Built through the real services (so every order has its transition log and documents), then
the dates are spread over the past week. One credit customer is overdue. Loaded once: a second
run finds the demo orders and leaves them alone.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
import zlib
from decimal import Decimal
from typing import Any

from django.db.models import F

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.accounts.services import user_grant_role
from tuangou.catalog.models import PriceList, PriceListItem, Product
from tuangou.core.time import local_date, now
from tuangou.salesdesk import services
from tuangou.salesdesk.models import Collection, Customer, Order

MARK = "[demo]"
PRODUCTS = [
    ("GJ-08", "八年陳釀黃酒", "箱", "360.00", 400),
    ("YB-01", "雙黃蓮蓉月餅禮盒", "盒", "128.00", 1200),
    ("CY-05", "明前龍井禮盒", "盒", "298.00", 300),
    ("SY-20", "壓榨花生油 5L", "桶", "89.00", 800),
]


def signature_png(width: int = 240, height: int = 80) -> bytes:
    """A scribble that looks enough like a signature for the demo's delivery notes."""
    rows = [bytearray(b"\x00" + b"\xff" * width) for _ in range(height)]
    for x in range(10, width - 10):
        y = int(height / 2 + math.sin(x / 9) * height / 4 + math.sin(x / 23) * height / 8)
        for dy in (-1, 0, 1):
            if 0 <= y + dy < height:
                rows[y + dy][1 + x] = 0x20

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"".join(bytes(r) for r in rows)))
        + chunk(b"IEND", b"")
    )


def load(*, users: dict[str, User], cities: Any) -> None:
    if Order.objects.filter(notes__startswith=MARK).exists():
        return
    rep, dept = users[Role.SALES_REP], users[Role.SALES_DEPT]
    helper = User.objects.filter(mobile="13800000015").first()
    if helper is None:
        helper = User.objects.create_user("13800000015", None, name="團購業務 錢幫忙")
    user_grant_role(user=helper, role=Role.SALES_REP)

    products = {}
    for code, name, unit, price, stock in PRODUCTS:
        products[code], _ = Product.objects.get_or_create(
            code=code, defaults={"name": name, "unit": unit, "list_price": Decimal(price), "stock_on_hand": stock}
        )
    units, _ = PriceList.objects.get_or_create(name="單位團購價")
    for code, tiers in {"GJ-08": [(1, "330.00"), (50, "310.00")], "YB-01": [(1, "118.00"), (100, "108.00")]}.items():
        for qty, price in tiers:
            PriceListItem.objects.get_or_create(
                price_list=units, product=products[code], min_quantity=qty, defaults={"price": Decimal(price)}
            )

    def customer(name: str, **kw: Any) -> Customer:
        found = Customer.objects.filter(name=name).first()
        return found or services.customer_create(actor=dept, name=name, **kw)

    school = customer(
        "市第一中學工會",
        payment_terms=Customer.Terms.NET_DAYS,
        net_days=30,
        credit_limit="50000",
        contacts=[("李主席", "13900001001")],
    )
    power = customer(
        "華東電力公司後勤部",
        payment_terms=Customer.Terms.CONTRACT_DATE,
        settlement_day=25,
        credit_limit="20000",
        contacts=[("王科長", "13900001002"), ("陳秘書", "13900001003")],
    )
    Customer.objects.filter(pk__in=[school.pk, power.pk]).update(price_list=units)
    mall = customer("星光百貨", payment_terms=Customer.Terms.CASH, contacts=[("周經理", "13900001004")])
    person = customer("張先生", kind=Customer.Kind.PERSON, contacts=[("張先生", "13900001005")])

    png = signature_png()
    today = local_date()

    def take(c: Customer, lines: list[tuple[str, int]], days_ago: int, **kw: Any) -> Order:
        order, _w = services.order_take(
            actor=rep,
            customer_id=c.pk,
            lines=[services.LineIn(products[code].pk, qty) for code, qty in lines],
            notes=f"{MARK} {kw.pop('note', '')}".strip(),
            contact_id=c.contacts.order_by("pk").values_list("pk", flat=True).first(),
            **kw,
        )
        when = now() - dt.timedelta(days=days_ago, hours=2)
        Order.objects.filter(pk=order.pk).update(taken_at=when, registered_at=when)
        return order

    def place(o: Order, phone: str = "") -> None:
        services.order_place(order_id=o.pk, actor=rep, channel="phone" if phone else "written", reason=phone)

    def ship(o: Order, invoice: str, **kw: Any) -> None:
        services.order_dispatch(order_id=o.pk, actor=dept, invoice_number=invoice, **kw)

    def sign(o: Order, who: str, actor: User | None = None) -> None:
        services.order_sign(order_id=o.pk, actor=actor or rep, receiver_name=who, signature=png)

    def collect(o: Order, amount: str, days_ago: int = 0, **kw: Any) -> None:
        c = services.order_collect(order_id=o.pk, actor=rep, amount=amount, **kw)
        Collection.objects.filter(pk=c.pk).update(collected_at=F("collected_at") - dt.timedelta(days=days_ago))

    def total(o: Order) -> str:
        return str(Order.objects.values_list("amount_total", flat=True).get(pk=o.pk))

    # 登記建檔, waiting to be placed
    take(mall, [("YB-01", 40)], 0, note="中秋員工福利")
    # placed in writing, waiting for the department
    place(take(school, [("YB-01", 120), ("CY-05", 10)], 1, note="教師節慰問"))
    # placed by phone: a recorded exception
    place(take(person, [("GJ-08", 3)], 1), phone="客戶出差在外, 電話下單, 書面訂單後補")
    # invoiced and shipped; another rep delivers (提貨人 exception)
    o = take(mall, [("SY-20", 60)], 2)
    place(o)
    ship(o, "FP20260001", picker_id=helper.pk, picker_reason="趙團購外出拜訪客戶, 由錢幫忙配送")
    # partly delivered: the rest waits at the department
    o = take(school, [("GJ-08", 20), ("YB-01", 50)], 3)
    place(o)
    lines = list(o.lines.order_by("pk"))
    ship(o, "FP20260002", quantities={lines[0].pk: 20, lines[1].pk: 20})
    sign(o, "李主席")
    # delivered to a credit customer: receivable until the contract date
    o = take(power, [("CY-05", 30)], 4)
    place(o)
    ship(o, "FP20260003")
    sign(o, "陳秘書")
    # overdue: contract date passed, nothing paid
    o = take(power, [("GJ-08", 30), ("SY-20", 40)], 6, agreed_due_date=today - dt.timedelta(days=3))
    place(o)
    ship(o, "FP20260004")
    sign(o, "王科長")
    # part paid
    o = take(person, [("YB-01", 10)], 3)
    place(o)
    ship(o, "FP20260005")
    sign(o, "張先生")
    collect(o, "500.00", days_ago=2)
    # cash collected on signing, not yet handed over
    o = take(mall, [("YB-01", 30), ("SY-20", 10)], 2)
    place(o)
    ship(o, "FP20260006")
    sign(o, "周經理")
    collect(o, total(o), days_ago=1)
    # written off, waiting for the rep's filing; filed, waiting for the department; closed
    for step, days, invoice in (
        ("rep_filing", 5, "FP20260007"),
        ("dept_filing", 6, "FP20260008"),
        ("closed", 7, "FP20260009"),
    ):
        o = take(school, [("GJ-08", 10), ("CY-05", 5)], days)
        place(o)
        ship(o, invoice)
        sign(o, "李主席")
        collect(o, total(o), method="transfer", reference=f"BANK-{invoice[-4:]}")
        services.order_write_off(order_id=o.pk, actor=dept, amount_received=total(o))
        if step in ("dept_filing", "closed"):
            services.order_file(order_id=o.pk, actor=rep)
        if step == "closed":
            services.order_record_performance(order_id=o.pk, actor=dept)
