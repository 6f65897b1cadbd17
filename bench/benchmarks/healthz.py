"""The baseline every HTTP benchmark divides by: the same server's /healthz."""

from __future__ import annotations

from typing import Any

from bench import load
from bench.registry import Row, benchmark
from bench.stack import Stack


def healthz_rate(stack: Stack, *, users: int, seconds: float) -> load.Result:
    return load.closed_loop(stack.url, load.get("/healthz"), users=users, seconds=seconds)


@benchmark("healthz", "baseline: /healthz throughput at the benchmark concurrency")
def run(stack: Stack, sizes: dict[str, Any]) -> list[Row]:
    result = healthz_rate(stack, users=sizes["users"], seconds=sizes["seconds"])
    s = result.summary()
    return [
        Row("healthz", "requests/s", s["rps"], "healthz", s["rps"], "req/s", extra=s),
        Row("healthz", "p99 latency", s["p99_ms"], "healthz", s["p99_ms"], "ms", higher_is_better=False, extra=s),
    ]
