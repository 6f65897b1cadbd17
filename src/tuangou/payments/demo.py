"""Demo payments, built through the real services and the sandbox gateway (vouchers.demo has
already paid the demo member's hotpot orders; deals.demo the other buyers').

The demo member (13800000001):
- tops up the site balance (站內餘額) by ¥200 at the sandbox cashier;
- bought the lunch hotpot and asked for the money back before use (隨時退): refunded to the
  original payment method, the order shows refunded (the spa and hotpot deals are left to the
  other demos and browser tests, which count the member's orders there);
and a demo buyer of the same lunch hotpot (deals.demo) asked for a refund while the sandbox was
refusing refunds: the refund is stuck, listed for finance (13800000007) to retry under
Refunds → not finished.

Re-runnable: each step is skipped when what it makes is already there.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.test import override_settings

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.core.models import City
from tuangou.deals.models import Deal
from tuangou.orders import services as order_services
from tuangou.payments import services
from tuangou.payments.models import Payment, Refund
from tuangou.payments.providers.sandbox import sandbox_deliver, sandbox_trade_finish

TOP_UP = Decimal("200.00")
LUNCH_DEAL = "單人午市小火鍋（差幾人成團）"


def _pay_at_sandbox(payment: Payment) -> None:
    """The buyer presses pay on the sandbox cashier; the sandbox sends its signed notification."""
    trade = sandbox_trade_finish(out_trade_no=payment.out_trade_no, outcome="pay")
    sandbox_deliver(trade_id=trade.pk)


def _buy(member: User, deal: Deal) -> int:
    order = order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1)
    payment, _start = services.payment_start(buyer=member, provider="sandbox", order_id=order.pk)
    _pay_at_sandbox(payment)
    return order.pk


def _asked_refund(orders: Any) -> bool:
    return Refund.objects.filter(order_id__in=orders.values("pk"), reason=Refund.Reason.MEMBER_REQUEST).exists()


def load(*, users: dict[str, User], cities: dict[str, City], **_: Any) -> None:
    member = users[Role.MEMBER]

    topped_up = Payment.objects.filter(buyer=member, purpose=Payment.Purpose.TOPUP, status=Payment.Status.SUCCEEDED)
    if not topped_up.exists():
        payment, _start = services.payment_start(buyer=member, provider="sandbox", amount=TOP_UP)
        _pay_at_sandbox(payment)

    lunch = Deal.objects.filter(title=LUNCH_DEAL, status__in=Deal.ON_SALE).first()
    if lunch is None:
        return
    from tuangou.orders.models import Order

    if not _asked_refund(Order.objects.filter(deal=lunch, user=member)):
        order_id = _buy(member, lunch)
        for refund in services.member_refund_request(order_id=order_id, actor=member):
            services.refund_execute(refund_id=refund.pk)  # what the job does after commit, now

    others = Order.objects.filter(deal=lunch).exclude(user=member)
    if not _asked_refund(others):
        buyer_order = others.select_related("user").filter(status="paid").order_by("pk").first()
        if buyer_order is not None:
            with override_settings(SANDBOX_REFUNDS_FAIL=True):  # the gateway says no: finance must retry
                for refund in services.member_refund_request(order_id=buyer_order.pk, actor=buyer_order.user):
                    services.refund_execute(refund_id=refund.pk)
