"""A member's own refund follows the deal's policy (隨時退 before use, nothing once used, parts by
voucher); escrow is released in parts, each once; finance's payouts never exceed what is owed;
the buyer gets an SMS when the money arrives and when it goes back."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation

from tests.payments.test_with_orders import _audit_clean, _join_and_pay
from tests.vouchers.conftest import Shop, make_shop
from tuangou.accounts.models import User
from tuangou.core.errors import Conflict, ValidationFailed
from tuangou.deals.models import Deal
from tuangou.ledger import selectors
from tuangou.ledger.services import COMMISSION, PAID_OUT, merchant
from tuangou.messaging.models import OutboxMessage
from tuangou.orders.models import Order
from tuangou.payments import services
from tuangou.payments.models import Refund
from tuangou.vouchers import services as voucher_services
from tuangou.vouchers.models import Voucher

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(make_user: Callable[..., User]) -> Shop:
    return make_shop(make_user)


@pytest.fixture
def bought(shop: Shop, operator: User, make_user: Callable[..., User]) -> Callable[..., tuple[Order, User]]:
    """bought(quantity, **deal fields) → (a paid order of a tipped deal with its vouchers, its buyer)."""
    from tests.deals.factories import make_deal

    def make(quantity: int = 2, **deal_fields: Any) -> tuple[Order, User]:
        deal_fields.setdefault("per_member_limit", 5)
        deal = make_deal(merchant=shop.merchant, operator=operator, tipping_point=1, **deal_fields)
        buyer = make_user()
        order = _join_and_pay(deal, buyer, quantity)
        assert order.status == "paid"
        voucher_services.vouchers_issue(deal_id=deal.pk)
        return order, buyer

    return make


def _refusal(order: Order, buyer: User, **kwargs: Any) -> tuple[str, str]:
    """(code, English message) of the refusal of a member's refund request."""
    with translation.override("en"):
        with pytest.raises(Conflict) as caught:
            services.member_refund_request(order_id=order.pk, actor=buyer, **kwargs)
        return caught.value.code, str(caught.value.message)


def test_refund_anytime_before_use_gives_everything_back_once(bought) -> None:
    order, buyer = bought(2)
    refunds = services.member_refund_request(order_id=order.pk, actor=buyer)
    assert [r.status for r in Refund.objects.filter(pk__in=[r.pk for r in refunds])] == ["succeeded"]
    order.refresh_from_db()
    assert order.status == "refunded"
    assert selectors.balance("escrow", order_id=order.pk) == 0
    assert _refusal(order, buyer)[0] == "refund_nothing_left"
    _audit_clean()


def test_deal_without_refund_anytime_refuses_and_says_why(bought) -> None:
    order, buyer = bought(1, refund_anytime=False)
    code, message = _refusal(order, buyer)
    assert code == "refund_not_allowed" and "does not allow refunds" in message
    assert not Refund.objects.filter(order_id=order.pk).exists()


def test_no_refund_once_a_voucher_is_used(bought, shop: Shop) -> None:
    order, buyer = bought(2)
    first = Voucher.objects.filter(order_id=order.pk).order_by("pk").first()
    assert first is not None
    voucher_services.voucher_verify(actor=shop.clerk, code=first.code, store_id=shop.store.pk)
    code, message = _refusal(order, buyer)
    assert code == "voucher_used" and "used" in message
    assert selectors.balance("escrow", order_id=order.pk) == -order.amount  # nothing moved


def test_a_part_of_an_order_with_vouchers_goes_back_voucher_by_voucher(bought) -> None:
    order, buyer = bought(2)
    code, message = _refusal(order, buyer, amount=Decimal("10.00"))
    assert code == "refund_by_voucher" and "single unused vouchers" in message
    unused = Voucher.objects.filter(order_id=order.pk).order_by("pk").first()
    assert unused is not None
    voucher_services.voucher_refund(actor=buyer, voucher_id=unused.pk)
    back = Refund.objects.get(order_id=order.pk)
    assert back.amount == unused.amount and back.key.startswith(f"voucher:{unused.pk}:")
    _audit_clean()


def test_the_buyer_hears_of_the_payment_and_of_the_refund(bought) -> None:
    order, buyer = bought(1)
    received = OutboxMessage.objects.filter(to=buyer.mobile, template="payment_received")
    assert received.count() == 1
    assert received.get().params["order"] == order.number
    services.member_refund_request(order_id=order.pk, actor=buyer, to_balance=True)
    done = OutboxMessage.objects.get(to=buyer.mobile, template="refund_done")
    assert done.params["amount"] == "¥99.00" and done.params["order"] == order.number
    assert selectors.member_balance(buyer.pk) == order.amount


