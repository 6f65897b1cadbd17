"""Background jobs, one code path for both running modes.

A domain's `tasks.py` declares a job with `@job` (optionally periodic). Services queue work with
`enqueue("name", **kwargs)`: the job is handed over only after the surrounding transaction
commits, so a job never sees data that was rolled back. Where it runs is the mode's business:

- ``celery``: a Celery task on the Redis broker, run by `tuangou worker`; `tuangou beat` runs the
  periodic ones.
- ``embedded``: a small thread pool in the web process runs queued jobs, and a clock thread in
  the same process triggers the periodic ones (`tuangou demo` / `tuangou serve` without Redis).
- ``eager``: the job runs in the calling thread right after commit (tests).

Business code never asks which mode it is in.
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import close_old_connections, transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[..., Any]
    every: float | None  # seconds between runs for periodic jobs
    max_retries: int
    retry_backoff: float


_registry: dict[str, Job] = {}
_discovered = False


def job(
    name: str, *, every: float | None = None, max_retries: int = 3, retry_backoff: float = 5.0
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a job. Its body should only call a service (STYLE.md)."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        _registry[name] = Job(name, func, every, max_retries, retry_backoff)
        _celery_task(_registry[name])
        return func

    return register


def _celery_task(spec: Job) -> None:
    from tuangou.config.celery import app

    def run(self: Any, **kwargs: Any) -> Any:
        try:
            return spec.func(**kwargs)
        except Exception as exc:
            raise self.retry(exc=exc, countdown=spec.retry_backoff * (2**self.request.retries)) from exc

    app.task(name=spec.name, bind=True, max_retries=spec.max_retries)(run)


def autodiscover() -> None:
    """Import every installed tuangou app's `tasks` module so its jobs register."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for config in apps.get_app_configs():
        if config.name.startswith("tuangou."):
            try:
                importlib.import_module(f"{config.name}.tasks")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.tasks":
                    raise


def registered() -> dict[str, Job]:
    autodiscover()
    return dict(_registry)


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        spec.name: {"task": spec.name, "schedule": spec.every}
        for spec in registered().values()
        if spec.every is not None
    }


def enqueue(name: str, /, **kwargs: Any) -> None:
    """Queue job `name` to run after the current transaction commits (at once outside one)."""
    if name not in registered():
        raise KeyError(f"unknown job {name!r}")
    transaction.on_commit(lambda: _dispatch(name, kwargs), robust=False)


def _dispatch(name: str, kwargs: dict[str, Any]) -> None:
    mode = settings.JOBS_MODE
    if mode == "celery":
        _celery_send(name, kwargs)
    elif mode == "embedded":
        runner().submit(name, kwargs)
    elif mode == "eager":
        run_now(name, **kwargs)
    else:  # pragma: no cover - a configuration error
        raise ValueError(f"unknown JOBS_MODE {mode!r}")


class _HeldProducer(threading.local):
    pid: int = 0
    producer: Any = None


_held = _HeldProducer()


def _celery_send(name: str, kwargs: dict[str, Any]) -> None:
    """`send_task` through a broker producer this thread keeps between jobs (taken once from the
    app's pool) instead of taking one from the pool and giving it back for every job. Kombu's
    producers are not thread-safe, hence one per thread; a forked process takes its own. A failed
    publish gives the producer back to the pool (as `send_task` does) and the next job takes one
    afresh; kombu's publish retries and reconnects as before."""
    from tuangou.config.celery import app

    pid = os.getpid()
    if _held.producer is None or _held.pid != pid:
        _held.producer, _held.pid = app.producer_pool.acquire(block=True), pid
    producer = _held.producer
    try:
        app.send_task(name, kwargs=kwargs, producer=producer)
    except BaseException:
        _held.producer = None
        producer.release()
        raise


def run_now(name: str, /, **kwargs: Any) -> Any:
    """Run a job in this thread (used by the runners, the eager mode and the command line)."""
    return registered()[name].func(**kwargs)


class EmbeddedRunner:
    """Threads inside the web process: workers drain a queue, a clock triggers periodic jobs."""

    def __init__(self, threads: int) -> None:
        self.queue: queue.Queue[tuple[str, dict[str, Any], int]] = queue.Queue()
        self.threads = threads
        self.stopping = threading.Event()
        self.started = False
        self._lock = threading.Lock()

    def start(self, *, clock: bool = True) -> None:
        with self._lock:
            if self.started:
                return
            self.started = True
        for i in range(self.threads):
            threading.Thread(target=self._work, name=f"tuangou-job-{i}", daemon=True).start()
        if clock:
            threading.Thread(target=self._clock, name="tuangou-clock", daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()

    def submit(self, name: str, kwargs: dict[str, Any], attempt: int = 0) -> None:
        self.queue.put((name, kwargs, attempt))

    def _work(self) -> None:
        while not self.stopping.is_set():
            try:
                name, kwargs, attempt = self.queue.get(timeout=0.5)
            except queue.Empty:
                continue
            spec = registered()[name]
            close_old_connections()
            try:
                run_now(name, **kwargs)
            except Exception:
                log.exception("job %s failed (attempt %d)", name, attempt + 1)
                if attempt < spec.max_retries:
                    delay = spec.retry_backoff * (2**attempt)
                    timer = threading.Timer(delay, self.submit, args=(name, kwargs, attempt + 1))
                    timer.daemon = True
                    timer.start()
            finally:
                close_old_connections()

    def _clock(self) -> None:
        due: dict[str, float] = {}
        while not self.stopping.is_set():
            current = time.monotonic()
            for spec in registered().values():
                if spec.every is None:
                    continue
                if current >= due.get(spec.name, 0.0):
                    due[spec.name] = current + spec.every
                    self.submit(spec.name, {})
            self.stopping.wait(1.0)


_runner: EmbeddedRunner | None = None


def runner() -> EmbeddedRunner:
    global _runner
    if _runner is None:
        _runner = EmbeddedRunner(settings.EMBEDDED_JOB_THREADS)
    return _runner
