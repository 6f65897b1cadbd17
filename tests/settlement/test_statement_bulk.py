"""The statement's lines are written in SQL and their commission set per group (deal, units,
amount): each line's commission is still what `commission_for` gives for its voucher."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from tests.vouchers.conftest import Shop
from tuangou.deals.models import Deal
from tuangou.merchants.models import Agreement
from tuangou.settlement import services
from tuangou.vouchers import services as vouchers
from tuangou.vouchers.models import Voucher

pytestmark = pytest.mark.django_db
D = Decimal


def test_each_line_as_commission_for_its_voucher_across_deals_and_chunks(
    tipped: Callable[..., Any], shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    Agreement.objects.filter(merchant=shop.merchant).update(commission_rate=D("7.50"))
    tipped([1, 2], group_price="19.90")
    tipped([1], settlement_price=D("80.00"))
    override, _ = tipped([3], group_price="33.30")
    Deal.objects.filter(pk=override.pk).update(commission_rate=D("12.50"))
    for v in Voucher.objects.filter(state="issued").order_by("pk"):
        vouchers.voucher_verify(actor=shop.clerk, code=v.code, store_id=shop.store.pk)
    # one group per UPDATE, to cross the chunk boundary
    real = services._set_commission
    monkeypatch.setattr(services, "_set_commission", lambda st, terms: real(st, terms, chunk=1))
    start, end = services.period_containing("monthly", timezone.localdate())
    st = services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end)
    terms = services._terms(shop.merchant, end)
    lines = list(st.lines.select_related("voucher", "deal").order_by("pk"))
    assert [line.voucher_id for line in lines] == sorted(line.voucher_id for line in lines)
    assert len(lines) == 7 and {line.voucher.state for line in lines} == {"settled"}
    for line in lines:
        v = line.voucher
        assert (line.order_id, line.deal_id, line.units, line.amount, line.at) == (
            v.order_id,
            v.deal_id,
            v.units,
            v.amount,
            v.used_at,
        )
        assert line.commission == services.commission_for(amount=v.amount, units=v.units, deal=line.deal, terms=terms)
    # 3 × 19.90 at 7.5 % (1.49 each) + 99.00 − 80.00 + 3 × 33.30 at 12.5 % (4.16 each)
    assert (st.units, st.gross, st.commission) == (
        7,
        D("59.70") + D("99.00") + D("99.90"),
        D("4.47") + D("19.00") + D("12.48"),
    )
