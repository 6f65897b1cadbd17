"""Invariants `tuangou audit` checks. Domains register theirs with `@invariant`.

A check yields one readable line per break it finds; an empty check is a pass.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps

from tuangou.core.money import ZERO
from tuangou.ledger import selectors
from tuangou.ledger.models import Leg


@dataclass(frozen=True)
class Invariant:
    name: str
    description: str
    func: Callable[[], Iterable[str]]


_registry: dict[str, Invariant] = {}


def invariant(name: str, description: str) -> Callable[[Callable[[], Iterable[str]]], Callable[[], Iterable[str]]]:
    def register(func: Callable[[], Iterable[str]]) -> Callable[[], Iterable[str]]:
        _registry[name] = Invariant(name, description, func)
        return func

    return register


def all_invariants() -> list[Invariant]:
    for config in apps.get_app_configs():
        if config.name.startswith("tuangou."):
            try:
                importlib.import_module(f"{config.name}.checks")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.checks":
                    raise
    return list(_registry.values())


def run_all() -> list[tuple[Invariant, list[str]]]:
    return [(inv, list(inv.func())) for inv in all_invariants()]


@invariant("ledger.balanced", "Every ledger transaction has two or more legs that sum to zero.")
def _balanced() -> Iterator[str]:
    for row in selectors.unbalanced_transactions():
        yield f"transaction #{row['id']} ({row['key']}): {row['n']} legs summing to {row['total']}"


@invariant("ledger.total_zero", "All legs of the whole ledger sum to zero.")
def _total_zero() -> Iterator[str]:
    total = sum(selectors.kind_totals().values(), ZERO)
    if total != ZERO:
        yield f"the ledger sums to {total}, not 0.00"


@invariant(
    "ledger.signs",
    "Liabilities never turn into assets: no member, merchant or escrow account is owed by "
    "the platform's customers, and no order's escrow is negative.",
)
def _signs() -> Iterator[str]:
    for row in selectors.account_balances():
        if row["kind"] in {"escrow", "member", "merchant", "refunds_in_flight", "commission"} and row["balance"] > 0:
            yield f"account {row['code']} has a debit balance of {row['balance']}"
    per_order: dict[tuple[int | None, str], Decimal] = {}
    for leg in Leg.objects.filter(order_id__isnull=False, account__kind__in=["escrow", "refunds_in_flight"]).values(
        "order_id", "account__kind", "amount"
    ):
        key = (leg["order_id"], leg["account__kind"])
        per_order[key] = per_order.get(key, ZERO) + leg["amount"]
    for (order_id, kind), total in sorted(per_order.items()):
        if total > 0:
            yield f"order #{order_id}: {kind} holds {total}, more has left than came in"
