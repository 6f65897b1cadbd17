"""Approval of the settlement statement of a merchant with many orders (`statement_approve`:
escrow → merchant payable + commission through `payments.escrow_release_many`, one balanced
ledger transaction per order, ADR 0018). Baseline: the same rows (a transaction and three legs
per order) written by plain ``INSERT … SELECT`` with no check, key, lock or audit row, rolled
back, in the same run. The check after it: one transaction per order, the merchant credited
the statement's payable, the commission posted the statement's, no unbalanced transaction."""

from __future__ import annotations

from typing import Any

from bench.registry import Row, benchmark
from bench.stack import Stack

ORDERS = 20000
PER_ORDER = 5


def _call(stack: Stack, func: str, **kwargs: Any) -> dict[str, Any]:
    import json

    code = (
        "import json; from bench import fixtures_settlement as f; "
        f"print('BENCH-JSON ' + json.dumps(f.{func}(**{kwargs!r}), default=str))"
    )
    for line in reversed(stack.python(code).splitlines()):
        if line.startswith("BENCH-JSON "):
            got: dict[str, Any] = json.loads(line[len("BENCH-JSON ") :])
            return got
    raise RuntimeError(f"fixtures_settlement.{func} returned nothing")


@benchmark("settlement_approve", "approval of a statement of 20,000 orders (100,000 vouchers)")
def run(stack: Stack, sizes: dict[str, Any]) -> list[Row]:
    setup = _call(stack, "approve_setup", orders=ORDERS, per_order=PER_ORDER)
    plain = float(_call(stack, "approve_plain", statement_id=setup["statement_id"])["plain_s"])
    got = _call(stack, "approve_run", statement_id=setup["statement_id"], operator_id=setup["operator_id"])
    stack.restart_worker()  # the vouchers marked settled in the background: not this figure
    right = (
        got["transactions"] == ORDERS
        and got["posted_to_merchant"] == got["payable"]
        and got["commission_posted"] == got["commission"]
        and got["unbalanced"] == 0
    )
    return [
        Row(
            "settlement_approve",
            f"approval of a statement of {ORDERS:,} orders",
            float(got["approve_s"]),
            "plain INSERT … SELECT of its rows",
            plain,
            "s",
            target="≤ 10 × plain SQL",
            higher_is_better=False,
            met=float(got["approve_s"]) <= 10 * plain and right,
            extra={**setup, **got, "postings_right": right},
        )
    ]
