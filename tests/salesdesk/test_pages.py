"""The sales desk in the browser: the rep's phone pages, the department's, reports and printouts."""

from __future__ import annotations

import base64
from collections.abc import Callable
from io import BytesIO

import pytest
from django.test import Client
from openpyxl import load_workbook

from tuangou.accounts.models import User
from tuangou.catalog.models import Product
from tuangou.salesdesk import services
from tuangou.salesdesk.models import Customer, Order

from .conftest import tiny_png

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_rep_and_department_take_an_order_through_all_steps_in_the_browser(
    rep: User, dept: User, wine: Product, mooncake: Product, cash_customer: Customer
) -> None:
    r_c, d_c = _client(rep), _client(dept)
    assert r_c.get("/salesdesk/").status_code == 200
    page = r_c.get("/salesdesk/orders/new/")
    assert page.status_code == 200 and 'id="take-form"' in page.content.decode()
    bad = r_c.post("/salesdesk/orders/new/", {"customer": cash_customer.pk, "source": "direct", "product_0": wine.pk})
    assert bad.status_code == 200 and "quantity_0-errors" in bad.content.decode()
    assert not Order.objects.exists()
    r = r_c.post(
        "/salesdesk/orders/new/",
        {"customer": cash_customer.pk, "source": "direct", "product_0": wine.pk, "quantity_0": 2,
         "product_1": mooncake.pk, "quantity_1": 5},
    )  # fmt: skip
    order = Order.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/salesdesk/orders/{order.pk}/"
    home = r_c.get("/salesdesk/").content.decode()
    assert order.number in home and f"/salesdesk/orders/{order.pk}/place/" in home

    base = f"/salesdesk/orders/{order.pk}"
    r = r_c.post(f"{base}/place/", {"channel": "phone", "reason": ""})
    assert r.status_code == 200 and "reason-errors" in r.content.decode()
    assert r_c.post(f"{base}/place/", {"channel": "written"}).status_code == 302
    queue = d_c.get("/salesdesk/").content.decode()
    assert order.number in queue
    line_ids = list(order.lines.order_by("pk").values_list("pk", flat=True))
    r = d_c.post(
        f"{base}/dispatch/",
        {
            "invoice_number": "FP-1",
            "tax_rate": "0.13",
            "picker": rep.pk,
            f"qty_{line_ids[0]}": 2,
            f"qty_{line_ids[1]}": 9,
        },
    )
    assert r.status_code == 200 and f"qty_{line_ids[1]}-errors" in r.content.decode()
    r = d_c.post(
        f"{base}/dispatch/",
        {
            "invoice_number": "FP-1",
            "tax_rate": "0.13",
            "picker": rep.pk,
            f"qty_{line_ids[0]}": 2,
            f"qty_{line_ids[1]}": 5,
        },
    )
    assert r.status_code == 302
    sign_page = r_c.get(f"{base}/sign/").content.decode()
    assert "signature-pad" in sign_page and "salesdesk/signature.js" in sign_page
    r = r_c.post(f"{base}/sign/", {"receiver_name": "張先生", "signature": ""})
    assert r.status_code == 200 and "signature-errors" in r.content.decode()
    png = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()
    assert r_c.post(f"{base}/sign/", {"receiver_name": "張先生", "signature": png}).status_code == 302
    assert r_c.post(f"{base}/collect/", {"amount": "1040.00", "method": "cash"}).status_code == 302
    reports = d_c.get("/salesdesk/reports/").content.decode()
    assert "¥1,040.00" in reports and f"/salesdesk/hand-over/{rep.pk}/" in reports
    assert d_c.post(f"{base}/write_off/", {"amount_received": "1040.00"}).status_code == 302
    assert r_c.post(f"{base}/file/", {}).status_code == 302
    assert d_c.post(f"{base}/record_performance/", {}).status_code == 302
    order.refresh_from_db()
    assert order.state == "closed"
    detail = d_c.get(f"{base}/").content.decode()
    assert "<svg" in detail and 'id="log"' in detail and "FP-1" in detail
    shipment = order.shipments.get()
    assert f"/salesdesk/deliveries/{shipment.pk}/note.pdf" in detail.split('id="log"')[1]
    products = d_c.get("/salesdesk/products/").content.decode()
    assert "W01" in products and ">98<" in products
    perf = d_c.get("/salesdesk/reports/").content.decode()
    assert str(rep) in perf


def test_pages_refuse_strangers(rep: User, rep2: User, make_user: Callable[..., User], take, cash_customer) -> None:
    order = take(cash_customer)
    assert _client(rep2).get(f"/salesdesk/orders/{order.pk}/").status_code == 404
    assert _client(make_user("operator")).get("/salesdesk/").status_code == 403
    assert _client(make_user("operator")).get(f"/salesdesk/orders/{order.pk}/").status_code == 403
    assert Client().get("/salesdesk/").status_code == 302
    # The department cannot place the rep's order, even from the page.
    dept_page = _client(make_user("sales_dept")).post(f"/salesdesk/orders/{order.pk}/place/", {"channel": "written"})
    assert dept_page.status_code == 200 and "errorlist" in dept_page.content.decode()


def test_printouts_and_exports(delivered, rep: User, dept: User, cash_customer: Customer) -> None:
    order = delivered(cash_customer)
    collection = services.order_collect(order_id=order.pk, actor=rep, amount="1480")
    shipment = order.shipments.get()
    client = _client(dept)
    for url in (
        f"/salesdesk/orders/{order.pk}/order-form.pdf",
        f"/salesdesk/deliveries/{shipment.pk}/note.pdf",
        f"/salesdesk/receipts/{collection.pk}.pdf",
    ):
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF") and b"MSung-Light" in response.content
    note = client.get(f"/salesdesk/deliveries/{shipment.pk}/note.pdf").content
    assert b"/Subtype /Image" in note  # the signature
    assert client.get(f"/salesdesk/deliveries/{shipment.pk}/signature.png").content == tiny_png()
    xlsx = client.get("/salesdesk/register/?format=xlsx")
    sheet = load_workbook(BytesIO(xlsx.content)).active
    assert sheet.cell(2, 1).value == order.number
    report = client.get("/salesdesk/reports/?format=xlsx")
    assert len(load_workbook(BytesIO(report.content)).sheetnames) == 5
    register = client.get("/salesdesk/register/?customer=張").content.decode()
    assert order.number in register
    assert client.get("/salesdesk/customers/").status_code == 200


def test_list_pages_do_not_grow_queries_with_orders(
    delivered, rep: User, dept: User, cash_customer: Customer, django_assert_max_num_queries
) -> None:
    client = _client(dept)
    delivered(cash_customer)
    counts = {}
    for url in ("/salesdesk/", "/salesdesk/register/", "/salesdesk/reports/"):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        counts[url] = len(ctx)
    for _ in range(3):
        order = delivered(cash_customer)
        services.order_collect(order_id=order.pk, actor=rep, amount="100")
    for url, n in counts.items():
        with django_assert_max_num_queries(n + 2):
            assert client.get(url).status_code == 200
