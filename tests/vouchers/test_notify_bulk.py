"""The issue SMS of a tipped deal's vouchers, queued a batch at a time: one outbox INSERT and one
delivery job per batch, each voucher's SMS once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tuangou.core import jobs
from tuangou.messaging.models import OutboxMessage
from tuangou.vouchers import services
from tuangou.vouchers.models import Voucher

pytestmark = pytest.mark.django_db


def _unsent(deal: Any) -> list[Voucher]:
    """Forget the SMS the tipping sent, as if the vouchers had just been issued."""
    OutboxMessage.objects.filter(template="voucher_issued").delete()
    Voucher.objects.filter(deal=deal).update(sms_sent=0)
    return list(Voucher.objects.filter(deal=deal).select_related("user").order_by("pk"))


def test_tipping_queues_the_sms_in_batches(
    tipped: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    deal, _orders = tipped([1, 3, 1])
    vouchers = _unsent(deal)
    monkeypatch.setattr(services, "NOTIFY_BATCH", 2)
    queued: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(jobs, "_dispatch", lambda name, kwargs: queued.append((name, kwargs)))
    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as q:
        assert services.vouchers_notify_new(deal_id=deal.pk) == 5
    # one write of the outbox rows per batch (SQLite: an INSERT; PostgreSQL: the keys drawn, then
    # COPY, which is not captured)
    outbox_writes = [
        x
        for x in q.captured_queries
        if x["sql"].startswith('INSERT INTO "messaging_outboxmessage"')
        or (x["sql"].startswith("SELECT nextval") and "messaging_outboxmessage" in x["sql"])
    ]
    assert len(outbox_writes) == 3  # 2 + 2 + 1, not one per voucher
    assert [name for name, _ in queued] == ["messaging.deliver_batch"] * 3
    sms = list(OutboxMessage.objects.filter(template="voucher_issued").order_by("pk"))
    assert sorted(m.pk for m in sms) == sorted(i for _, kw in queued for i in kw["message_ids"])
    assert [m.to for m in sms] == [v.user.mobile for v in vouchers]
    assert all(v.display_code in m.body for v, m in zip(vouchers, sms, strict=True))
    assert all(m.sensitive and m.params["deal"] == deal.title for m in sms)
    assert set(Voucher.objects.filter(deal=deal).values_list("sms_sent", flat=True)) == {1}
    # again: nothing left to send
    assert services.vouchers_notify_new(deal_id=deal.pk) == 0
    assert OutboxMessage.objects.filter(template="voucher_issued").count() == 5


def test_batched_sms_are_delivered_once(tipped: Callable[..., Any], django_capture_on_commit_callbacks: Any) -> None:
    _deal, _orders = tipped([2, 1])
    sms = OutboxMessage.objects.filter(template="voucher_issued")
    assert sms.count() == 3 and set(sms.values_list("status", flat=True)) == {"sent"}
    ids = list(sms.values_list("pk", flat=True))
    jobs.run_now("messaging.deliver_batch", message_ids=ids)  # a redelivered job sends nothing again
    assert set(sms.values_list("attempts", flat=True)) == {1}


def test_only_issued_vouchers_not_yet_sent_are_notified(tipped: Callable[..., Any]) -> None:
    deal, _orders = tipped([1, 1, 1])
    vouchers = _unsent(deal)
    Voucher.objects.filter(pk=vouchers[0].pk).update(sms_sent=1)
    Voucher.objects.filter(pk=vouchers[1].pk).update(state="refunded")
    assert services.vouchers_notify_new(deal_id=deal.pk) == 1
    assert list(OutboxMessage.objects.filter(template="voucher_issued").values_list("to", flat=True)) == [
        vouchers[2].user.mobile
    ]


def test_password_is_in_the_sms(tipped: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "deal_requires_password", lambda deal: True)
    deal, _orders = tipped([1])
    voucher = Voucher.objects.get(deal=deal)
    assert voucher.password
    sms = OutboxMessage.objects.get(template="voucher_issued")
    assert voucher.password in sms.body and voucher.display_code in sms.body
