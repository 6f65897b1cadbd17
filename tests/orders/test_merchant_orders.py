"""The merchant's orders page and API: only its own deals' orders, filters, vouchers used, Excel,
and a query count that does not grow with the rows."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.conftest import ApiClient
from tests.deals.factories import Role, join_and_pay, make_deal, make_merchant
from tuangou.orders import services as order_services
from tuangou.vouchers import services as voucher_services
from tuangou.vouchers.models import Voucher

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(deal_factory, make_user, merchant_admin, operator):
    deal = deal_factory(tipping_point=1, title="我的火鍋")
    other_deal = deal_factory(title="我的燒烤")
    paid = join_and_pay(deal, make_user(), quantity=2)
    pending = order_services.deal_join(actor=make_user(), deal_id=other_deal.pk, quantity=1)
    voucher_services.vouchers_issue(deal_id=deal.pk)
    Voucher.objects.filter(pk=Voucher.objects.filter(order=paid).order_by("seq").first().pk).update(state="used")
    # Someone else's deal, with an order the merchant must never see.
    stranger = make_user(Role.MERCHANT)
    foreign = make_deal(merchant=make_merchant(admin=stranger), operator=operator, title="別人的")
    foreign_order = join_and_pay(foreign, make_user())
    # The merchant's own purchase as a member of someone else's deal is not one of its orders.
    own_purchase = join_and_pay(foreign, merchant_admin)
    return {
        "deal": deal,
        "other_deal": other_deal,
        "paid": paid,
        "pending": pending,
        "foreign": foreign,
        "foreign_order": foreign_order,
        "own_purchase": own_purchase,
        "stranger": stranger,
    }


def test_page_lists_only_own_deals_orders_with_vouchers_used(client, merchant_admin, setup):
    client.force_login(merchant_admin)
    page = client.get("/backoffice/orders/").content.decode()
    assert setup["paid"].number in page and setup["pending"].number in page
    assert setup["foreign_order"].number not in page and setup["own_purchase"].number not in page
    assert "1 / 2" in page  # one of two vouchers used
    assert "****" in page and setup["paid"].user.mobile not in page  # masked buyer

    page = client.get(f"/backoffice/orders/?deal={setup['other_deal'].pk}").content.decode()
    assert setup["pending"].number in page and setup["paid"].number not in page
    page = client.get("/backoffice/orders/?status=paid").content.decode()
    assert setup["paid"].number in page and setup["pending"].number not in page
    # A foreign deal in the filter shows nothing rather than its orders.
    page = client.get(f"/backoffice/orders/?deal={setup['foreign'].pk}").content.decode()
    assert setup["foreign_order"].number not in page


def test_excel_export_follows_the_filter(client, merchant_admin, setup):
    client.force_login(merchant_admin)
    r = client.get("/backoffice/orders/?status=paid&format=xlsx")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert len(rows) == 2
    number, title, member, _state, qty, _unit, amount, _placed, paid_at, issued, used = rows[1]
    assert (number, title, qty, issued, used) == (setup["paid"].number, "我的火鍋", 2, 2, 1)
    assert Decimal(str(amount)) == setup["paid"].amount and paid_at is not None and "****" in member


def test_roles(client, make_user, operator, setup):
    client.force_login(make_user())  # a member
    assert client.get("/backoffice/orders/").status_code == 403
    client.force_login(operator)
    page = client.get("/backoffice/orders/").content.decode()
    assert setup["foreign_order"].number in page and setup["paid"].number in page
    client.force_login(setup["stranger"])
    page = client.get("/backoffice/orders/").content.decode()
    assert setup["foreign_order"].number in page and setup["paid"].number not in page


def test_api(api, make_user, merchant_admin, setup):
    assert api.get("/api/v1/merchant/orders").status_code == 401
    api.as_user(make_user())
    assert api.get("/api/v1/merchant/orders").json()["code"] == "role_required"
    api.as_user(merchant_admin)
    body = api.get("/api/v1/merchant/orders").json()
    assert {o["number"] for o in body} == {setup["paid"].number, setup["pending"].number}
    paid = next(o for o in body if o["number"] == setup["paid"].number)
    assert paid["vouchers_issued"] == 2 and paid["vouchers_used"] == 1 and paid["status"] == "paid"
    assert paid["amount"] == str(setup["paid"].amount) and paid["paid_at"] and "****" in paid["member"]
    body = api.get(f"/api/v1/merchant/orders?deal_id={setup['other_deal'].pk}&status=pending").json()
    assert [o["number"] for o in body] == [setup["pending"].number]
    assert api.get(f"/api/v1/merchant/orders?deal_id={setup['foreign'].pk}").json() == []
    assert api.get("/api/v1/merchant/orders?status=nonsense").status_code in (400, 422)


def test_list_query_count_does_not_grow_with_rows(client, merchant_admin, setup, make_user, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(merchant_admin)
    client.get("/backoffice/orders/")  # warm the session and caches
    with CaptureQueriesContext(connection) as few:
        assert client.get("/backoffice/orders/").status_code == 200
    for _ in range(6):
        join_and_pay(setup["deal"], make_user())
    voucher_services.vouchers_issue(deal_id=setup["deal"].pk)
    with django_assert_num_queries(len(few.captured_queries)):
        r = client.get("/backoffice/orders/")
    assert r.content.decode().count("data-order=") == 8
    api_client = ApiClient().as_user(merchant_admin)
    api_client.get("/api/v1/merchant/orders")
    with CaptureQueriesContext(connection) as api_many:
        assert len(api_client.get("/api/v1/merchant/orders").json()) == 8
    assert len(api_many.captured_queries) <= 6
