"""Real threads released together against PostgreSQL, with at most `slots` connections at a
time (the server's connections are shared with other suites): what each call came to."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection

from tuangou.core.errors import AppError

DB_SLOTS = 40


def race(calls: Sequence[tuple[str, Callable[[], Any]]], *, slots: int = DB_SLOTS) -> Counter[str]:
    """Run every (name, call) in its own thread at once. Outcomes: ``ok`` when the call returned,
    the AppError's code when it refused (both after ``name:`` when a name is given), and
    ``crash:…`` for anything else (a deadlock)."""
    barrier = threading.Barrier(len(calls))
    gate = threading.BoundedSemaphore(slots)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(name: str, call: Callable[[], Any]) -> None:
        barrier.wait()
        with gate:
            try:
                call()
                result = f"{name}:ok" if name else "ok"
            except AppError as exc:
                result = f"{name}:{exc.code}" if name else exc.code
            except Exception as exc:  # a deadlock or anything else fails the caller's test
                result = f"crash:{type(exc).__name__}:{exc}"
            finally:
                connection.close()
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=run, args=item) for item in calls]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    print(f"\n{len(calls)} calls raced in {time.perf_counter() - started:.2f}s: {dict(outcomes)}")
    return outcomes


def race_each(n: int, work: Callable[[int], Any], *, slots: int = DB_SLOTS) -> tuple[list[Any], Counter[str]]:
    """`work(0)` … `work(n - 1)` raced as `race` does: what the calls that returned gave (in the
    order they finished), and every call's outcome (``ok``, the refusal's code, or ``crash:…``)."""
    results: list[Any] = []

    def call(i: int) -> Callable[[], None]:
        return lambda: results.append(work(i))

    return results, race([("", call(i)) for i in range(n)], slots=slots)


def while_held(hold: Callable[[], Any], then: Callable[[], Any], *, waits: float = 1.0) -> dict[str, Any]:
    """`hold` runs in a transaction of its own thread, which stays open while `then` starts in
    another thread; `then` must still be waiting `waits` seconds later (blocked by what `hold`
    took), then `hold` commits and both finish. Returns what each returned or raised:
    ``{"hold": …, "then": …}`` (an AppError is returned, anything else raised again)."""
    from django.db import connections, transaction

    held, release = threading.Event(), threading.Event()
    got: dict[str, Any] = {}

    def run(name: str, call: Callable[[], Any], keep_open: bool) -> None:
        try:
            if keep_open:
                with transaction.atomic():
                    got[name] = call()
                    held.set()
                    release.wait(10)  # the transaction is still open
            else:
                got[name] = call()
        except BaseException as exc:
            got[name] = exc
        finally:
            held.set()  # also when `hold` failed: nothing is left to wait for
            connections.close_all()

    first = threading.Thread(target=run, args=("hold", hold, True))
    first.start()
    assert held.wait(10)
    second = threading.Thread(target=run, args=("then", then, False))
    second.start()
    second.join(waits)
    waited = second.is_alive()
    release.set()
    first.join(10)
    second.join(10)
    for outcome in got.values():
        if isinstance(outcome, BaseException) and not isinstance(outcome, AppError):
            raise outcome
    assert waited, "the second call did not wait for the first one's transaction"
    return got
