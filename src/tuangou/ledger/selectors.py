"""Balances, always derived from the legs."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum

from tuangou.core.money import ZERO, money
from tuangou.ledger.models import Account, LedgerTransaction, Leg


def balance(code: str, *, order_id: int | None = None) -> Decimal:
    """Debits minus credits of account `code` (optionally of one order's legs only)."""
    legs = Leg.objects.filter(account__code=code)
    if order_id is not None:
        legs = legs.filter(order_id=order_id)
    return money(legs.aggregate(total=Sum("amount"))["total"] or ZERO)


def balances_by_order(code: str, order_ids: Iterable[int], *, batch: int = 5000) -> dict[int, Decimal]:
    """`balance(code, order_id=…)` of each of `order_ids` (absent: none of its legs), one
    grouped query per `batch` orders."""
    wanted = sorted(set(order_ids))
    found: dict[int, Decimal] = {}
    for i in range(0, len(wanted), batch):
        rows = (
            Leg.objects.filter(account__code=code, order_id__in=wanted[i : i + batch])
            .values("order_id")
            .annotate(total=Sum("amount"))
            .order_by()
        )
        for row in rows:
            found[row["order_id"] or 0] = money(row["total"] or ZERO)
    return found


def member_balance(user_id: int) -> Decimal:
    """What a member may spend from 站內餘額 (positive), from the liability's credit balance."""
    return -balance(f"member:{user_id}")


def account_balances() -> list[dict[str, Any]]:
    """Every account with its derived balance, for the finance page and the audit."""
    rows = Account.objects.annotate(total=Sum("legs__amount"), legs_count=Count("legs")).order_by("kind", "code")
    return [
        {
            "code": a.code,
            "kind": a.kind,
            "kind_label": a.get_kind_display(),
            "balance": money(a.total or ZERO),
            "legs": a.legs_count,
        }
        for a in rows
    ]


def kind_totals() -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for row in Leg.objects.values("account__kind").annotate(total=Sum("amount")):
        totals[row["account__kind"]] = money(row["total"] or ZERO)
    return totals


def unbalanced_transactions() -> list[dict[str, Any]]:
    """Transactions whose legs do not sum to zero or that have fewer than two legs."""
    # Compared in Python after rounding to the cent: SQLite sums decimals as floats.
    rows = LedgerTransaction.objects.annotate(total=Sum("legs__amount"), n=Count("legs")).values(
        "id", "key", "total", "n"
    )
    return [dict(row) for row in rows if row["n"] < 2 or row["total"] is None or money(row["total"]) != ZERO]


def member_history(user_id: int, *, limit: int = 100) -> list[Leg]:
    """The movements of a member's balance, newest first."""
    return list(
        Leg.objects.filter(account__code=f"member:{user_id}")
        .select_related("transaction")
        .order_by("-transaction__created_at", "-id")[:limit]
    )


def order_position(order_id: int) -> dict[str, Decimal]:
    """Where one order's money is: balance per account kind over the order's legs."""
    position: dict[str, Decimal] = {}
    for row in Leg.objects.filter(order_id=order_id).values("account__kind").annotate(total=Sum("amount")):
        position[row["account__kind"]] = money(row["total"] or ZERO)
    return position
