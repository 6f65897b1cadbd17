"""發票: a buyer asks for an invoice for a paid order (page or API); finance issues it (number,
amount, title, tax number) or rejects it, then marks it sent; the buyer follows it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.core.errors import Conflict, Forbidden, ValidationFailed
from tuangou.payments import services
from tuangou.payments.models import InvoiceRequest, Payment
from tuangou.payments.providers.base import TradeEvent

pytestmark = pytest.mark.django_db


def _order(payment: Payment) -> int:
    assert payment.order_id is not None
    return payment.order_id


def _paid(fake_orders: Any, buyer: User, amount: str = "120.00") -> Payment:
    order = fake_orders.add(buyer.pk, amount)
    payment, _start = services.payment_start(buyer=buyer, provider="sandbox", order_id=order.id)
    event = TradeEvent(
        key=f"t:{payment.pk}",
        out_trade_no=payment.out_trade_no,
        status="succeeded",
        amount=payment.amount,
        gateway_trade_no=f"G{payment.pk}",
    )
    services.payment_apply_event(provider="sandbox", event=event)
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    return payment


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["tuangou_language"] = "en"  # the language switch
    return client


def test_member_asks_on_the_result_page_and_finance_issues_and_sends(
    fake_orders, member, make_user, django_assert_max_num_queries
) -> None:
    payment = _paid(fake_orders, member)
    buyer = _client(member)
    page = buyer.get(f"/payments/{payment.pk}/")
    assert b"Ask for an invoice" in page.content
    missing = buyer.post(f"/payments/{payment.pk}/", {"title": "", "email": "x@example.com"})
    assert b'id="title-errors"' in missing.content
    asked = buyer.post(
        f"/payments/{payment.pk}/", {"title": "上海某某有限公司", "tax_number": "91310000MA1", "email": "a@example.com"}
    )
    assert asked.status_code == 302
    invoice = InvoiceRequest.objects.get()
    assert invoice.amount == Decimal("120.00") and invoice.status == "requested"
    assert b"Ask for an invoice" not in buyer.get(f"/payments/{payment.pk}/").content  # asked once

    finance = _client(make_user(Role.FINANCE))
    with django_assert_max_num_queries(12):
        listing = finance.get("/backoffice/finance/invoices/")
    assert "上海某某有限公司" in listing.content.decode()
    too_much = finance.post(
        f"/backoffice/finance/invoices/{invoice.pk}/",
        {"action": "issue", "number": "No.00012345", "amount": "120.01", "title": "上海某某有限公司"},
    )
    assert b'id="amount-errors"' in too_much.content
    issued = finance.post(
        f"/backoffice/finance/invoices/{invoice.pk}/",
        {
            "action": "issue",
            "number": "No.00012345",
            "amount": "120.00",
            "title": "上海某某有限公司",
            "tax_number": "91310000MA1",
        },
    )
    assert issued.status_code == 302
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == ("issued", "No.00012345")
    assert finance.post(f"/backoffice/finance/invoices/{invoice.pk}/sent/").status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == "sent" and invoice.sent_at is not None

    mine = buyer.get("/me/invoices/").content.decode()
    assert "No.00012345" in mine and "Sent" in mine
    assert buyer.get("/backoffice/finance/invoices/").status_code == 403  # members do not see finance pages


def test_rules_of_issuing(fake_orders, member, make_user) -> None:
    finance = make_user(Role.FINANCE)
    first = services.invoice_request_create(
        order_id=_order(_paid(fake_orders, member)), buyer=member, title="甲", tax_number="", email="a@example.com"
    )
    second_payment = _paid(fake_orders, member, "30.00")
    with pytest.raises(Conflict):
        services.invoice_request_create(
            order_id=first.order_id, buyer=member, title="甲", tax_number="", email="a@example.com"
        )
    with pytest.raises(ValidationFailed) as bad_mail:
        services.invoice_request_create(
            order_id=_order(second_payment), buyer=member, title="乙", tax_number="", email="not-mail"
        )
    assert "email" in bad_mail.value.errors
    second = services.invoice_request_create(
        order_id=_order(second_payment), buyer=member, title="乙", tax_number="", email="b@example.com"
    )
    with pytest.raises(Forbidden):
        services.invoice_request_issue(invoice_id=first.pk, actor=member, number="1", amount=Decimal("1"), title="甲")
    services.invoice_request_issue(invoice_id=first.pk, actor=finance, number="A1", amount=Decimal("100"), title="甲")
    with translation.override("en"), pytest.raises(ValidationFailed) as taken:
        services.invoice_request_issue(
            invoice_id=second.pk, actor=finance, number="A1", amount=Decimal("30"), title="乙"
        )
    assert list(taken.value.errors) == ["number"]
    with pytest.raises(Conflict):  # issued already
        services.invoice_request_issue(invoice_id=first.pk, actor=finance, number="A2", amount=Decimal("1"), title="甲")
    with pytest.raises(Conflict):  # not issued yet
        services.invoice_request_mark_sent(invoice_id=second.pk, actor=finance)
    with pytest.raises(ValidationFailed):
        services.invoice_request_reject(invoice_id=second.pk, actor=finance, note=" ")
    rejected = services.invoice_request_reject(invoice_id=second.pk, actor=finance, note="抬頭不全")
    assert rejected.status == "rejected"
    again = services.invoice_request_create(  # after a rejection the buyer may ask again
        order_id=_order(second_payment), buyer=member, title="乙公司", tax_number="9131", email="b@example.com"
    )
    assert again.status == "requested"


def test_api_lists_my_requests_with_their_progress_and_openapi_describes_them(
    api, fake_orders, member, make_user
) -> None:
    payment = _paid(fake_orders, member)
    client = api.as_user(member)
    made = client.post(
        f"/api/v1/orders/{payment.order_id}/invoice-requests",
        {"title": "某某公司", "tax_number": "91310000MA1", "email": "a@example.com"},
    )
    assert made.status_code == 201
    again = client.post(
        f"/api/v1/orders/{payment.order_id}/invoice-requests", {"title": "某某公司", "email": "a@example.com"}
    )
    assert (again.status_code, again.json()["code"]) == (409, "invoice_requested")
    listed = client.get("/api/v1/me/invoice-requests").json()
    assert [(i["status"], i["number"], i["issued_at"]) for i in listed] == [("requested", "", None)]
    doc = api.get("/api/v1/openapi.json").json()
    assert "post" in doc["paths"]["/api/v1/orders/{order_id}/invoice-requests"]
    assert "get" in doc["paths"]["/api/v1/me/invoice-requests"]
    fields = doc["components"]["schemas"]["InvoiceOut"]["properties"]
    assert {"number", "status", "note", "issued_at", "sent_at", "amount"} <= set(fields)
    for path in ("", "/{invoice_id}/issue", "/{invoice_id}/sent", "/{invoice_id}/reject"):
        assert f"/api/v1/finance/invoice-requests{path}" in doc["paths"]

    invoice_id = made.json()["id"]
    assert client.get("/api/v1/finance/invoice-requests").status_code == 403  # members are not finance
    finance = api.__class__().as_user(make_user(Role.FINANCE))
    assert [i["id"] for i in finance.get("/api/v1/finance/invoice-requests").json()] == [invoice_id]
    base = f"/api/v1/finance/invoice-requests/{invoice_id}"
    too_much = finance.post(f"{base}/issue", {"number": "F1", "amount": "999.00", "title": "某某公司"})
    assert too_much.status_code == 400 and "amount" in too_much.json()["errors"]
    issued = finance.post(f"{base}/issue", {"number": "F1", "amount": "120.00", "title": "某某公司"})
    assert issued.status_code == 200 and issued.json()["number"] == "F1"
    assert finance.post(f"{base}/sent").json()["status"] == "sent"
    assert client.get("/api/v1/me/invoice-requests").json()[0]["status"] == "sent"