def test_escrow_released_in_parts_each_once(bought, shop: Shop) -> None:
    order, _buyer = bought(2)  # 2 × 99.00 in escrow
    mid = shop.merchant.pk
    for voucher in Voucher.objects.filter(order_id=order.pk).order_by("pk"):
        for _twice in range(2):
            services.escrow_release(
                order_id=order.pk,
                merchant_id=mid,
                amount=voucher.amount,
                commission=Decimal("9.90"),
                key=f"release:voucher:{voucher.pk}",
            )
    assert selectors.balance("escrow", order_id=order.pk) == 0
    assert selectors.balance(merchant(mid)) == Decimal("-178.20")
    assert selectors.balance(COMMISSION) == Decimal("-19.80")
    with pytest.raises(Conflict):
        services.escrow_release(order_id=order.pk, merchant_id=mid, amount=Decimal("1.00"), commission=Decimal("0"))
    with pytest.raises(ValidationFailed) as bad:
        services.escrow_release(order_id=order.pk, merchant_id=mid, amount=Decimal("0"), commission=Decimal("0"))
    assert bad.value.errors and "amount" in bad.value.errors

    with pytest.raises(Conflict):  # more than the platform owes
        services.merchant_payout(merchant_id=mid, amount=Decimal("178.21"), key="payout:test")
    for _twice in range(2):
        services.merchant_payout(merchant_id=mid, amount=Decimal("178.20"), key="payout:test")
    assert selectors.balance(merchant(mid)) == 0
    assert selectors.balance(PAID_OUT) == Decimal("-178.20")
    _audit_clean()


def test_refund_request_after_a_release_is_refused(bought, shop: Shop) -> None:
    order, buyer = bought(1)
    services.escrow_release(
        order_id=order.pk, merchant_id=shop.merchant.pk, amount=order.amount, commission=Decimal("0")
    )
    Deal.objects.filter(pk=order.deal_id).update(refund_anytime=True)
    with pytest.raises(Conflict) as caught:
        services.member_refund_request(order_id=order.pk, actor=buyer)
    assert caught.value.code == "escrow_released"


def test_escrow_released_for_many_orders_at_once_never_beyond_what_each_holds(bought, shop: Shop) -> None:
    from tuangou.core.models import AuditLog
    from tuangou.ledger.models import LedgerTransaction

    big, _b = bought(2)  # 198.00 in escrow
    small, _s = bought(1)  # 99.00
    mid = shop.merchant.pk
    Release = services.Release
    releases = [
        Release(order_id=big.pk, amount=Decimal("150.00"), commission=Decimal("15.00"), key="st:1:big:sale"),
        # a give-back of the same order counts against its release: 120.00 leaves in all
        Release(order_id=big.pk, amount=Decimal("-30.00"), commission=Decimal("-3.00"), key="st:1:big:refund"),
        Release(order_id=small.pk, amount=Decimal("99.00"), commission=Decimal("9.90"), key="st:1:small:sale"),
    ]
    for expected in (3, 0):  # the second call finds every key posted
        assert services.escrow_release_many(merchant_id=mid, releases=releases, kind="settlement") == expected
    assert selectors.balance("escrow", order_id=big.pk) == Decimal("-78.00")
    assert selectors.balance("escrow", order_id=small.pk) == 0
    assert selectors.balance(merchant(mid)) == Decimal("-197.10")  # 135 - 27 + 89.10
    assert selectors.balance(COMMISSION) == Decimal("-21.90")
    assert LedgerTransaction.objects.filter(kind="settlement").count() == 3
    logged = AuditLog.objects.filter(action="escrow.release")
    assert sorted(row.data["key"] for row in logged) == sorted(r.key for r in releases)
    assert {row.object_id for row in logged} == {
        str(pk) for pk in LedgerTransaction.objects.filter(kind="settlement").values_list("pk", flat=True)
    }
    more = [
        Release(order_id=big.pk, amount=Decimal("78.00"), commission=Decimal("0"), key="st:2:big:sale"),
        Release(order_id=small.pk, amount=Decimal("0.01"), commission=Decimal("0"), key="st:2:small:sale"),
    ]
    with pytest.raises(Conflict) as caught:  # the small order's escrow is empty: nothing of the call is posted
        services.escrow_release_many(merchant_id=mid, releases=more)
    assert caught.value.code == "escrow_released"
    assert selectors.balance("escrow", order_id=big.pk) == Decimal("-78.00")
    for commission, code in ((Decimal("78.01"), "commission_above_amount"), (Decimal("-1.00"), "bad_commission")):
        with pytest.raises(ValidationFailed) as refused:  # above the amount, or of the other sign
            services.escrow_release_many(
                merchant_id=mid,
                releases=[Release(order_id=big.pk, amount=Decimal("78.00"), commission=commission, key="st:3")],
            )
        assert refused.value.code == code and "commission" in refused.value.errors
    assert services.escrow_release_many(merchant_id=mid, releases=more[:1]) == 1
    assert selectors.balance("escrow", order_id=big.pk) == 0
    _audit_clean()
