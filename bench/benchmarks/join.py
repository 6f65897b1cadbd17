"""Join rush: buyers against one live deal with stock and a per-member limit, through the real
join API (POST /api/v1/deals/{id}/orders with a bearer token and an Idempotency-Key).

Phases, all on the same deal, after /healthz at the same concurrency (the baseline):
1. steady: an open loop at half the /healthz rate (the throughput target) for a few seconds;
   latency is measured from each request's scheduled start, so its p99 is the latency target;
2. rush: `users` concurrent buyers in a closed loop until the stock is gone (orders per second;
   in a closed loop the latency is users / throughput by Little's law, reported as measured);
3. sold out: the same number of buyers keep asking for `seconds` (rejections per second).

Each buyer account places `per_member` orders of one unit; every tenth request repeats the
previous request's Idempotency-Key (a client retry) and must get the same order back. Afterwards:
no oversell, every order the API answered with 201 is in the database once and every order in
the database was answered, nobody above the limit, `tuangou audit` clean.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from bench import load
from bench.benchmarks.healthz import healthz_rate
from bench.registry import Row, benchmark
from bench.stack import Stack

RETRY_EVERY = 10  # every tenth request is a retry of the one before (same key, same body)
Plan = list[tuple[int, str]]  # (buyer account, Idempotency-Key) per request


def _plan(new_orders: int, per_member: int, accounts: itertools.count[int], tag: str) -> Plan:
    """Requests for `new_orders` orders: accounts drawn from `accounts`, per_member orders each,
    with a retry of the previous request after every RETRY_EVERY - 1 new ones."""
    plan: Plan = []
    account = next(accounts)
    for n in range(new_orders):
        if n and n % per_member == 0:
            account = next(accounts)
        plan.append((account, f"{tag}-{n}"))
        if n % (RETRY_EVERY - 1) == RETRY_EVERY - 2:
            plan.append(plan[-1])
    return plan


def _factory(path: str, tokens: list[str], plan_of: Any) -> load.RequestFactory:
    body = json.dumps({"quantity": 1}).encode()

    def make(i: int, n: int) -> tuple[str, str, dict[str, str], bytes | None]:
        account, key = plan_of(i, n)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {tokens[account]}"}
        headers["Idempotency-Key"] = key
        return "POST", path, headers, body

    return make


def _orders(result: load.Result) -> tuple[set[int], int]:
    """Order ids answered with 201, and how many 201 answers were replays of an earlier one."""
    ids: set[int] = set()
    answers = 0
    for status, text in result.bodies:
        if status == 201:
            answers += 1
            try:
                ids.add(int(text.split('"id":', 1)[1].split(",", 1)[0]))
            except (IndexError, ValueError):
                continue
    return ids, answers - len(ids)


def _unexpected(summary: dict[str, Any], allowed: tuple[str, ...]) -> int:
    return int(summary["errors"]) + sum(v for k, v in summary["statuses"].items() if k not in allowed)


@benchmark("join", "join rush: buyers against one deal with stock and a per-member limit, then sold out")
def run(stack: Stack, sizes: dict[str, Any]) -> list[Row]:
    users, seconds, stock, per_member = sizes["users"], sizes["seconds"], sizes["stock"], sizes["per_member"]
    # rush shares rounded up, fresh buyers, and the steady phase (up to 40% of the stock) even if it failed
    accounts_needed = int(1.4 * stock) // per_member + 4 * users + 50
    setup = stack.call("join_setup", stock=stock, per_member=per_member, buyers=accounts_needed)
    deal_id, tokens = int(setup["deal_id"]), list(setup["tokens"])  # type: ignore[call-overload]
    path = f"/api/v1/deals/{deal_id}/orders"
    base = healthz_rate(stack, users=users, seconds=seconds).summary()
    accounts = itertools.count()

    # 1. steady: half the /healthz rate, open loop, using at most 40% of the stock
    rate = max(10.0, base["rps"] * 0.5)
    steady_s = max(2.0, min(seconds / 2, 0.4 * stock / rate))
    steady_plan = _plan(int(rate * steady_s) + 2, per_member, accounts, "s")
    steady = load.open_loop(
        stack.url,
        _factory(path, tokens, lambda i, _n: steady_plan[min(i, len(steady_plan) - 1)]),
        rate=rate,
        seconds=steady_s,
        pool=users // 2,
        keep_bodies=True,
    )
    s1 = steady.summary()
    steady_ids, steady_replays = _orders(steady)

    # 2. rush: `users` buyers, closed loop, each asking for its share of what is left (+1)
    share = -(-(stock - len(steady_ids)) // users) + 1
    plans = [_plan(share, per_member, accounts, f"r{i}") for i in range(users)]
    rush = load.closed_loop(
        stack.url,
        _factory(path, tokens, lambda i, n: plans[i][n]),
        users=users,
        per_user=len(plans[0]),
        seconds=600,
        keep_bodies=True,
    )
    s2 = rush.summary()
    rush_ids, rush_replays = _orders(rush)

    # 3. sold out: fresh buyers keep asking
    fresh = [next(accounts) for _ in range(users)]
    sold = load.closed_loop(
        stack.url, _factory(path, tokens, lambda i, n: (fresh[i], f"x{i}-{n}")), users=users, seconds=seconds
    )
    s3 = sold.summary()

    check = stack.call("join_check", deal_id=deal_id, ok_ids=sorted(steady_ids | rush_ids))
    try:
        audit = stack.manage("audit").strip()
    except RuntimeError as exc:  # exits non-zero with a report when anything is off
        audit = str(exc)
    orders_per_s = len(rush_ids) / s2["seconds"] if s2["seconds"] else 0.0
    rejections_per_s = s3["statuses"].get("409", 0) / s3["seconds"] if s3["seconds"] else 0.0
    errors = _unexpected(s1, ("201",)) + _unexpected(s2, ("201", "409")) + _unexpected(s3, ("409",))
    requests = s1["requests"] + s2["requests"] + s3["requests"]
    oversold = int(check["oversold"])  # type: ignore[call-overload]
    consistent = (
        oversold == 0
        and check["lost"] == 0
        and check["unanswered"] == 0
        and check["members_over_limit"] == 0
        and check["keys"] == check["orders"]
        and check["reserved_mismatch"] == 0
    )
    extra = {
        "healthz": base,
        "steady": s1,
        "rush": s2,
        "sold_out": s3,
        "check": check,
        "replays_answered": steady_replays + rush_replays,
        "audit": audit[-800:],
        "unexpected": [b for b in steady.bodies + rush.bodies if b[0] not in (201, 409)][:5],
    }
    return [
        Row(
            "join",
            f"orders/s, {users} buyers rushing",
            orders_per_s,
            "healthz req/s",
            base["rps"],
            "orders/s",
            target="≥ 0.5 × healthz",
            met=orders_per_s >= 0.5 * base["rps"],
            extra=extra,
        ),
        Row(
            "join",
            f"p99 at {rate:.0f} joins/s (open loop)",
            s1["p99_ms"],
            "healthz p99",
            base["p99_ms"],
            "ms",
            target="< 100 ms",
            higher_is_better=False,
            met=s1["p99_ms"] < 100,
            extra={"p50_ms": s1["p50_ms"]},
        ),
        Row(
            "join",
            f"p50 in the rush ({users} closed loop)",
            s2["p50_ms"],
            "healthz p50",
            base["p50_ms"],
            "ms",
            higher_is_better=False,
        ),
        Row(
            "join",
            f"p99 in the rush ({users} closed loop)",
            s2["p99_ms"],
            "healthz p99",
            base["p99_ms"],
            "ms",
            target="< 100 ms",
            higher_is_better=False,
            met=s2["p99_ms"] < 100,
        ),
        Row(
            "join",
            "sold-out rejections/s",
            rejections_per_s,
            "healthz req/s",
            base["rps"],
            "req/s",
            target="≥ 0.8 × healthz",
            met=rejections_per_s >= 0.8 * base["rps"],
        ),
        Row(
            "join",
            "errors (anything but 201, 409 sold out)",
            float(errors),
            "requests",
            float(requests),
            "",
            target="0",
            higher_is_better=False,
            met=errors == 0,
        ),
        Row(
            "join",
            f"oversold units ({check['orders']:,} orders, stock {check['stock']:,})",
            float(oversold),
            "stock",
            float(check["stock"]),
            "units",  # type: ignore[arg-type]
            target="0; none lost or twice; audit clean",
            higher_is_better=False,
            met=consistent and "audit: no breaks" in audit,
        ),
    ]
