"""The sales desk through /api/v1/salesdesk: the whole flow, permissions, errors, reports."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from tuangou.accounts.models import User
from tuangou.catalog.models import Product
from tuangou.salesdesk.models import Customer, Order

from .conftest import tiny_png

pytestmark = pytest.mark.django_db

BASE = "/api/v1/salesdesk"


def test_the_whole_flow_through_the_api(
    api, rep: User, dept: User, wine: Product, cash_customer: Customer, make_user
) -> None:
    rep_api = api.__class__().as_user(rep)
    dept_api = api.__class__().as_user(dept)
    body = {"customer_id": cash_customer.pk, "lines": [{"product_id": wine.pk, "quantity": 3}]}
    r = rep_api.post(f"{BASE}/orders", body, headers={"Idempotency-Key": "k-1"})
    assert r.status_code == 201, r.json()
    order = r.json()
    assert order["state"] == "placing" and order["number"].startswith("TG")
    assert order["amount_total"] == "900.00" and order["next_action"] == "place"
    again = rep_api.post(f"{BASE}/orders", body, headers={"Idempotency-Key": "k-1"})
    assert again.json()["id"] == order["id"] and Order.objects.count() == 1

    url = f"{BASE}/orders/{order['id']}/actions"
    r = rep_api.post(f"{url}/place", {"channel": "sms"})
    assert r.status_code == 400 and "reason" in r.json()["errors"]
    assert rep_api.post(f"{url}/place", {"channel": "written"}).json()["state"] == "dispatching"
    assert rep_api.post(f"{url}/dispatch", {"invoice_number": "FP1"}).status_code == 403
    r = dept_api.post(f"{url}/dispatch", {"invoice_number": "FP1"})
    assert r.status_code == 200 and r.json()["state"] == "signing", r.json()
    png = base64.b64encode(tiny_png()).decode()
    r = rep_api.post(f"{url}/sign", {"receiver_name": "", "signature": ""})
    assert r.status_code == 400 and {"receiver_name", "signature"} <= set(r.json()["errors"])
    r = rep_api.post(f"{url}/sign", {"receiver_name": "張先生", "signature": f"data:image/png;base64,{png}"})
    assert r.json()["state"] == "collecting" and r.json()["receivable"] == "900.00"
    r = rep_api.post(f"{url}/collect", {"amount": "abc"})
    assert r.status_code == 400 and "amount" in r.json()["errors"]
    assert rep_api.post(f"{url}/collect", {"amount": "900.00"}).json()["state"] == "writing_off"
    cash = dept_api.get(f"{BASE}/reports/cash").json()
    assert cash[0]["amount"] == "900.00" and cash[0]["rep_id"] == rep.pk
    assert dept_api.post(f"{url}/write_off", {"amount_received": "900"}).json()["state"] == "rep_filing"
    assert dept_api.get(f"{BASE}/reports/performance").json() == []
    assert rep_api.post(f"{url}/file", {}).json()["state"] == "dept_filing"
    r = dept_api.post(f"{url}/record_performance", {})
    assert r.json()["state"] == "closed"
    assert [s["action"] for s in r.json()["steps"]][-1] == "record_performance"
    perf = dept_api.get(f"{BASE}/reports/performance").json()
    assert perf == [{"rank": 1, "rep_id": rep.pk, "rep": str(rep), "amount": "900.00", "orders": 1}]
    sales = dept_api.get(f"{BASE}/reports/product-sales").json()
    assert sales[0]["quantity"] == 3 and sales[0]["amount"] == "900.00"


def test_strangers_get_404_and_other_roles_nothing(
    api, rep: User, rep2: User, dept: User, wine: Product, cash_customer: Customer, make_user
) -> None:
    r = (
        api.__class__()
        .as_user(rep)
        .post(f"{BASE}/orders", {"customer_id": cash_customer.pk, "lines": [{"product_id": wine.pk, "quantity": 1}]})
    )
    order_id = r.json()["id"]
    assert api.__class__().as_user(rep2).get(f"{BASE}/orders/{order_id}").status_code == 404
    assert api.__class__().as_user(rep2).get(f"{BASE}/orders").json() == []
    assert api.__class__().as_user(dept).get(f"{BASE}/orders/{order_id}").status_code == 200
    operator = api.__class__().as_user(make_user("operator"))
    assert operator.get(f"{BASE}/orders/{order_id}").status_code == 404
    assert operator.get(f"{BASE}/orders").status_code == 403
    assert api.get(f"{BASE}/orders").status_code == 401


def test_create_errors_name_their_fields(api, rep: User, dept: User, cash_customer: Customer) -> None:
    client = api.as_user(rep)
    r = client.post(f"{BASE}/orders", {"customer_id": cash_customer.pk, "lines": [{"product_id": 1, "quantity": "x"}]})
    assert r.status_code == 400 and "lines.0.quantity" in r.json()["errors"]
    r = client.post(f"{BASE}/orders", {"customer_id": 0, "lines": []})
    assert r.status_code == 400 and {"customer", "lines"} <= set(r.json()["errors"])
    r = (
        api.__class__()
        .as_user(dept)
        .post(f"{BASE}/customers", {"name": "工會", "payment_terms": "contract_date", "credit_limit": "1000"})
    )
    assert r.status_code == 400 and "settlement_day" in r.json()["errors"]
    r = (
        api.__class__()
        .as_user(dept)
        .post(f"{BASE}/customers", {"name": "工會", "payment_terms": "contract_date", "settlement_day": 25})
    )
    assert r.status_code == 201 and r.json()["settlement_day"] == 25
    assert Decimal("0") == Decimal(str(Order.objects.count()))


def test_openapi_documents_the_sales_desk(api) -> None:
    doc = api.get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    assert "/api/v1/salesdesk/orders" in paths and "post" in paths["/api/v1/salesdesk/orders"]
    assert "/api/v1/salesdesk/orders/{order_id}/actions/{action}" in paths
    for report in ("aging", "overdue", "cash", "performance", "product-sales"):
        assert f"/api/v1/salesdesk/reports/{report}" in paths
