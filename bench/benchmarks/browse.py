"""Browsing a city with `deals` live deals: the storefront's city page (20 a page) and deal page,
and the API's list, each under `users` concurrent anonymous clients; queries per page counted in
the setup with CaptureQueriesContext, rendered and served from the 5-second microcache of
anonymous pages (ADR 0013). The city page and the list cycle through 5 pages, so they are mostly
served from the microcache; the deal page picks among all the deals, so it is mostly rendered.
Baseline: /healthz at the same concurrency."""

from __future__ import annotations

from typing import Any

from bench import load
from bench.benchmarks.healthz import healthz_rate
from bench.registry import Row, benchmark
from bench.stack import Stack


@benchmark("browse", "city page and deal page with many live deals in one city")
def run(stack: Stack, sizes: dict[str, Any]) -> list[Row]:
    users, seconds = sizes["users"], sizes["seconds"]
    setup = stack.call("browse_setup", deals=sizes["deals"])
    city, ids, queries = setup["city"], setup["deal_ids"], setup["queries"]
    assert isinstance(ids, list) and isinstance(queries, dict)
    base = healthz_rate(stack, users=users, seconds=seconds).summary()
    pages = {
        "city page": lambda i, n: ("GET", f"/c/{city}/?page={1 + (i + n) % 5}", {}, None),
        "deal page": lambda i, n: ("GET", f"/deals/{ids[(i * 7919 + n * 104729) % len(ids)]}/", {}, None),
        "API list": lambda i, n: ("GET", f"/api/v1/deals?city={city}&limit=20&offset={20 * ((i + n) % 5)}", {}, None),
    }
    rows: list[Row] = []
    for name, factory in pages.items():
        s = load.closed_loop(stack.url, factory, users=users, seconds=seconds).summary()
        ok = s["statuses"].get("200", 0) / s["seconds"] if s["seconds"] else 0.0
        rendered, cached = queries.get(name, 0), queries.get(f"{name} cached", 0)
        rows += [
            Row(
                "browse",
                f"{name} req/s ({setup['deals']:,} deals, {rendered} queries, {cached} when cached)",
                ok,
                "healthz req/s",
                base["rps"],
                "req/s",
                target="≥ 0.5 × healthz",
                met=ok >= 0.5 * base["rps"],
                extra={"summary": s, "healthz": base, "queries": queries},
            ),
            Row("browse", f"{name} p99", s["p99_ms"], "healthz p99", base["p99_ms"], "ms", higher_is_better=False),
        ]
    return rows
