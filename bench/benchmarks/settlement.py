"""Settlement statement for a merchant with `vouchers` vouchers used in the last period
(`settlement.services.statement_generate`: lines, commission, totals, the range that puts the
vouchers on it; ADR 0014: marking each voucher ``settled`` is a job queued after commit, not
part of the drafting, and is stopped when the figure is taken). Baseline: the plain SQL
aggregate (count, units, amount, commission) over the same rows; the statement's totals must
agree with it.

Capped at `settlement_timeout` seconds (the statement's transaction is then rolled back); a
capped figure is a lower bound."""

from __future__ import annotations

import subprocess
from typing import Any

from bench.registry import Row, benchmark
from bench.stack import Stack


@benchmark("settlement", "the statement of a merchant with a million verified vouchers")
def run(stack: Stack, sizes: dict[str, Any]) -> list[Row]:
    setup = stack.call("settlement_setup", vouchers=sizes["vouchers"])
    args = {"merchant_id": setup["merchant_id"], "start": setup["start"], "end": setup["end"]}
    cap = float(sizes["settlement_timeout"])
    plain = float(stack.call("settlement_plain", **args)["plain_s"])  # type: ignore[arg-type]
    try:
        got = stack.call("settlement_run", kill_after=cap, **args)
    except subprocess.TimeoutExpired:
        stack.restart_worker()
        return [
            Row(
                "settlement",
                f"statement over {sizes['vouchers']:,} vouchers (gave up at {cap:.0f} s)",
                cap,
                "plain SQL aggregate",
                plain,
                "s",
                target="≤ 2 × plain SQL",
                higher_is_better=False,
                met=False,
                extra=setup,
            ),
        ]
    # The statement's vouchers are marked settled by a background job (ADR 0014), not part of
    # the figure: stop it, so that it does not eat the next benchmark's CPU or add log rows.
    stack.restart_worker()
    took = float(got["statement_s"])  # type: ignore[arg-type]
    same = got["gross"] == got["plain_gross"] and got["statement_units"] == got["vouchers"]
    return [
        Row(
            "settlement",
            f"statement over {sizes['vouchers']:,} vouchers",
            took,
            "plain SQL aggregate",
            plain,
            "s",
            target="≤ 2 × plain SQL",
            higher_is_better=False,
            met=took <= 2 * plain and same,
            extra={**setup, **got, "totals_agree": same},
        ),
    ]
