"""Data and timed runs for the approval of a big settlement statement (`settlement_approve`),
run inside Django on the bench database through `Stack.python(...)`.

The merchant, its orders and vouchers are `bench.fixtures.settlement_setup`'s (used last
period, copied in SQL); each order's money is put into escrow with one ``capture`` ledger
transaction per order (clearing → escrow, copied in SQL), as a paid order holds it. The
statement is drafted and confirmed through the services; the figure is the approval.
"""

from __future__ import annotations

import datetime as dt
import resource
import time
from typing import Any

from django.db import connection
from django.db.models import Sum

from bench.fixtures import _one, settlement_setup


def _sql(query: str, params: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


def approve_setup(*, orders: int, per_order: int = 5) -> dict[str, Any]:
    """A merchant with `orders` paid orders of `per_order` vouchers used last period, their money
    in escrow, and its statement drafted and confirmed (ready for approval)."""
    from tuangou.accounts.roles import Role
    from tuangou.ledger.services import ESCROW, account_for, clearing
    from tuangou.merchants.models import MerchantMember
    from tuangou.settlement.services import statement_confirm, statement_generate

    made = settlement_setup(vouchers=orders * per_order, per_order=per_order)
    merchant_id = made["merchant_id"]
    escrow, gateway = account_for(ESCROW).pk, account_for(clearing("sandbox")).pk
    tag = f"bench:{merchant_id}"
    _sql(
        "INSERT INTO ledger_ledgertransaction (key, kind, memo, order_id, created_at) "
        "SELECT 'capture:' || %s || ':' || o.id, 'capture', '', o.id, now() FROM orders_order o "
        "JOIN deals_deal d ON d.id = o.deal_id WHERE d.merchant_id = %s",
        [tag, merchant_id],
    )
    for account, sign in ((gateway, 1), (escrow, -1)):
        _sql(
            "INSERT INTO ledger_leg (transaction_id, account_id, amount, order_id) "
            "SELECT t.id, %s, %s * o.amount, o.id FROM ledger_ledgertransaction t "
            "JOIN orders_order o ON o.id = t.order_id WHERE t.key LIKE %s",
            [account, sign, f"capture:{tag}:%"],
        )
    _sql("ANALYZE")
    start, end = dt.date.fromisoformat(made["start"]), dt.date.fromisoformat(made["end"])
    statement = statement_generate(merchant_id=merchant_id, period_start=start, period_end=end)
    admin = MerchantMember.objects.filter(merchant_id=merchant_id, store__isnull=True).first()
    assert admin is not None
    statement_confirm(actor=admin.user, statement_id=statement.pk)
    operator = _one(Role.OPERATOR)
    return {**made, "orders": orders, "statement_id": statement.pk, "operator_id": operator.pk}


def approve_run(*, statement_id: int, operator_id: int) -> dict[str, Any]:
    """The approval, timed (wall clock and this process's CPU), and what it posted."""
    from tuangou.accounts.models import User
    from tuangou.ledger import selectors
    from tuangou.ledger.models import LedgerTransaction
    from tuangou.ledger.services import merchant
    from tuangou.settlement.services import statement_approve

    operator = User.objects.get(pk=operator_id)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    w0, c0 = time.perf_counter(), time.process_time()
    statement = statement_approve(actor=operator, statement_id=statement_id)
    took, cpu = time.perf_counter() - w0, time.process_time() - c0
    peak_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    posted = LedgerTransaction.objects.filter(memo=statement.number)
    unbalanced = selectors.unbalanced_transactions()
    return {
        "approve_s": took,
        "approve_cpu_s": cpu,
        "peak_rss_growth_mib": round(peak_mib, 1),
        "transactions": posted.count(),
        "posted_to_merchant": str(-selectors.balance(merchant(statement.merchant_id))),
        "payable": str(statement.payable),
        "commission": str(statement.commission),
        "commission_posted": str(
            -(posted.filter(legs__account__code="commission").aggregate(s=Sum("legs__amount"))["s"] or 0)
        ),
        "unbalanced": len(unbalanced),
    }


def approve_plain(*, statement_id: int) -> dict[str, Any]:
    """The baseline: the rows the approval writes (a transaction and three legs per order, from
    one ``GROUP BY order`` over the statement's vouchers), in plain ``INSERT … SELECT``, rolled
    back: what writing them costs with no check, key, lock or audit row."""
    from django.db import transaction

    from tuangou.ledger.services import COMMISSION, ESCROW, account_for, merchant
    from tuangou.settlement.models import Statement
    from tuangou.settlement.services import statement_vouchers

    statement = Statement.objects.get(pk=statement_id)
    per_order = statement_vouchers(statement).values("order_id").annotate(amount=Sum("amount")).order_by()
    grouped, params = per_order.query.sql_with_params()
    accounts = [account_for(c).pk for c in (ESCROW, merchant(statement.merchant_id), COMMISSION)]
    t0 = time.perf_counter()
    with transaction.atomic():
        _sql(
            "CREATE TEMP TABLE plain_orders ON COMMIT DROP AS "  # noqa: S608 - the ORM's own SQL
            f"SELECT order_id, amount, round(amount / 10, 2) AS commission FROM ({grouped}) v",
            list(params),
        )
        _sql(
            "INSERT INTO ledger_ledgertransaction (key, kind, memo, order_id, created_at) "
            "SELECT 'plain:' || order_id, 'plain', '', order_id, now() FROM plain_orders"
        )
        _sql(
            "INSERT INTO ledger_leg (transaction_id, account_id, amount, order_id) "
            "SELECT t.id, a.account, CASE a.n WHEN 0 THEN p.amount WHEN 1 THEN p.commission - p.amount "
            "ELSE -p.commission END, p.order_id FROM plain_orders p "
            "JOIN ledger_ledgertransaction t ON t.key = 'plain:' || p.order_id "
            "CROSS JOIN (SELECT unnest(%s::bigint[]) AS account, generate_series(0, 2) AS n) a",
            [accounts],
        )
        took = time.perf_counter() - t0
        transaction.set_rollback(True)
    return {"plain_s": took}
