"""Alipay open platform protocol against a local stand-in with freshly generated RSA keys."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import parse_qsl, urlparse

import pytest

from tests.payments.standins import new_key, private_pem, public_pem
from tests.payments.standins.alipay import AlipayStandin
from tuangou.ledger.checks import run_all
from tuangou.payments import services
from tuangou.payments.models import Notification, Payment, Refund
from tuangou.payments.providers.alipay import AlipayGateway, content, rsa2_verify

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alipay(settings) -> Iterator[AlipayStandin]:
    app_key = new_key()
    standin = AlipayStandin("2026000000000001", "2088000000000001", app_key.public_key())
    settings.PAYMENT_PROVIDERS = ["sandbox", "balance", "alipay"]
    settings.ALIPAY = {
        "APP_ID": standin.app_id,
        "SELLER_ID": standin.seller_id,
        "APP_PRIVATE_KEY": private_pem(app_key),
        "PUBLIC_KEY": public_pem(standin.key),
        "GATEWAY_URL": standin.url,
    }
    yield standin
    standin.server.close()


def _paid(alipay, fake_orders, member, amount="88.00"):
    order = fake_orders.add(member.pk, amount)
    payment, start = services.payment_start(
        buyer=member,
        provider="alipay",
        order_id=order.id,
        channel="wap",
        notify_url="https://shop.example/notify",
        return_url="https://shop.example/r",
    )
    alipay.pay(payment.out_trade_no, amount)
    return order, payment, start


def test_page_pay_url_is_signed_rsa2(alipay, fake_orders, member, settings) -> None:
    order = fake_orders.add(member.pk, "88.00")
    _payment, start = services.payment_start(buyer=member, provider="alipay", order_id=order.id)
    params = dict(parse_qsl(urlparse(start.url).query))
    assert params["method"] == "alipay.trade.page.pay" and params["sign_type"] == "RSA2"
    assert '"product_code":"FAST_INSTANT_TRADE_PAY"' in params["biz_content"]
    gateway = AlipayGateway.from_settings()
    assert rsa2_verify(content(params), params["sign"], gateway.private_key.public_key())


def test_notification_verified_applied_once_and_answered_success(alipay, fake_orders, member) -> None:
    order, payment, start = _paid(alipay, fake_orders, member)
    assert "alipay.trade.wap.pay" in start.url
    body = alipay.notification(payment.out_trade_no)
    for _ in range(3):
        ack = services.notification_receive(provider="alipay", body=body, headers={})
        assert (ack.status, ack.body) == (200, "success")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and fake_orders.paid[order.id] == payment.pk
    assert Notification.objects.filter(verified=True).count() == 1


@pytest.mark.parametrize(
    "override, forged",
    [
        ({"app_id": "2026999"}, False),
        ({"seller_id": "2088999"}, False),
        ({"total_amount": "0.01"}, False),
        ({"trade_status": "WAIT_BUYER_PAY"}, False),
        ({}, True),
    ],
)
def test_bad_notifications_change_nothing(alipay, fake_orders, member, override, forged) -> None:
    _order, payment, _start = _paid(alipay, fake_orders, member)
    body = alipay.notification(payment.out_trade_no, **override)
    if forged:
        body = body.replace(b"total_amount=88.00", b"total_amount=88.01")
    ack = services.notification_receive(provider="alipay", body=body, headers={})
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    if override.get("trade_status"):
        assert ack.body == "success"  # verified, understood, not a payment: Alipay need not resend
    else:
        assert ack.body == "fail"
        assert Notification.objects.filter(outcome=Notification.Outcome.REJECTED).count() == 1


def test_query_reconciles_and_refund_reuses_out_request_no(alipay, fake_orders, member, monkeypatch) -> None:
    order, payment, _start = _paid(alipay, fake_orders, member)
    assert services.payment_reconcile(payment_id=payment.pk).status == Payment.Status.SUCCEEDED
    calls: list[int] = []
    original = services.refund_record

    def record_dies_once(**kwargs):
        if not calls:
            calls.append(1)
            raise RuntimeError("worker killed after the gateway call")
        return original(**kwargs)

    monkeypatch.setattr(services, "refund_record", record_dies_once)
    with pytest.raises(RuntimeError):
        services.refund_request(payment_id=payment.pk, amount=Decimal("20.00"), reason="member_request", key="m1")
    Refund.objects.update(lease_until=None)
    services.refunds_resume()
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.SUCCEEDED
    assert list(alipay.refunds) == [refund.out_request_no] and alipay.refund_calls == 1
    services.deal_failed_refund(order_ids=[order.id])
    assert sum(Decimal(r["amount"]) for r in alipay.refunds.values()) == Decimal("88.00")
    assert [(inv.name, p) for inv, p in run_all() if p] == []
