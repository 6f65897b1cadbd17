"""The issue-6 demo data: real vouchers for the demo member, one verified by the demo clerk, a
draft statement for the demo merchant, a BD rep's prospects; loading twice adds nothing."""

import pytest
from django.core.management import call_command

from tuangou.core.workflow.engine import history
from tuangou.merchants.models import Prospect
from tuangou.orders.models import Order
from tuangou.settlement.models import Statement
from tuangou.vouchers.models import Redemption, Voucher

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return (
        Order.objects.count(),
        Voucher.objects.count(),
        Redemption.objects.count(),
        Statement.objects.count(),
        Prospect.objects.count(),
    )


def test_demo_vouchers_statement_and_pipeline_load_twice() -> None:
    call_command("demo_load")
    first = _counts()
    call_command("demo_load")
    assert _counts() == first
    member = Order.objects.filter(user__mobile="13800000001", status="paid")
    assert member.count() == 2
    mine = Voucher.objects.filter(user__mobile="13800000001")
    assert mine.count() == 3 and mine.filter(state="issued").count() == 2
    used = Redemption.objects.get(voucher__in=mine)
    assert used.clerk.mobile == "13800000003" and used.store.name == "人民廣場店"
    statement = Statement.objects.get(merchant__slug="laojie-hotpot")
    assert statement.state == "draft" and statement.units == 1 and statement.commission > 0
    assert [r.action for r in history(used.voucher)][-2:] == ["verify", "settle"]
    stages = dict(Prospect.objects.filter(rep__mobile="13800000004").values_list("name", "stage"))
    assert sorted(stages.values()) == ["contacted", "lead", "negotiating", "signed"]
    signed = Prospect.objects.get(stage="signed")
    assert signed.merchant is not None and signed.agreement is not None
