"""Deal close: a deal with `paid_orders` paid orders tips (the last buyer pays through the real
service); time until every voucher exists and every voucher SMS is in the outbox, with the
Celery worker doing the work as in production. Baseline: a plain bulk insert of as many
comparable rows (a voucher per order, ``INSERT … SELECT``) into a copy of the voucher table.

The wait is capped at `close_timeout` seconds (so that `make bench` stays under 15 minutes);
a capped figure is reported as a lower bound ("> N s") and the worker is restarted, so that the
unfinished work does not eat the next benchmark's CPU."""

from __future__ import annotations

from typing import Any

from bench.registry import Row, benchmark
from bench.stack import Stack


@benchmark("close", "a deal with many paid orders tips: vouchers issued and SMS queued")
def run(stack: Stack, sizes: dict[str, Any]) -> list[Row]:
    n = sizes["paid_orders"]
    setup = stack.call("close_setup", paid_orders=n)
    cap = float(sizes["close_timeout"])
    got = stack.call("close_run", deal_id=setup["deal_id"], last_user_id=setup["last_user_id"], timeout=cap)
    purged = stack.purge_jobs()  # the SMS deliveries still queued: not part of the figure
    if got["timed_out"]:
        stack.restart_worker()
    bulk = float(setup["bulk_insert_s"])  # type: ignore[arg-type]
    vouchers_s = float(got["vouchers_s"] or cap)  # type: ignore[arg-type]
    messages_s = float(got["messages_s"] or cap)  # type: ignore[arg-type]
    more = ""
    if not got["messages_s"]:
        more = f" (gave up at {cap:.0f} s: {got['vouchers']:,} vouchers, {got['messages']:,} SMS)"
    extra = {**setup, **got, "jobs_purged": purged}
    return [
        Row(
            "close",
            f"vouchers for {n:,} paid orders",
            vouchers_s,
            "bulk insert",
            bulk,
            "s",
            higher_is_better=False,
            extra=extra,
        ),
        Row(
            "close",
            f"vouchers issued and every SMS queued{more}",
            messages_s,
            "bulk insert",
            bulk,
            "s",
            target="≤ 2 × bulk insert",
            higher_is_better=False,
            met=messages_s <= 2 * bulk,
        ),
    ]
