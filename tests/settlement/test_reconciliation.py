"""商家記錄銷售情況 / 與團購網購買核對: the merchant's tally against the platform's verifications."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from tests.vouchers.conftest import Shop
from tuangou.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tuangou.settlement import services
from tuangou.settlement.models import Tally
from tuangou.vouchers import services as vouchers
from tuangou.vouchers.models import Voucher

pytestmark = pytest.mark.django_db


def _use_two(tipped: Callable[..., Any], shop: Shop) -> None:
    deal, _orders = tipped([3])
    for v in Voucher.objects.filter(deal=deal).order_by("pk")[:2]:
        vouchers.voucher_verify(actor=shop.clerk, code=v.code, store_id=shop.store.pk)


def test_differences_are_listed_and_disputed(
    tipped: Callable[..., Any], shop: Shop, rival: Shop, operator: Any
) -> None:
    _use_two(tipped, shop)
    today = timezone.localdate()
    services.tally_record(actor=shop.admin, merchant_id=shop.merchant.pk, day=today, units=3, amount="297.00")
    [row] = services.reconciliation(merchant_id=shop.merchant.pk, start=today, end=today)
    assert (row.platform_units, row.platform_amount, row.merchant_units) == (2, Decimal("198.00"), 3)
    assert row.differs
    with pytest.raises(NotFound):
        services.dispute_open(actor=rival.admin, merchant_id=shop.merchant.pk, day=today, comment="x")
    dispute = services.dispute_open(
        actor=shop.admin, merchant_id=shop.merchant.pk, day=today, comment="we served three"
    )
    with pytest.raises(Conflict):
        services.dispute_open(actor=shop.admin, merchant_id=shop.merchant.pk, day=today, comment="again")
    with pytest.raises(NotFound):
        services.dispute_comment(actor=rival.admin, dispute_id=dispute.pk, text="hi")
    services.dispute_comment(actor=operator, dispute_id=dispute.pk, text="the third was never verified")
    with pytest.raises(Forbidden):
        services.dispute_resolve(actor=shop.admin, dispute_id=dispute.pk, resolution="x")
    done = services.dispute_resolve(actor=operator, dispute_id=dispute.pk, resolution="merchant verifies it now")
    assert done.state == "resolved" and done.comments.count() == 3


def test_agreeing_day_cannot_be_disputed(tipped: Callable[..., Any], shop: Shop) -> None:
    _use_two(tipped, shop)
    today = timezone.localdate()
    services.tally_record(actor=shop.admin, merchant_id=shop.merchant.pk, day=today, units=2, amount="198.00")
    with pytest.raises(Conflict):
        services.dispute_open(actor=shop.admin, merchant_id=shop.merchant.pk, day=today, comment="?")


def test_tally_errors_name_the_field(shop: Shop) -> None:
    today = timezone.localdate()
    for field, kwargs in (
        ("units", {"units": "x", "amount": "1"}),
        ("amount", {"units": 1, "amount": "1,2"}),
        ("day", {"units": 1, "amount": "1", "day": "31/01"}),
    ):
        with pytest.raises(ValidationFailed) as info:
            services.tally_record(actor=shop.admin, merchant_id=shop.merchant.pk, **{"day": today, **kwargs})
        assert field in info.value.errors
    with pytest.raises(NotFound):
        services.tally_record(actor=shop.clerk, merchant_id=shop.merchant.pk, day=today, units=1, amount="1")


def test_csv_and_excel_upload(shop: Shop) -> None:
    from openpyxl import Workbook

    csv = b"day,units,amount,note\n2026-01-02,3,297.00,lunch\n2026-01-03,1,99\n"
    assert services.tally_import(actor=shop.admin, merchant_id=shop.merchant.pk, filename="t.csv", content=csv) == 2
    wb = Workbook()
    wb.active.append(["day", "units", "amount"])
    wb.active.append(["2026-01-03", 2, 198])
    out = io.BytesIO()
    wb.save(out)
    services.tally_import(actor=shop.admin, merchant_id=shop.merchant.pk, filename="t.xlsx", content=out.getvalue())
    assert {(str(t.day), t.units, t.amount) for t in Tally.objects.all()} == {
        ("2026-01-02", 3, Decimal("297.00")),
        ("2026-01-03", 2, Decimal("198.00")),
    }
    bad = b"day,units,amount\n2026-01-04,x,1\n"
    with translation.override("en"), pytest.raises(ValidationFailed) as info:
        services.tally_import(actor=shop.admin, merchant_id=shop.merchant.pk, filename="t.csv", content=bad)
    assert "Row 1" in info.value.errors["file"][0]
    assert not Tally.objects.filter(day="2026-01-04").exists()
    with pytest.raises(ValidationFailed):
        services.tally_import(actor=shop.admin, merchant_id=shop.merchant.pk, filename="t.pdf", content=b"")
