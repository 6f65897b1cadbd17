"""WeChat Pay API v3 against a local stand-in: signed requests and answers, AES-GCM notifications."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.payments.standins import new_key, private_pem, public_pem
from tests.payments.standins.wechatpay import WechatPayStandin
from tuangou.ledger.checks import run_all
from tuangou.payments import services
from tuangou.payments.models import Notification, Payment, Refund

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def wechat(settings) -> Iterator[WechatPayStandin]:
    mch_key = new_key()
    api_v3_key = secrets.token_hex(16)
    standin = WechatPayStandin("wx0000000000000001", "1900000001", mch_key.public_key(), api_v3_key.encode())
    settings.PAYMENT_PROVIDERS = ["sandbox", "balance", "wechatpay"]
    settings.WECHATPAY = {
        "APP_ID": standin.app_id,
        "MCH_ID": standin.mch_id,
        "MCH_PRIVATE_KEY": private_pem(mch_key),
        "MCH_SERIAL": "MCHSERIAL1",
        "API_V3_KEY": api_v3_key,
        "PLATFORM_PUBLIC_KEY": public_pem(standin.key),
        "PLATFORM_SERIAL": standin.serial,
        "BASE_URL": standin.url,
    }
    yield standin
    standin.server.close()


def _native(wechat, fake_orders, member, amount="66.60"):
    order = fake_orders.add(member.pk, amount)
    payment, start = services.payment_start(
        buyer=member,
        provider="wechatpay",
        order_id=order.id,
        channel="native",
        notify_url="https://shop.example/notify",
    )
    return order, payment, start


def test_native_order_gives_a_qr_code_and_jsapi_gives_signed_params(wechat, fake_orders, member) -> None:
    _order, payment, start = _native(wechat, fake_orders, member)
    assert start.kind == "qr" and start.qr.startswith("weixin://")
    assert wechat.trades[payment.out_trade_no]["total"] == 6660
    other = fake_orders.add(member.pk, "1.00")
    _p, jsapi = services.payment_start(buyer=member, provider="wechatpay", order_id=other.id, channel="jsapi")
    assert jsapi.kind == "jsapi" and jsapi.params["package"].startswith("prepay_id=") and jsapi.params["paySign"]


def test_notification_decrypted_verified_applied_once(wechat, fake_orders, member) -> None:
    order, payment, _start = _native(wechat, fake_orders, member)
    wechat.pay(payment.out_trade_no)
    body, headers = wechat.notification(payment.out_trade_no)
    for _ in range(2):
        ack = services.notification_receive(provider="wechatpay", body=body, headers=headers)
        assert ack.status == 204
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and order.id in fake_orders.paid
    assert Notification.objects.filter(verified=True).count() == 1


@pytest.mark.parametrize("bad", ["signature", "stale", "amount", "appid", "key"])
def test_bad_notifications_are_rejected(wechat, fake_orders, member, bad) -> None:
    _order, payment, _start = _native(wechat, fake_orders, member)
    wechat.pay(payment.out_trade_no)
    kwargs = {"amount": {"total": 1}, "appid": {"appid": "wx-other"}, "key": {"key": b"k" * 32}}.get(bad, {})
    body, headers = wechat.notification(payment.out_trade_no, **kwargs)  # type: ignore[arg-type]
    if bad == "signature":
        body = body.replace(b"TRANSACTION.SUCCESS", b"TRANSACTION.SUCCESS ")
    if bad == "stale":
        headers = wechat.signed_headers(body.decode(), ts=1_600_000_000)
    ack = services.notification_receive(provider="wechatpay", body=body, headers=headers)
    assert ack.status == 400
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING


def test_query_and_refund_exactly_once(wechat, fake_orders, member) -> None:
    order, payment, _start = _native(wechat, fake_orders, member)
    wechat.pay(payment.out_trade_no)
    assert services.payment_reconcile(payment_id=payment.pk).status == Payment.Status.SUCCEEDED  # no notification came
    services.deal_failed_refund(order_ids=[order.id])
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.SUCCEEDED and refund.amount == Decimal("66.60")
    assert wechat.refunds[refund.out_request_no]["amount"]["refund"] == 6660
    # a retry by finance of a done refund is refused; the gateway was called once
    assert wechat.refund_calls == 1
    assert [(inv.name, p) for inv, p in run_all() if p] == []
