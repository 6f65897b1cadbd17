"""Demo vouchers: the demo member (13800000001) buys the tipped hotpot deal twice, paying through
the sandbox gateway (cashier → signed notification), so "my vouchers" shows real 團購券; the
demo clerk (13800000003) of 老街火鍋 has verified one of them at 人民廣場店 and can verify the
others at the counter. Built through the real services; re-runnable (a member who already has
paid orders of the deal buys nothing more).
"""

from __future__ import annotations

from typing import Any

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.core.models import City
from tuangou.deals.models import Deal
from tuangou.merchants.models import MerchantMember
from tuangou.orders import services as order_services
from tuangou.orders.models import Order
from tuangou.vouchers import services
from tuangou.vouchers.models import Redemption, Voucher

HOTPOT = "laojie-hotpot"
DEAL_TITLE = "雙人火鍋套餐（含鍋底、六葷六素）"
QUANTITIES = (2, 1)


def pay_with_sandbox(*, buyer: User, order: Order) -> None:
    """Pay `order` as the buyer would: start at the sandbox gateway, press pay on its cashier, and
    let the sandbox deliver its signed notification (which marks the order paid)."""
    from tuangou.payments.providers.sandbox import sandbox_deliver, sandbox_trade_finish
    from tuangou.payments.services import payment_start

    payment, _result = payment_start(buyer=buyer, provider="sandbox", order_id=order.pk)
    trade = sandbox_trade_finish(out_trade_no=payment.out_trade_no, outcome="pay")
    sandbox_deliver(trade_id=trade.pk)


def load(*, users: dict[str, User], cities: dict[str, City], **_: Any) -> None:
    member, clerk = users[Role.MEMBER], users[Role.CLERK]
    deal = Deal.objects.filter(merchant__slug=HOTPOT, title=DEAL_TITLE).first()
    if deal is None or deal.tipped_at is None:
        return
    paid = Order.objects.filter(deal=deal, user=member, status__in=("paid", "completed"))
    if not paid.exists() and deal.status in Deal.ON_SALE:
        for quantity in QUANTITIES:
            order = order_services.deal_join(actor=member, deal_id=deal.pk, quantity=quantity)
            pay_with_sandbox(buyer=member, order=order)
    # What the deal.tipped / order.paid handlers do after commit, done now so the rest of the
    # demo (the counter, the statement) has vouchers to work with. Idempotent.
    services.vouchers_issue(deal_id=deal.pk)
    mine = Voucher.objects.filter(deal=deal, user=member).order_by("pk")
    if mine.exists() and not Redemption.objects.filter(voucher__in=mine).exists():
        membership = MerchantMember.objects.filter(user=clerk, merchant=deal.merchant, store__isnull=False).first()
        first = mine.filter(state="issued").first()
        if membership is not None and first is not None:
            services.voucher_verify(actor=clerk, code=first.code, store_id=membership.store_id)  # type: ignore[arg-type]
