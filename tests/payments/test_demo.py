"""The payments demo: the demo member's top-up, a refunded order and a stuck refund for finance;
loading twice adds nothing; the ledger has no break."""

import pytest
from django.core.management import call_command

from tuangou.accounts.models import User
from tuangou.core.demo import DEMO_ACCOUNTS
from tuangou.ledger import selectors
from tuangou.ledger.checks import run_all
from tuangou.orders.models import Order
from tuangou.payments.models import Payment, Refund

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return (Payment.objects.count(), Refund.objects.count(), Order.objects.count())


def test_demo_payments_load_twice_and_finance_can_retry_the_stuck_refund() -> None:
    call_command("demo_load")
    first = _counts()
    call_command("demo_load")
    assert _counts() == first
    member = User.objects.get(mobile=DEMO_ACCOUNTS[1][0])
    assert selectors.member_balance(member.pk) >= 200
    done = Refund.objects.get(payment__buyer=member, reason="member_request", status="succeeded")
    assert Order.objects.get(pk=int(done.order_id or 0)).status == "refunded"
    stuck = Refund.objects.get(status="failed")  # a demo buyer's, for finance to retry
    assert stuck.last_error
    assert [(inv.name, problems) for inv, problems in run_all() if problems] == []

    from tuangou.payments import services

    finance = User.objects.get(mobile=DEMO_ACCOUNTS[7][0])
    services.refund_retry(refund_id=stuck.pk, actor=finance)
    services.refund_execute(refund_id=stuck.pk)
    stuck.refresh_from_db()
    assert stuck.status == "succeeded"
    assert Order.objects.get(pk=int(stuck.order_id or 0)).status == "refunded"
