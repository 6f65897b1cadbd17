"""Verification at the counter: clerks of `stores` stores verify fresh codes through the real API
(POST /api/v1/vouchers/verify), `users` connections at once; then one code contested by
`contenders` clients at the same moment, of which exactly one may succeed. Baseline: /healthz.

The bench settings lift the per-store attempt limit (see bench/settings.py): at the shipped
60 a minute, 20 stores could never do more than 20 verifications a second.
"""

from __future__ import annotations

import json
from typing import Any

from bench import load
from bench.benchmarks.healthz import healthz_rate
from bench.registry import Row, benchmark
from bench.stack import Stack

PATH = "/api/v1/vouchers/verify"


def _request(token: str, code: str, store: int) -> tuple[str, str, dict[str, str], bytes | None]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    return "POST", PATH, headers, json.dumps({"code": code, "store": store}).encode()


@benchmark("verify", "verifications per second across stores, and one code contested by many clients")
def run(stack: Stack, sizes: dict[str, Any]) -> list[Row]:
    users, seconds, stores, contenders = sizes["users"], sizes["seconds"], sizes["stores"], sizes["contenders"]
    per_store = max(200, int(seconds * 400 / stores) + 50)
    setup = stack.call("verify_setup", stores=stores, per_store=per_store)
    store_ids: list[int] = setup["store_ids"]  # type: ignore[assignment]
    tokens: list[str] = setup["tokens"]  # type: ignore[assignment]
    codes: list[list[str]] = setup["codes"]  # type: ignore[assignment]
    base = healthz_rate(stack, users=users, seconds=seconds).summary()

    at_store = -(-users // stores)  # counters per store

    def verify(i: int, n: int) -> tuple[str, str, dict[str, str], bytes | None]:
        s = i % stores
        k = (i // stores) + n * at_store
        return _request(tokens[s], codes[s][k % per_store], store_ids[s])

    run_ = load.closed_loop(stack.url, verify, users=users, per_user=per_store // at_store, seconds=seconds)
    s1 = run_.summary()
    counted = stack.call("verify_count", store_ids=store_ids)
    ok = s1["statuses"].get("200", 0)
    per_s = ok / s1["seconds"] if s1["seconds"] else 0.0

    contested = str(setup["contested"])
    fight = load.closed_loop(
        stack.url,
        lambda i, _n: _request(tokens[i % stores], contested, store_ids[i % stores]),
        users=contenders,
        per_user=1,
        seconds=60,
    )
    s2 = fight.summary()
    after = stack.call("verify_check", voucher_id=setup["contested_id"])
    winners = s2["statuses"].get("200", 0)
    exact = winners == 1 and s2["statuses"].get("409", 0) == contenders - 1 and after["redemptions"] == 1
    errors = s1["errors"] + sum(v for k, v in s1["statuses"].items() if k != "200")
    extra = {"healthz": base, "run": s1, "contest": s2, "after": after, "redemptions": counted}
    return [
        Row(
            "verify",
            f"verifications/s, {stores} stores, {users} counters",
            per_s,
            "healthz req/s",
            base["rps"],
            "req/s",
            target="≥ 0.5 × healthz",
            met=per_s >= 0.5 * base["rps"],
            extra=extra,
        ),
        Row("verify", "p99 latency", s1["p99_ms"], "healthz p99", base["p99_ms"], "ms", higher_is_better=False),
        Row(
            "verify",
            "errors (anything but 200)",
            float(errors),
            "requests",
            float(s1["requests"]),
            "",
            target="0",
            higher_is_better=False,
            met=errors == 0 and counted["redemptions"] == ok,
        ),
        Row(
            "verify",
            f"one code, {contenders} clients: successes",
            float(winners),
            "clients",
            float(contenders),
            "",
            target="exactly 1",
            met=exact,
        ),
    ]
