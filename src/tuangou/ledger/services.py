"""Posting to the ledger. The only way money moves; callers post inside their own transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from tuangou.core.bulk import insert_rows
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
    return accounts_for([code])[code]


def accounts_for(codes: Iterable[str]) -> dict[str, Account]:
    """The accounts of `codes`, made on first use (one query for those that exist)."""
    wanted = set(codes)
    for code in wanted:
        if code.split(":", 1)[0] not in Account.Kind.values:
            raise ValueError(f"unknown ledger account kind in {code!r}")
    found = {a.code: a for a in Account.objects.filter(code__in=wanted)}
    for code in sorted(wanted - set(found)):
        found[code], _created = Account.objects.get_or_create(code=code, defaults={"kind": code.split(":", 1)[0]})
    return found


@dataclass(frozen=True)
class Posting:
    """One transaction to post: what `ledger_post` takes, as a value (`ledger_post_many`)."""

    key: str
    kind: str
    legs: Sequence[tuple[str, Decimal]]
    order_id: int | None = None
    payment_id: int | None = None
    refund_id: int | None = None
    memo: str = ""


def _checked_legs(legs: Sequence[tuple[str, Decimal]]) -> list[tuple[str, Decimal]]:
    """The non-zero legs in exact `Decimal` cents; refused unless two or more summing to zero."""
    amounts = [(code, money(amount)) for code, amount in legs if money(amount) != ZERO]
    if len(amounts) < 2:
        raise ValueError("a ledger transaction needs at least two non-zero legs")
    if sum((a for _c, a in amounts), ZERO) != ZERO:
        raise Conflict(_("A ledger transaction must balance."), code="ledger_unbalanced")
    return amounts


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
    amounts = _checked_legs(legs)
    with transaction.atomic():
        existing = LedgerTransaction.objects.filter(key=key).first()
        if existing is not None:
            return existing
        accounts = accounts_for(code for code, _a in amounts)
        txn = LedgerTransaction.objects.create(
            key=key, kind=kind, memo=memo[:200], order_id=order_id, payment_id=payment_id, refund_id=refund_id
        )
        Leg.objects.bulk_create(
            Leg(transaction=txn, account=accounts[code], amount=amount, order_id=order_id) for code, amount in amounts
        )
    return txn


TXN_COLUMNS = ("key", "kind", "memo", "order_id", "payment_id", "refund_id")
LEG_COLUMNS = ("transaction_id", "account_id", "amount", "order_id")


def posted_keys(keys: Iterable[str], *, batch: int = 5000) -> set[str]:
    """Which of `keys` are posted already."""
    wanted = sorted(set(keys))
    found: set[str] = set()
    for i in range(0, len(wanted), batch):
        found.update(LedgerTransaction.objects.filter(key__in=wanted[i : i + batch]).values_list("key", flat=True))
    return found


def ledger_post_many(postings: Sequence[Posting], *, batch: int = 5000) -> dict[str, int]:
    """Post many balanced transactions at once, by `ledger_post`'s rules: each balances or
    nothing of the call is written; a key already posted is left as it is (idempotent).

    The rows go in with `core.bulk.insert_rows` (``COPY`` on PostgreSQL, ``bulk_create``
    elsewhere), `batch` transactions and their legs at a time, in the caller's transaction: no
    model instance and no query per posting. Returns the id of each new transaction by key.
    """
    checked = [(p, _checked_legs(p.legs)) for p in postings]
    if len({p.key for p in postings}) != len(postings):
        raise ValueError("a key is given twice")
    made: dict[str, int] = {}
    with transaction.atomic():
        done = posted_keys(p.key for p in postings)
        todo = [(p, legs) for p, legs in checked if p.key not in done]
        accounts = accounts_for(code for _p, legs in todo for code, _a in legs)
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            ids = insert_rows(
                LedgerTransaction,
                TXN_COLUMNS,
                [(p.key, p.kind, p.memo[:200], p.order_id, p.payment_id, p.refund_id) for p, _legs in part],
            )
            insert_rows(
                Leg,
                LEG_COLUMNS,
                [
                    (txn_id, accounts[code].pk, amount, p.order_id)
                    for txn_id, (p, legs) in zip(ids, part, strict=True)
                    for code, amount in legs
                ],
            )
            made.update(zip((p.key for p, _legs in part), ids, strict=True))
    return made
