"""Real threads on PostgreSQL: one effect from 16 identical notifications, one refund from two asks."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from tests.concurrency.race import race
from tests.payments.conftest import FakeOrders, fake_orders  # noqa: F401 - fixture
from tuangou.ledger import selectors
from tuangou.ledger.checks import run_all
from tuangou.payments import services
from tuangou.payments.models import Notification, Payment, Refund, SandboxRefund, SandboxTrade
from tuangou.payments.providers import sandbox

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _acked(**notification: Any) -> None:
    ack = services.notification_receive(**notification)
    assert getattr(ack, "body", ack) == "success", ack


def test_same_notification_16_times_at_once_has_one_effect(fake_orders, member, settings) -> None:  # noqa: F811
    settings.SANDBOX_NOTIFY_DELAY = 3600  # the cashier does not deliver; the threads do
    order = fake_orders.add(member.pk, "99.00")
    payment, start = services.payment_start(buyer=member, provider="sandbox", order_id=order.id)
    Client().post(start.url, {"outcome": "pay"})
    trade = SandboxTrade.objects.get()
    body = sandbox.notification_for(trade, sandbox.signing_key())
    acks = race([("", lambda: _acked(provider="sandbox", body=body, headers={}))] * 16)
    assert acks == Counter(ok=16), acks
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert Notification.objects.filter(verified=True).count() == 1
    assert selectors.balance("escrow", order_id=order.id) == Decimal("-99.00")
    assert [(inv.name, p) for inv, p in run_all() if p] == []


def test_refund_requested_twice_at_once_pays_once(fake_orders, member) -> None:  # noqa: F811
    order = fake_orders.add(member.pk, "45.00")
    _payment, start = services.payment_start(buyer=member, provider="sandbox", order_id=order.id)
    Client().post(start.url, {"outcome": "pay"})
    results = race([("", lambda: services.deal_failed_refund(order_ids=[order.id]))] * 2)
    assert results == Counter(ok=2), results
    assert Refund.objects.count() == 1 and SandboxRefund.objects.count() == 1
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    race([("", lambda: services.refund_execute(refund_id=Refund.objects.get().pk))] * 4)
    assert SandboxRefund.objects.count() == 1
    assert selectors.balance("escrow", order_id=order.id) == 0
    assert [(inv.name, p) for inv, p in run_all() if p] == []


def test_failed_deal_with_100_paid_orders_refunds_each_once(fake_orders, make_user) -> None:  # noqa: F811
    ids = []
    for i in range(100):
        buyer = make_user()
        order = fake_orders.add(buyer.pk, f"{10 + i}.50")
        _payment, start = services.payment_start(buyer=buyer, provider="sandbox", order_id=order.id)
        Client().post(start.url, {"outcome": "pay"})
        ids.append(order.id)
    race([("", lambda: services.deal_failed_refund(order_ids=ids))] * 3)  # the event delivered three times at once
    assert Refund.objects.count() == 100 and SandboxRefund.objects.count() == 100
    assert not Refund.objects.exclude(status=Refund.Status.SUCCEEDED).exists()
    assert selectors.balance("escrow") == 0 and selectors.balance("clearing:sandbox") == 0
    assert [(inv.name, p) for inv, p in run_all() if p] == []
