"""Domain events: one domain says what happened, others react, after commit, at least once.

A service publishes inside its transaction::

    events.publish("deal.tipped", deal_id=deal.pk)

Another domain reacts in its ``tasks.py`` (imported by `core.jobs.autodiscover`)::

    @events.subscribe("deal.tipped")
    def issue_vouchers(*, deal_id: int) -> None:
        vouchers.services.vouchers_issue_for_deal(deal_id=deal_id)

Each subscriber is its own job (``event:<event>:<module>.<function>``): it runs after the
publishing transaction commits, in the current running mode (embedded threads, Celery, or eager
in tests), and is retried on its own when it raises. Delivery is at least once, so a handler
must be idempotent (a unique key in the database, or a state check under a row lock). Payloads
are plain JSON values (ids, strings of decimals), never model instances.

Events published by the deals domain (see docs/conventions.md): ``deal.tipped``,
``deal.failed``, ``deal.closed``, ``team.filled``, ``team.failed``, ``order.expired``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction

from tuangou.core import jobs

_subscribers: dict[str, list[str]] = {}
_lock = threading.Lock()
_recorders: list[list[tuple[str, dict[str, Any]]]] = []


def subscribe(event: str, *, max_retries: int = 5) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as a handler of `event` (keyword arguments = payload)."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        name = f"event:{event}:{func.__module__}.{func.__qualname__}"
        jobs.job(name, max_retries=max_retries)(func)
        with _lock:
            names = _subscribers.setdefault(event, [])
            if name not in names:
                names.append(name)
        return func

    return register


def subscribers(event: str) -> list[str]:
    """The job names that handle `event` (importing every domain's tasks first)."""
    jobs.autodiscover()
    return list(_subscribers.get(event, ()))


def publish(event: str, /, **payload: Any) -> None:
    """Announce `event`; each subscriber runs after the current transaction commits."""
    for recorder in _recorders:
        transaction.on_commit(_recorder_append(recorder, event, dict(payload)))
    for name in subscribers(event):
        jobs.enqueue(name, **payload)


def _recorder_append(
    recorder: list[tuple[str, dict[str, Any]]], event: str, payload: dict[str, Any]
) -> Callable[[], None]:
    return lambda: recorder.append((event, payload))


@contextmanager
def capture() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Record the events committed inside the block (tests): ``[(name, payload), …]``."""
    seen: list[tuple[str, dict[str, Any]]] = []
    _recorders.append(seen)
    try:
        yield seen
    finally:
        _recorders.remove(seen)
