"""Issuing a batch through the engine at once (`create_rows_in_state`), its SMS queued with it, and
its fallback when a concurrent runner created some of the batch's vouchers first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tuangou.core import jobs
from tuangou.core.workflow.engine import create_rows_in_state
from tuangou.core.workflow.models import ProcessPosition, TransitionLog
from tuangou.messaging.models import OutboxMessage
from tuangou.vouchers import codes, services
from tuangou.vouchers.models import Voucher

pytestmark = pytest.mark.django_db


def issue_logs(vouchers: Any) -> list[tuple[int, str, str]]:
    return sorted(
        TransitionLog.objects.filter(process="voucher", object_id__in=[v.pk for v in vouchers]).values_list(
            "object_id", "from_state", "to_state"
        )
    )


def test_a_batch_is_created_issued_and_logged_once(tipped: Callable[..., Any]) -> None:
    deal, _orders = tipped([1, 3])
    vouchers = list(Voucher.objects.filter(deal=deal))
    assert len(vouchers) == 4 and {v.state for v in vouchers} == {"issued"}
    assert issue_logs(vouchers) == sorted((v.pk, "new", "issued") for v in vouchers)
    positions = ProcessPosition.objects.filter(process="voucher", object_id__in=[v.pk for v in vouchers])
    assert sorted(positions.values_list("object_id", "state")) == sorted((v.pk, "issued") for v in vouchers)


def test_a_racing_runner_s_rows_are_kept_and_the_rest_issued(
    tipped: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    deal, orders = tipped([3], tipping_point=5)  # not tipped: no voucher yet
    assert not Voucher.objects.filter(deal=deal).exists()
    order = orders[0]

    def raced(model: Any, columns: Any, rows: list[Any], action: str, **kw: Any) -> Any:
        # another runner inserts the order's second voucher just before this one does
        first = dict(zip(columns, rows[0], strict=True))
        Voucher.objects.create(
            code=codes.generate(),
            order=order,
            seq=2,
            deal=deal,
            merchant_id=deal.merchant_id,
            user_id=order.user_id,
            amount=order.unit_price,
            valid_from=first["valid_from"],
            valid_until=first["valid_until"],
        )
        return create_rows_in_state(model, columns, rows, action, **kw)

    monkeypatch.setattr(services, "create_rows_in_state", raced)
    services.vouchers_issue(deal_id=deal.pk)
    vouchers = list(Voucher.objects.filter(order=order).order_by("seq"))
    assert [(v.seq, v.state) for v in vouchers] == [(1, "issued"), (2, "issued"), (3, "issued")]
    assert issue_logs(vouchers) == sorted((v.pk, "new", "issued") for v in vouchers)
    # the batch's SMS were rolled back with its rows; each voucher's SMS is queued once afterwards
    sms = OutboxMessage.objects.filter(template="voucher_issued", to=order.user.mobile)
    assert sms.count() == 3 and sorted(m.params["code"] for m in sms) == sorted(v.display_code for v in vouchers)
    assert {v.sms_sent for v in Voucher.objects.filter(order=order)} == {1}


def test_vouchers_and_their_sms_are_written_in_a_few_statements_per_batch(
    tipped: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    deal, orders = tipped([2, 1, 3, 1, 1], tipping_point=9)  # not tipped: no voucher yet
    monkeypatch.setattr(services, "ISSUE_BATCH", 2)
    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as q:
        assert services.vouchers_issue(deal_id=deal.pk) == 8
    vouchers = list(Voucher.objects.filter(deal=deal).select_related("user").order_by("pk"))
    assert len(vouchers) == 8 and {(v.state, v.sms_sent) for v in vouchers} == {("issued", 1)}
    assert sorted((v.order_id, v.seq) for v in vouchers) == sorted(
        (o.pk, i + 1) for o in orders for i in range(o.quantity)
    )
    assert all(codes.is_well_formed(v.code) for v in vouchers)
    assert issue_logs(vouchers) == sorted((v.pk, "new", "issued") for v in vouchers)
    sms = list(OutboxMessage.objects.filter(template="voucher_issued").order_by("pk"))
    assert [(m.to, m.params["code"]) for m in sms] == [(v.user.mobile, v.display_code) for v in vouchers]
    assert all(v.display_code in m.body for v, m in zip(vouchers, sms, strict=True))
    # 3 batches of orders (2 + 2 + 1): per batch a bounded number of statements, none per voucher
    sql = [x["sql"] for x in q.captured_queries]
    assert sum(s.startswith('INSERT INTO "core_transitionlog"') for s in sql) == 3
    assert len(sql) <= 3 * 14 + 10
    assert services.vouchers_notify_new(deal_id=deal.pk) == 0  # nothing left unsent


def test_tipping_issues_in_ranges_of_orders_one_job_each(
    tipped: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    deal, orders = tipped([1, 2, 1, 1, 1], tipping_point=7)  # not tipped yet
    monkeypatch.setattr(services, "ISSUE_BATCH", 2)
    queued: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(jobs, "_dispatch", lambda name, kwargs: queued.append((name, kwargs)))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.vouchers_issue_in_ranges(deal_id=deal.pk) == 3
    keys = sorted(o.pk for o in orders)
    assert [(name, kw["first_order_id"], kw["last_order_id"]) for name, kw in queued] == [
        ("vouchers.issue_range", keys[0], keys[1]),
        ("vouchers.issue_range", keys[2], keys[3]),
        ("vouchers.issue_range", keys[4], keys[4]),
    ]
    assert not Voucher.objects.filter(deal=deal).exists()
    # each range issues its own orders only, once, with their SMS; a redelivered job adds nothing
    for name, kw in queued[1:]:
        jobs.run_now(name, **kw)
    assert {v.order_id for v in Voucher.objects.filter(deal=deal)} == set(keys[2:])
    for name, kw in queued:
        jobs.run_now(name, **kw)
    vouchers = Voucher.objects.filter(deal=deal)
    assert vouchers.count() == 6 and {(v.state, v.sms_sent) for v in vouchers} == {("issued", 1)}
    assert OutboxMessage.objects.filter(template="voucher_issued").count() == 6
    assert TransitionLog.objects.filter(process="voucher", object_id__in=[v.pk for v in vouchers]).count() == 6


def test_a_range_sends_what_it_finds_unsent_and_looks_no_further(tipped: Callable[..., Any]) -> None:
    deal, orders = tipped([1, 1, 1])  # tipped: issued and sent
    first, second, third = sorted(orders, key=lambda o: o.pk)
    left = Voucher.objects.get(order=second)
    Voucher.objects.filter(pk=left.pk).update(sms_sent=0)  # as if its runner stopped before sending
    OutboxMessage.objects.filter(template="voucher_issued", to=second.user.mobile).delete()
    with CaptureQueriesContext(connection) as q:
        services.vouchers_issue(deal_id=deal.pk, first_order_id=first.pk, last_order_id=first.pk)
    assert not any("FOR UPDATE" in x["sql"] for x in q.captured_queries)  # nothing unsent in its range
    services.vouchers_issue(deal_id=deal.pk, first_order_id=second.pk, last_order_id=third.pk)
    assert Voucher.objects.get(pk=left.pk).sms_sent == 1
    sms = OutboxMessage.objects.get(template="voucher_issued", to=second.user.mobile)
    assert sms.params["code"] == left.display_code
    assert OutboxMessage.objects.filter(template="voucher_issued").count() == 3
