"""A Celery worker keeps its database connection between tasks, as a web process keeps it
between requests, and closes it when Django would (ADR 0003 addendum). A real worker:
`tests/core/test_jobs.py`."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection

from tuangou.config.celery import app
from tuangou.messaging.models import OutboxMessage

# SQLite's test database lives in memory, where closing a connection is a no-op
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class _Task:
    """What the task signals send: the task, whose request says whether it runs eagerly."""

    def __init__(self, *, eager: bool) -> None:
        self.request = SimpleNamespace(is_eager=eager)


def _task(*, eager: bool = False) -> Any:
    return _Task(eager=eager)


def _open(*, max_age: float) -> Any:
    connection.ensure_connection()
    connection.close_at = time.monotonic() + max_age  # as CONN_MAX_AGE sets it when connecting
    return connection.connection


def test_the_fixup_keeps_the_connection_around_a_task() -> None:
    raw = _open(max_age=60)
    fixup = DjangoWorkerFixup(app)
    for _ in range(3):
        fixup.on_task_prerun(_task())
        fixup.on_task_postrun(_task())
    assert connection.connection is raw


def test_around_a_task_a_healthy_connection_is_kept_an_obsolete_one_closed() -> None:
    raw = _open(max_age=60)
    task_prerun.send(sender=_task(), task_id="1", task=None, args=(), kwargs={})
    task_postrun.send(sender=_task(), task_id="1", task=None, args=(), kwargs={}, retval=None, state="SUCCESS")
    assert connection.connection is raw
    connection.close_at = time.monotonic() - 1  # past CONN_MAX_AGE
    task_postrun.send(sender=_task(), task_id="1", task=None, args=(), kwargs={}, retval=None, state="SUCCESS")
    assert connection.connection is None


def test_a_connection_left_inside_a_transaction_is_closed_before_the_next_task() -> None:
    _open(max_age=60)
    connection.set_autocommit(False)
    task_prerun.send(sender=_task(), task_id="2", task=None, args=(), kwargs={})
    assert connection.connection is None
    assert OutboxMessage.objects.count() == 0  # the next use connects afresh, in autocommit
    assert connection.get_autocommit()


def test_a_task_run_eagerly_leaves_the_callers_connection_alone() -> None:
    _open(max_age=60)
    connection.close_at = time.monotonic() - 1
    raw = connection.connection
    task_prerun.send(sender=_task(eager=True), task_id="3", task=None, args=(), kwargs={})
    assert connection.connection is raw
