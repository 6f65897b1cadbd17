"""Posting to the ledger. The only way money moves; callers post inside their own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from tuangou.core.errors import Conflict
from tuangou.core.money import ZERO, money
from tuangou.ledger.models import Account, LedgerTransaction, Leg

ESCROW = "escrow"
COMMISSION = "commission"
REFUNDS_IN_FLIGHT = "refunds_in_flight"
PAID_OUT = "paid_out"


def clearing(provider: str) -> str:
    """清算: what a gateway has collected for the platform and not yet passed on."""
    return f"clearing:{provider}"


def member(user_id: int) -> str:
    """站內餘額 of one member (a liability: negative when the member has money)."""
    return f"member:{user_id}"


def merchant(merchant_id: int) -> str:
    """應付商家: what the platform owes one merchant after commission."""
    return f"merchant:{merchant_id}"


def account_for(code: str) -> Account:
    kind = code.split(":", 1)[0]
    if kind not in Account.Kind.values:
        raise ValueError(f"unknown ledger account kind in {code!r}")
    account, _created = Account.objects.get_or_create(code=code, defaults={"kind": kind})
    return account


def ledger_post(
    *,
    key: str,
    kind: str,
    legs: Sequence[tuple[str, Decimal]],
    order_id: int | None = None,
    payment_id: int | None = None,
    refund_id: int | None = None,
    memo: str = "",
) -> LedgerTransaction:
    """Post one balanced transaction. Legs sum to zero or nothing is written.

    Idempotent by `key`: posting the same key again returns the first transaction, so a retried
    job cannot move the same money twice. Legs on per-order accounts (escrow, refunds in flight)
    carry `order_id` so one order's money can be followed.
    """
    amounts = [(code, money(amount)) for code, amount in legs if money(amount) != ZERO]
    if len(amounts) < 2:
        raise ValueError("a ledger transaction needs at least two non-zero legs")
    if sum((a for _c, a in amounts), ZERO) != ZERO:
        raise Conflict(_("A ledger transaction must balance."), code="ledger_unbalanced")
    with transaction.atomic():
        existing = LedgerTransaction.objects.filter(key=key).first()
        if existing is not None:
            return existing
        txn = LedgerTransaction.objects.create(
            key=key, kind=kind, memo=memo[:200], order_id=order_id, payment_id=payment_id, refund_id=refund_id
        )
        Leg.objects.bulk_create(
            Leg(transaction=txn, account=account_for(code), amount=amount, order_id=order_id)
            for code, amount in amounts
        )
    return txn
