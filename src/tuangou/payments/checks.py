"""Payment invariants for `tuangou audit`: gateway records against the ledger and the orders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import Sum

from tuangou.core.money import ZERO, money
from tuangou.ledger.checks import invariant
from tuangou.ledger.models import Leg
from tuangou.payments import orders
from tuangou.payments.models import Payment, Refund


def _tx_amounts(kind: str, field: str) -> dict[int, list[Decimal]]:
    """{payment or refund id: [positive amount of each transaction of `kind`]}."""
    found: dict[int, list[Decimal]] = defaultdict(list)
    rows = (
        Leg.objects.filter(transaction__kind=kind, amount__gt=0)
        .values(f"transaction__{field}", "transaction_id")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        found[row[f"transaction__{field}"]].append(money(row["total"]))
    return found


@invariant(
    "payments.capture",
    "Each paid payment has exactly one capture of its amount in the ledger; no other payment has one.",
)
def _captures() -> Iterator[str]:
    captured = _tx_amounts("capture", "payment_id")
    for p in Payment.objects.only("pk", "status", "amount", "out_trade_no"):
        got = captured.pop(p.pk, [])
        if p.status == Payment.Status.SUCCEEDED and got != [p.amount]:
            yield f"payment {p.out_trade_no} is paid ({p.amount}) but the ledger holds captures {got}"
        elif p.status != Payment.Status.SUCCEEDED and got:
            yield f"payment {p.out_trade_no} is {p.status} but the ledger captured {got}"
    for pk, got in captured.items():
        yield f"ledger capture {got} for payment #{pk} that does not exist"


@invariant(
    "payments.refunds",
    "Each refund is requested once and, when done, paid out once, for its amount; "
    "no payment is refunded more than it took.",
)
def _refunds() -> Iterator[str]:
    requested = _tx_amounts("refund_request", "refund_id")
    done = _tx_amounts("refund_done", "refund_id")
    for r in Refund.objects.only("pk", "status", "amount", "out_request_no"):
        if requested.get(r.pk, []) != [r.amount]:
            yield f"refund {r.out_request_no}: requested {r.amount}, ledger holds {requested.get(r.pk, [])}"
        want = [r.amount] if r.status == Refund.Status.SUCCEEDED else []
        if done.get(r.pk, []) != want:
            yield f"refund {r.out_request_no} is {r.status}, ledger paid out {done.get(r.pk, [])}"
    over = Payment.objects.annotate(refunded=Sum("refunds__amount")).filter(refunded__gt=0)
    for p in over:
        if p.refunded > p.amount:  # type: ignore[attr-defined]
            yield f"payment {p.out_trade_no} refunded {p.refunded} of {p.amount}"  # type: ignore[attr-defined]


@invariant(
    "payments.one_place",
    "Each paid order's money is in exactly one place: paid = in escrow + refunds "
    "in flight + refunded + released to the merchant.",
)
def _one_place() -> Iterator[str]:
    paid: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for order_id, amount in Payment.objects.filter(
        status=Payment.Status.SUCCEEDED, purpose=Payment.Purpose.ORDER, order_id__isnull=False
    ).values_list("order_id", "amount"):
        paid[int(order_id or 0)] += amount
    where: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    order_legs = (
        Leg.objects.filter(order_id__isnull=False)
        .values_list("order_id", "account__kind", "transaction__kind")
        .annotate(total=Sum("amount"))
    )
    for leg_order, account_kind, tx_kind, total in order_legs:
        where[int(leg_order or 0)][f"{account_kind}:{tx_kind}"] += total
    refunded = dict(
        Refund.objects.filter(status=Refund.Status.SUCCEEDED).values_list("order_id").annotate(s=Sum("amount"))
    )
    for order_id in sorted(set(paid) | set(where)):
        legs = where.get(order_id, {})
        escrow = -money(sum((v for k, v in legs.items() if k.startswith("escrow:")), ZERO))
        in_flight = -money(sum((v for k, v in legs.items() if k.startswith("refunds_in_flight:")), ZERO))
        # released to the merchant (payable) and the platform (commission), by whichever service
        released = -money(sum((v for k, v in legs.items() if k.startswith(("merchant:", "commission:"))), ZERO))
        total = escrow + in_flight + money(refunded.get(order_id) or ZERO) + released
        if money(total) != money(paid.get(order_id, ZERO)):
            yield (
                f"order #{order_id}: paid {paid.get(order_id, ZERO)} but escrow {escrow} + in flight {in_flight}"
                f" + refunded {refunded.get(order_id) or ZERO} + released {released}"
            )
        if escrow < 0 or in_flight < 0:
            yield f"order #{order_id}: escrow {escrow}, in flight {in_flight} (negative)"


@invariant("payments.orders", "Each payment belongs to an existing order of the same buyer and amount.")
def _orders() -> Iterator[str]:
    backend = orders.backend()
    for p in Payment.objects.filter(purpose=Payment.Purpose.ORDER).exclude(status=Payment.Status.PENDING):
        order = backend.get(p.order_id) if p.order_id else None
        if order is None:
            yield f"payment {p.out_trade_no} refers to order #{p.order_id}, which does not exist"
        elif order.amount != p.amount or order.buyer_id != p.buyer_id:
            yield (
                f"payment {p.out_trade_no} ({p.amount}, buyer #{p.buyer_id}) does not match order #{order.id} "
                f"({order.amount}, buyer #{order.buyer_id})"
            )
