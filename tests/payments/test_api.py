"""The payments API: start a payment, the notify endpoint, read a payment, refunds, balance, invoices."""

from __future__ import annotations

import pytest
from django.test import Client

from tuangou.payments.models import Payment, SandboxTrade
from tuangou.payments.providers import sandbox

pytestmark = pytest.mark.django_db(transaction=True)


def test_pay_notify_read_refund_invoice(api, fake_orders, member, make_user, settings) -> None:
    settings.SANDBOX_NOTIFY_DELAY = 3600  # deliver the notification ourselves, over HTTP
    order = fake_orders.add(member.pk, "20.00")
    client = api.as_user(member)
    started = client.post(f"/api/v1/orders/{order.id}/payments", {"provider": "sandbox"})
    assert started.status_code == 201, started.content
    body = started.json()
    assert body["status"] == "pending" and body["next"]["kind"] == "redirect" and body["amount"] == "20.00"
    assert client.post(f"/api/v1/orders/{order.id}/payments", {"provider": "nope"}).json()["code"] == "bad_provider"
    Client().post(body["next"]["url"], {"outcome": "pay"})
    trade = SandboxTrade.objects.get()
    notification = sandbox.notification_for(trade, sandbox.signing_key())
    gateway = Client()  # no session, no token: gateways are anonymous
    answer = gateway.post("/api/v1/payments/sandbox/notify", notification, content_type="application/json")
    assert (answer.status_code, answer.content) == (200, b"success")
    forged = notification.replace(b'"20.00"', b'"0.01"')
    assert gateway.post("/api/v1/payments/sandbox/notify", forged, content_type="application/json").content == b"fail"
    read = client.get(f"/api/v1/payments/{body['id']}").json()
    assert read["status"] == "succeeded"
    stranger = api.__class__().as_user(make_user())
    assert stranger.get(f"/api/v1/payments/{body['id']}").status_code == 404
    refunds = client.post(f"/api/v1/orders/{order.id}/refunds", {"amount": "5.00", "to_balance": True})
    assert refunds.status_code == 201 and refunds.json()[0]["status"] == "pending"
    assert client.get("/api/v1/me/balance").json() == {"balance": "5.00"}
    too_much = client.post(f"/api/v1/orders/{order.id}/refunds", {"amount": "50.00"})
    assert too_much.json()["code"] == "refund_too_much"
    invoice = client.post(
        f"/api/v1/orders/{order.id}/invoice-requests",
        {"title": "某某公司", "tax_number": "91310000MA1", "email": "a@example.com"},
    )
    assert invoice.status_code == 201 and invoice.json()["status"] == "requested"
    assert Payment.objects.get().status == "succeeded"
