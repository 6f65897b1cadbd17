"""make bench: bring up the scaled stack, run the benchmarks, write bench/results/.

python -m bench                    # everything at the default sizes
python -m bench --only join        # one benchmark (repeat --only for more)
python -m bench --size stock=2000 --size users=100
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import pkgutil
import platform
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench import benchmarks
from bench.registry import BENCHMARKS, Row
from bench.stack import Stack

RESULTS = Path(__file__).resolve().parent / "results"

DEFAULT_SIZES: dict[str, Any] = {
    "users": 200,  # concurrent clients for HTTP benchmarks
    "seconds": 8.0,  # length of each timed HTTP phase
    "stock": 5000,  # join rush: deal stock
    "per_member": 2,  # join rush: per-member limit
    "deals": 10000,  # browse: live deals in one city
    "paid_orders": 100000,  # deal close
    "stores": 20,  # verification
    "contenders": 50,  # one code, many clients
    "vouchers": 1000000,  # settlement statement
    "transitions": 1000000,  # time per step
    "close_timeout": 60.0,  # give up waiting for the deal close after this many seconds
    "settlement_timeout": 60.0,  # likewise for the statement
}


# healthz first; join before the benchmarks that write paid orders and vouchers in SQL, since it
# runs `tuangou audit` over the whole database
ORDER = ["healthz", "join", "verify", "browse", "close", "settlement", "step_times"]


def _discover() -> None:
    for info in pkgutil.iter_modules(benchmarks.__path__):
        importlib.import_module(f"bench.benchmarks.{info.name}")


def _parse_sizes(pairs: list[str]) -> dict[str, Any]:
    sizes = dict(DEFAULT_SIZES)
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in sizes:
            raise SystemExit(f"unknown size {key!r}; known: {', '.join(sizes)}")
        sizes[key] = type(DEFAULT_SIZES[key])(value)
    return sizes


def _machine() -> str:
    cpus = os.cpu_count()
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.machine()}, {cpus} cores{mem}, Python {platform.python_version()}"


def _table(rows: list[Row], when: str, machine: str) -> str:
    lines = [
        f"Benchmarks of {when} on {machine}. Ratio = value / baseline measured in the same run.",
        "",
        "| benchmark | metric | value | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(
            f"| {r.benchmark} | {r.metric} | {r.value:,.2f} {r.unit} | {r.baseline_name}: {r.baseline:,.2f} | "
            f"{r.ratio:.2f} | {r.target} | {met} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    _discover()
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these")
    parser.add_argument("--size", action="append", default=[], help="name=value, e.g. stock=2000")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    if args.list:
        for name, b in sorted(BENCHMARKS.items()):
            print(f"{name:<14} {b.help}")
        return 0
    sizes = _parse_sizes(args.size)
    # a TERM (timeout, Ctrl-C from make) still stops the stack's processes on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = args.only or sorted(BENCHMARKS, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = _machine()
    rows: list[Row] = []
    started = time.monotonic()
    failures = []
    with Stack() as stack:
        for name in names:
            print(f"== {name}", flush=True)
            t0 = time.monotonic()
            try:
                got = BENCHMARKS[name].func(stack, sizes)
            except Exception as exc:
                failures.append(f"{name}: {exc.__class__.__name__}: {exc}")
                print(f"   FAILED: {exc}", flush=True)
                continue
            rows += got
            for r in got:
                print(f"   {r.metric}: {r.value:,.2f} {r.unit} (ratio {r.ratio:.2f} to {r.baseline_name})", flush=True)
            print(f"   ({time.monotonic() - t0:.0f} s)", flush=True)
    RESULTS.mkdir(exist_ok=True)
    table = _table(rows, when, machine)
    if failures:
        table += "\nFailed: " + "; ".join(failures) + "\n"
    (RESULTS / "latest.md").write_text(table)
    raw = {
        "when": when,
        "machine": machine,
        "sizes": sizes,
        "seconds": round(time.monotonic() - started, 1),
        "rows": [{**r.__dict__, "ratio": r.ratio} for r in rows],
        "failures": failures,
    }
    (RESULTS / "latest.json").write_text(json.dumps(raw, indent=2, ensure_ascii=False, default=str))
    print()
    print(table)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
