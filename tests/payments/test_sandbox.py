"""The whole pay → notify → paid → refund flow through the sandbox gateway, offline."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from django.core.management import call_command
from django.test import Client

from tuangou.accounts.roles import Role
from tuangou.core.errors import Conflict
from tuangou.ledger import selectors
from tuangou.ledger.checks import run_all
from tuangou.payments import services
from tuangou.payments.models import Notification, Payment, Refund, SandboxRefund, SandboxTrade
from tuangou.payments.providers import sandbox

pytestmark = pytest.mark.django_db(transaction=True)


def _clean_audit() -> None:
    broken = [(inv.name, problems) for inv, problems in run_all() if problems]
    assert broken == []


def _pay_through_cashier(client: Client, url: str, outcome: str = "pay") -> str:
    page = client.get(url)
    assert page.status_code == 200
    assert "sandbox-cashier" in page.content.decode()
    answer = client.post(url, {"outcome": outcome})
    assert answer.status_code == 302
    return answer["Location"]


def test_pay_through_cashier_marks_order_paid_and_escrows(fake_orders, member) -> None:
    order = fake_orders.add(member.pk, "19.90")
    client = Client()
    client.force_login(member)
    answer = client.post(f"/orders/{order.id}/pay/", {"provider": "sandbox"})
    assert answer.status_code == 302 and answer["Location"].startswith("/sandbox-gateway/cashier/")
    back = _pay_through_cashier(client, answer["Location"])
    assert "trade_status=paid" in back
    payment = Payment.objects.get(order_id=order.id)
    assert payment.status == Payment.Status.SUCCEEDED
    assert fake_orders.paid[order.id] == payment.pk
    assert selectors.balance("escrow", order_id=order.id) == Decimal("-19.90")
    assert selectors.balance("clearing:sandbox") == Decimal("19.90")
    trade = SandboxTrade.objects.get()
    assert trade.acked_at is not None and trade.notify_attempts == 1
    result = client.get(urlparse(back).path + "?" + urlparse(back).query, follow=True)
    assert 'data-status="succeeded"' in result.content.decode()
    _clean_audit()


def test_fail_and_abandon_change_nothing(fake_orders, member) -> None:
    for outcome in ("fail", "abandon"):
        order = fake_orders.add(member.pk)
        payment, start = services.payment_start(buyer=member, provider="sandbox", order_id=order.id)
        client = Client()
        _pay_through_cashier(client, start.url, outcome)
        payment.refresh_from_db()
        assert payment.status == (Payment.Status.FAILED if outcome == "fail" else Payment.Status.PENDING)
        assert order.id not in fake_orders.paid
    assert selectors.balance("escrow") == 0
    _clean_audit()


def test_duplicate_notification_applies_once(fake_orders, member, settings) -> None:
    settings.SANDBOX_DUPLICATE_RATE = 1.0
    order = fake_orders.add(member.pk, "50.00")
    _payment, start = services.payment_start(buyer=member, provider="sandbox", order_id=order.id)
    _pay_through_cashier(Client(), start.url)
    trade = SandboxTrade.objects.get()
    body = sandbox.notification_for(trade, sandbox.signing_key())
    for _ in range(3):
        ack = services.notification_receive(provider="sandbox", body=body, headers={})
        assert (ack.status, ack.body) == (200, "success")
    assert Notification.objects.filter(verified=True).count() == 1
    assert selectors.balance("escrow", order_id=order.id) == Decimal("-50.00")
    _clean_audit()


def test_forged_wrong_amount_and_unknown_trade_are_rejected(fake_orders, member) -> None:
    order = fake_orders.add(member.pk, "30.00")
    payment, _start = services.payment_start(buyer=member, provider="sandbox", order_id=order.id)
    key = sandbox.signing_key()
    base = {
        "notify_id": "n1",
        "app_id": sandbox.APP_ID,
        "out_trade_no": payment.out_trade_no,
        "trade_no": "SBX",
        "total_amount": "30.00",
        "trade_status": "paid",
    }
    forged = dict(base, sign=sandbox.sign(base, b"not-the-key"))
    wrong_amount = dict(base, notify_id="n2", total_amount="0.01")
    wrong_amount["sign"] = sandbox.sign(wrong_amount, key)
    wrong_app = dict(base, notify_id="n3", app_id="someone-else")
    wrong_app["sign"] = sandbox.sign(wrong_app, key)
    for params in (forged, wrong_amount, wrong_app):
        ack = services.notification_receive(provider="sandbox", body=json.dumps(params).encode(), headers={})
        assert ack.body == "fail"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert Notification.objects.filter(outcome=Notification.Outcome.REJECTED).count() == 3
    assert selectors.balance("escrow") == 0
    # the real notification still goes through afterwards: the forged one did not block its key
    real = dict(base, sign=sandbox.sign(base, key))
    assert (
        services.notification_receive(provider="sandbox", body=json.dumps(real).encode(), headers={}).body == "success"
    )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    _clean_audit()


def test_late_payment_for_a_closed_order_is_refunded(fake_orders, member) -> None:
    order = fake_orders.add(member.pk, "12.00")
    _payment, start = services.payment_start(buyer=member, provider="sandbox", order_id=order.id)
    fake_orders.closed.add(order.id)  # expired while the buyer was at the cashier
    _pay_through_cashier(Client(), start.url)
    refund = Refund.objects.get()
    assert refund.reason == Refund.Reason.LATE_PAYMENT and refund.status == Refund.Status.SUCCEEDED
    assert SandboxRefund.objects.count() == 1
    assert selectors.balance("escrow", order_id=order.id) == 0
    assert selectors.balance("clearing:sandbox") == 0
    _clean_audit()


def test_delayed_notification_and_reconciliation(fake_orders, member, settings) -> None:
    settings.SANDBOX_NOTIFY_DELAY = 3600
    settings.PAYMENT_RECONCILE_AFTER = 0
    order = fake_orders.add(member.pk)
    payment, start = services.payment_start(buyer=member, provider="sandbox", order_id=order.id)
    _pay_through_cashier(Client(), start.url)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING  # the notification is late
    assert services.payments_reconcile_pending() == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    # the late notification arrives after all: a duplicate in effect
    SandboxTrade.objects.update(next_notify_at="2000-01-01T00:00:00Z")
    assert sandbox.sandbox_deliver_due() == 1
    assert selectors.balance("escrow", order_id=order.id) == -payment.amount
    _clean_audit()


def test_refund_partial_then_rest_exactly_once(fake_orders, member) -> None:
    order = fake_orders.add(member.pk, "100.00")
    payment, start = services.payment_start(buyer=member, provider="sandbox", order_id=order.id)
    _pay_through_cashier(Client(), start.url)
    first = services.refund_request(
        payment_id=payment.pk, amount=Decimal("30.00"), reason="tier_difference", key="tier:1"
    )
    again = services.refund_request(
        payment_id=payment.pk, amount=Decimal("30.00"), reason="tier_difference", key="tier:1"
    )
    assert first.pk == again.pk
    services.deal_failed_refund(order_ids=[order.id])
    services.deal_failed_refund(order_ids=[order.id])
    assert sorted(r.amount for r in Refund.objects.all()) == [Decimal("30.00"), Decimal("70.00")]
    assert all(r.status == Refund.Status.SUCCEEDED for r in Refund.objects.all())
    assert SandboxRefund.objects.count() == 2
    assert selectors.balance("escrow", order_id=order.id) == 0
    _clean_audit()


def test_stuck_refund_is_retried_by_finance_with_the_same_number(fake_orders, member, make_user, settings) -> None:
    order = fake_orders.add(member.pk, "40.00")
    _payment, start = services.payment_start(buyer=member, provider="sandbox", order_id=order.id)
    _pay_through_cashier(Client(), start.url)
    settings.SANDBOX_REFUNDS_FAIL = True
    assert services.deal_failed_refund(order_ids=[order.id]) == 1
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.FAILED
    assert selectors.balance("refunds_in_flight", order_id=order.id) == Decimal("-40.00")
    finance = make_user(Role.FINANCE)
    client = Client()
    client.force_login(finance)
    page = client.get("/backoffice/finance/refunds/?stuck=1")
    assert refund.out_request_no in page.content.decode()
    settings.SANDBOX_REFUNDS_FAIL = False
    client.post(f"/backoffice/finance/refunds/{refund.pk}/retry/")
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert SandboxRefund.objects.get().out_request_no == refund.out_request_no
    assert client.post(f"/backoffice/finance/refunds/{refund.pk}/retry/").status_code == 302
    assert SandboxRefund.objects.count() == 1
    assert client.get("/backoffice/finance/ledger/").status_code == 200
    _clean_audit()


def test_worker_killed_between_gateway_refund_and_recording(fake_orders, member, monkeypatch) -> None:
    order = fake_orders.add(member.pk, "25.00")
    payment, start = services.payment_start(buyer=member, provider="sandbox", order_id=order.id)
    _pay_through_cashier(Client(), start.url)
    real_record = services.refund_record

    def die(**kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(services, "refund_record", die)
    with pytest.raises(SystemExit):
        services.refund_request(payment_id=payment.pk, amount=Decimal("25.00"), reason="manual", key="k")
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.SENDING and SandboxRefund.objects.count() == 1
    monkeypatch.setattr(services, "refund_record", real_record)
    Refund.objects.filter(pk=refund.pk).update(lease_until=None)  # the lease ran out
    assert services.refunds_resume() == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert SandboxRefund.objects.count() == 1  # the gateway paid once
    _clean_audit()


def test_balance_topup_pay_and_refund_to_balance(fake_orders, member) -> None:
    _topup, start = services.payment_start(buyer=member, provider="sandbox", amount=Decimal("80.00"))
    _pay_through_cashier(Client(), start.url)
    assert selectors.member_balance(member.pk) == Decimal("80.00")
    order = fake_orders.add(member.pk, "50.00")
    payment, result = services.payment_start(buyer=member, provider="balance", order_id=order.id)
    assert result.kind == "done" and payment.status == Payment.Status.SUCCEEDED
    assert selectors.member_balance(member.pk) == Decimal("30.00")
    other = fake_orders.add(member.pk, "50.00")
    with pytest.raises(Conflict) as refused:
        services.payment_start(buyer=member, provider="balance", order_id=other.id)
    assert refused.value.code == "balance_insufficient"
    services.deal_failed_refund(order_ids=[order.id])
    assert selectors.member_balance(member.pk) == Decimal("80.00")
    _clean_audit()
    call_command("audit")
