"""Issuing a batch through the engine at once (`create_in_state`), and its fallback when a
concurrent runner created some of the batch's vouchers first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tuangou.core.workflow.engine import create_in_state
from tuangou.core.workflow.models import ProcessPosition, TransitionLog
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

    def raced(rows: list[Voucher], action: str, **kw: Any) -> Any:
        # another runner inserts the order's second voucher just before this one does
        Voucher.objects.create(
            code=codes.generate(),
            order=order,
            seq=2,
            deal=deal,
            merchant_id=deal.merchant_id,
            user_id=order.user_id,
            amount=order.unit_price,
            valid_from=rows[0].valid_from,
            valid_until=rows[0].valid_until,
        )
        return create_in_state(rows, action, **kw)

    monkeypatch.setattr(services, "create_in_state", raced)
    services.vouchers_issue(deal_id=deal.pk)
    vouchers = list(Voucher.objects.filter(order=order).order_by("seq"))
    assert [(v.seq, v.state) for v in vouchers] == [(1, "issued"), (2, "issued"), (3, "issued")]
    assert issue_logs(vouchers) == sorted((v.pk, "new", "issued") for v in vouchers)
