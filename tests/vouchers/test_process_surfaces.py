"""Vouchers, statements and prospects on the engine's surfaces: one object's path, time per step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.vouchers.conftest import Shop, voucher_of
from tuangou.core.errors import NotFound
from tuangou.core.workflow.selectors import instance
from tuangou.core.workflow.stats import step_stats
from tuangou.settlement import services as settlement
from tuangou.settlement.process import STATEMENT
from tuangou.vouchers import services
from tuangou.vouchers.process import VOUCHER

pytestmark = pytest.mark.django_db


def test_paths_and_step_statistics(
    tipped: Callable[..., Any], shop: Shop, rival: Shop, operator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _deal, orders = tipped([1, 1])
    used, waiting = voucher_of(orders[0]), voucher_of(orders[1])
    services.voucher_verify(actor=shop.clerk, code=used.code, store_id=shop.store.pk)
    start, end = settlement.period_containing("monthly", used.valid_from)
    with django_capture_on_commit_callbacks(execute=True):  # the vouchers are marked settled after commit
        st = settlement.statement_generate(
            merchant_id=shop.merchant.pk, period_start=start, period_end=end, actor=operator
        )
    stats = {s.step: s for s in step_stats(VOUCHER)}
    assert stats["issued"].entered == 2 and stats["issued"].left == 1 and stats["issued"].waiting == 1
    assert stats["used"].entered == 1 and stats["used"].left == 1 and stats["used"].waiting == 0
    assert stats["settled"].entered == 1
    # one object's path (what the back-office page and the API show), seen by whoever may see the object
    path = instance(VOUCHER, used.pk, operator)
    assert path.current == "settled" and [x.action for x in path.steps] == ["issue", "verify", "settle"]
    assert "<svg" in path.svg()
    assert instance(VOUCHER, waiting.pk, shop.admin).current == "issued"
    statement_path = instance(STATEMENT, st.pk, shop.admin)
    assert [x.action for x in statement_path.steps] == ["draft"] and statement_path.steps[0].actor == operator
    with pytest.raises(NotFound):
        instance(STATEMENT, st.pk, rival.admin)
