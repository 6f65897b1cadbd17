"""A Hypothesis state machine of join, pay, abandon, duplicate notification, balance top-up and
balance pay, refund (to the gateway or the balance), release from escrow in parts, deal failure
and order expiry: after every step every ledger and payment invariant holds (`tuangou audit`),
no member's balance is negative, no order holds negative escrow, no payment is refunded beyond
its amount.

Derandomized, so CI runs the same sequences every time; a failure prints the shortest sequence
Hypothesis found.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tests.payments.conftest import FakeOrders
from tuangou.accounts.models import User
from tuangou.core.errors import AppError
from tuangou.core.money import ZERO, money
from tuangou.ledger import selectors
from tuangou.ledger.checks import run_all
from tuangou.ledger.models import LedgerTransaction
from tuangou.payments import services
from tuangou.payments.models import Payment, Refund, SandboxTrade
from tuangou.payments.providers import sandbox

pytestmark = pytest.mark.django_db(transaction=True)

_mobiles = count(13700000000)
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("300.00"), places=2)


class LedgerMachine(RuleBasedStateMachine):
    """One shop's day of payments with a small in-memory order backend (the orders port)."""

    orders_made = Bundle("orders")
    # One backend for every example: the database keeps each example's rows, and the audit asks
    # the backend about every order it finds.
    backend: FakeOrders

    def __init__(self) -> None:
        super().__init__()
        self.buyers: list[User] = []
        self.cashiers: dict[int, list[str]] = {}  # order id → the sandbox cashier of each of its payments
        self.step = 0

    @initialize()
    def make_buyers(self) -> None:
        self.buyers = [User.objects.create_user(str(next(_mobiles)), None) for _ in range(3)]

    # --- rules ---------------------------------------------------------------------------------

    @rule(
        target=orders_made,
        buyer=st.integers(0, 2),
        amount=AMOUNTS,
        pay=st.sampled_from(["sandbox", "sandbox", "balance", "later"]),
    )
    def join(self, buyer: int, amount: Decimal, pay: str) -> int:
        """A member joins and pays at the sandbox or from the balance at once, or comes back later."""
        order = self.backend.add(self.buyers[buyer].pk, str(amount))
        if pay == "balance":
            self._refused_is_fine(
                services.payment_start, buyer=self.buyers[buyer], provider="balance", order_id=order.id
            )
        self.cashiers[order.id] = []
        with contextlib.suppress(AppError):  # paid from the balance already
            _payment, start = services.payment_start(buyer=self.buyers[buyer], provider="sandbox", order_id=order.id)
            self.cashiers[order.id].append(start.url)
            if pay == "sandbox":
                Client().post(start.url, {"outcome": "pay"})
        return order.id

    @rule(order_id=orders_made, outcome=st.sampled_from(["pay", "pay", "fail", "abandon"]), which=st.integers(0, 3))
    def at_the_cashier(self, order_id: int, outcome: str, which: int) -> None:
        """The buyer finishes one of the order's payments (two open tabs may both be paid)."""
        cashiers = self.cashiers[order_id]
        if cashiers:
            Client().post(cashiers[which % len(cashiers)], {"outcome": outcome})

    @rule(order_id=orders_made)
    def pay_again(self, order_id: int) -> None:
        """A second payment of the same order (another tab): paid twice is refunded by itself."""
        buyer = User.objects.get(pk=self.backend.orders[order_id].buyer_id)
        with contextlib.suppress(AppError):
            _payment, start = services.payment_start(buyer=buyer, provider="sandbox", order_id=order_id)
            self.cashiers[order_id].append(start.url)

    @rule(order_id=orders_made)
    def duplicate_notification(self, order_id: int) -> None:
        payment = Payment.objects.filter(order_id=order_id).order_by("-pk").first()
        assert payment is not None
        trade = SandboxTrade.objects.filter(out_trade_no=payment.out_trade_no).exclude(notify_id="").first()
        if trade is not None:
            body = sandbox.notification_for(trade, sandbox.signing_key())
            services.notification_receive(provider="sandbox", body=body, headers={})

    @rule(buyer=st.integers(0, 2), amount=st.decimals(min_value=Decimal("100"), max_value=Decimal("1000"), places=2))
    def top_up(self, buyer: int, amount: Decimal) -> None:
        _payment, start = services.payment_start(buyer=self.buyers[buyer], provider="sandbox", amount=amount)
        Client().post(start.url, {"outcome": "pay"})

    @rule(order_id=orders_made)
    def pay_from_balance(self, order_id: int) -> None:
        buyer = User.objects.get(pk=self.backend.orders[order_id].buyer_id)
        self._refused_is_fine(services.payment_start, buyer=buyer, provider="balance", order_id=order_id)

    @rule(order_id=orders_made, part=AMOUNTS, to_balance=st.booleans())
    def refund(self, order_id: int, part: Decimal, to_balance: bool) -> None:
        self.step += 1
        self._refused_is_fine(
            services.order_refund,
            order_id=order_id,
            reason="member_request",
            amount=part,
            key=f"r{self.step}:{order_id}",
            to_balance=to_balance,
        )

    @rule(
        order_id=orders_made, share=st.sampled_from([Decimal("0.5"), Decimal("1"), Decimal("1.5")]), again=st.booleans()
    )
    def release(self, order_id: int, share: Decimal, again: bool) -> None:
        """Part or all of what the order holds leaves escrow (more is refused); one key moves it once."""
        held = -selectors.balance("escrow", order_id=order_id)
        amount = money(held * share)
        if amount <= ZERO:
            return
        self.step += 1
        for _ in range(2 if again else 1):
            self._refused_is_fine(
                services.escrow_release,
                order_id=order_id,
                merchant_id=1,
                amount=amount,
                commission=money(amount / 10),
                key=f"release:{order_id}:{self.step}",
            )

    @rule(order_id=orders_made)
    def deal_fails(self, order_id: int) -> None:
        self._refused_is_fine(services.deal_failed_refund, order_ids=[order_id])

    @rule(order_id=orders_made)
    def order_expires(self, order_id: int) -> None:
        self.backend.closed.add(order_id)

    @staticmethod
    def _refused_is_fine(action: Any, **kwargs: Any) -> None:
        with contextlib.suppress(AppError):  # a refused action changes nothing; the invariants prove it
            action(**kwargs)

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def ledger_invariants_hold(self) -> None:
        assert [(inv.name, problems) for inv, problems in run_all() if problems] == []

    @invariant()
    def nothing_is_negative(self) -> None:
        for buyer in self.buyers:
            assert selectors.member_balance(buyer.pk) >= ZERO
        for order_id in self.backend.orders:
            assert selectors.balance("escrow", order_id=order_id) <= ZERO
        refunded = Refund.objects.values("payment_id").annotate(total=Sum("amount"))
        amounts = dict(Payment.objects.values_list("pk", "amount"))
        for row in refunded:
            assert money(row["total"]) <= amounts[row["payment_id"]]


def test_random_sequences_keep_every_invariant(fake_orders: FakeOrders) -> None:
    LedgerMachine.backend = fake_orders
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=15, stateful_step_count=30, deadline=None, derandomize=True, database=None),
    )
    # the sequences did move money along the main paths (top-up, balance pay, release, refund)
    assert Payment.objects.filter(status="succeeded", purpose="topup").exists()
    assert Payment.objects.filter(status="succeeded", provider="balance").exists()
    assert LedgerTransaction.objects.filter(kind="release").exists()
    assert Refund.objects.filter(status="succeeded").exists()
