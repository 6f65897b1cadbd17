"""A small asyncio HTTP/1.1 load generator, run in separate processes (see docs/adr/0007).

Two shapes:
- closed loop: N virtual users, each sends its next request when the last one answered
  (throughput at a concurrency level, e.g. 200 buyers rushing a deal);
- open loop: requests start at a constant arrival rate whatever the server does, and latency is
  measured from the *scheduled* start, so a stalled server shows up in p99 instead of hiding
  (no coordinated omission).

Each worker process runs its share of the virtual users on its own event loop and returns raw
latencies; the parent merges them.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# A request factory gets the virtual user's index and its request counter and returns
# (method, path, headers, body bytes or None).
RequestFactory = Callable[[int, int], tuple[str, str, dict[str, str], bytes | None]]


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, successful or not
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    elapsed: float = 0.0
    bodies: list[Any] = field(default_factory=list)

    def merge(self, other: Result) -> None:
        self.latencies += other.latencies
        for k, v in other.statuses.items():
            self.statuses[k] = self.statuses.get(k, 0) + v
        self.errors += other.errors
        self.elapsed = max(self.elapsed, other.elapsed)
        self.bodies += other.bodies

    @property
    def count(self) -> int:
        return len(self.latencies)

    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[index]

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.count,
            "seconds": round(self.elapsed, 3),
            "rps": round(self.rate(), 1),
            "p50_ms": round(self.percentile(50) * 1000, 2),
            "p99_ms": round(self.percentile(99) * 1000, 2),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else None,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors,
        }


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        for attempt in range(2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                return await self._send(method, path, headers, body)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _send(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: keep-alive"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length, close = None, False
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            lname = name.strip().lower()
            if lname == "content-length":
                length = int(value.strip())
            elif lname == "connection" and value.strip().lower() == "close":
                close = True
        data = await self.reader.readexactly(length) if length is not None else await self.reader.read()
        if close or length is None:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _closed_users(
    base: str, factory: RequestFactory, users: range, per_user: int, deadline: float, keep_bodies: bool
) -> Result:
    parts = urlsplit(base)
    result = Result()
    start = time.perf_counter()

    async def user(index: int) -> None:
        conn = Connection(parts.hostname or "127.0.0.1", parts.port or 80)
        for n in range(per_user):
            if time.perf_counter() > deadline:
                break
            method, path, headers, body = factory(index, n)
            t0 = time.perf_counter()
            try:
                status, data = await conn.request(method, path, headers, body)
            except Exception:
                result.errors += 1
                result.latencies.append(time.perf_counter() - t0)
                continue
            result.latencies.append(time.perf_counter() - t0)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if keep_bodies:
                result.bodies.append((status, data[:300].decode("utf-8", "replace")))
        conn.close()

    await asyncio.gather(*(user(i) for i in users))
    result.elapsed = time.perf_counter() - start
    return result


async def _open_rate(
    base: str, factory: RequestFactory, rate: float, count: int, offset: int, pool: int, keep_bodies: bool = False
) -> Result:
    parts = urlsplit(base)
    result = Result()
    conns: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(pool):
        conns.put_nowait(Connection(parts.hostname or "127.0.0.1", parts.port or 80))
    start = time.perf_counter()

    async def one(n: int, scheduled: float) -> None:
        conn = await conns.get()
        method, path, headers, body = factory(offset + n, n)
        try:
            status, data = await conn.request(method, path, headers, body)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if keep_bodies:
                result.bodies.append((status, data[:300].decode("utf-8", "replace")))
        except Exception:
            result.errors += 1
        finally:
            result.latencies.append(time.perf_counter() - scheduled)
            conns.put_nowait(conn)

    tasks = []
    for n in range(count):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, scheduled)))
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - start
    return result


# The request factory of the current run: set before the worker processes fork, so that closures
# (which cannot be pickled) reach them.
_FACTORY: RequestFactory | None = None


def _closed_worker(args: tuple[Any, ...]) -> Result:
    base, lo, hi, per_user, seconds, keep = args
    factory = _FACTORY
    assert factory is not None
    deadline = time.perf_counter() + seconds
    return asyncio.run(_closed_users(base, factory, range(lo, hi), per_user, deadline, keep))


def _open_worker(args: tuple[Any, ...]) -> Result:
    base, rate, count, offset, pool, keep = args
    factory = _FACTORY
    assert factory is not None
    return asyncio.run(_open_rate(base, factory, rate, count, offset, pool, keep))


def _map(worker: Callable[[tuple[Any, ...]], Result], jobs: list[tuple[Any, ...]]) -> list[Result]:
    """Run one job per forked process. close() + join() lets the workers finish and exit on their
    own: Pool.__exit__ calls terminate(), which can kill a worker while it holds the pool's queue
    lock and leave the run hanging."""
    pool = mp.get_context("fork").Pool(len(jobs))
    try:
        parts = pool.map(worker, jobs)
    except BaseException:
        pool.terminate()
        raise
    pool.close()
    pool.join()
    return parts


def closed_loop(
    base: str,
    factory: RequestFactory,
    *,
    users: int,
    per_user: int = 10**9,
    seconds: float = 10.0,
    processes: int = 2,
    keep_bodies: bool = False,
) -> Result:
    """`users` virtual users split over `processes`; each sends up to `per_user` requests."""
    global _FACTORY
    _FACTORY = factory
    bounds = [round(i * users / processes) for i in range(processes + 1)]
    jobs = [(base, bounds[i], bounds[i + 1], per_user, seconds, keep_bodies) for i in range(processes)]
    parts = _map(_closed_worker, jobs)
    total = Result()
    for part in parts:
        total.merge(part)
    return total


def open_loop(
    base: str,
    factory: RequestFactory,
    *,
    rate: float,
    seconds: float,
    processes: int = 2,
    pool: int = 64,
    keep_bodies: bool = False,
) -> Result:
    """Constant arrival rate `rate` per second for `seconds`, split over `processes`; at most `pool`
    connections per process (a request waiting for a free connection is late, and counted so)."""
    global _FACTORY
    _FACTORY = factory
    per = int(rate * seconds / processes)
    jobs = [(base, rate / processes, per, i * per, pool, keep_bodies) for i in range(processes)]
    parts = _map(_open_worker, jobs)
    total = Result()
    for part in parts:
        total.merge(part)
    return total


def get(path: str, headers: dict[str, str] | None = None) -> RequestFactory:
    hdrs = headers or {}
    return lambda _i, _n: ("GET", path, hdrs, None)


def post_json(path: str, body: Callable[[int, int], Any], headers: Callable[[int], dict[str, str]]) -> RequestFactory:
    def make(i: int, n: int) -> tuple[str, str, dict[str, str], bytes | None]:
        return "POST", path, {"Content-Type": "application/json", **headers(i)}, json.dumps(body(i, n)).encode()

    return make
