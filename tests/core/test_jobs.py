"""Jobs run after commit, in every mode, through the same `enqueue` call."""

import contextlib
import os
import subprocess
import sys
import time

import pytest
from django.db import connection, transaction

from tuangou.core import jobs
from tuangou.messaging.models import OutboxMessage
from tuangou.messaging.services import message_send


def _wait_sent(pk: int, seconds: float = 30.0) -> OutboxMessage:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = OutboxMessage.objects.get(pk=pk)
        if message.status != OutboxMessage.Status.QUEUED:
            return message
        time.sleep(0.2)
    return OutboxMessage.objects.get(pk=pk)


@pytest.mark.django_db(transaction=True)
def test_eager_job_runs_after_commit_and_not_after_rollback(settings):
    settings.JOBS_MODE = "eager"
    with transaction.atomic():
        message = message_send(to="13800000001", template="otp_login", params={"code": "123456", "minutes": 5})
        assert OutboxMessage.objects.get(pk=message.pk).status == "queued"  # not before commit
    assert OutboxMessage.objects.get(pk=message.pk).status == "sent"

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        message_send(to="13800000002", template="otp_login", params={"code": "1", "minutes": 5})
        raise Boom
    assert not OutboxMessage.objects.filter(to="13800000002").exists()


@pytest.mark.django_db(transaction=True)
def test_embedded_runner_runs_queued_and_periodic_jobs(settings):
    settings.JOBS_MODE = "embedded"
    ticks: list[int] = []
    jobs.job("test.tick", every=0.2)(lambda: ticks.append(1))
    runner = jobs.EmbeddedRunner(threads=1)
    original = jobs._runner
    jobs._runner = runner
    try:
        runner.start(clock=True)
        message = message_send(to="13800000003", template="otp_login", params={"code": "1", "minutes": 5})
        assert _wait_sent(message.pk).status == "sent"
        deadline = time.monotonic() + 10
        while len(ticks) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(ticks) >= 2
    finally:
        runner.stop()
        jobs._runner = original
        jobs._registry.pop("test.tick", None)


def test_unknown_job_is_refused():
    with pytest.raises(KeyError):
        jobs.enqueue("no.such.job")


def test_beat_schedule_comes_from_the_registry():
    jobs.job("test.every_minute", every=60)(lambda: None)
    try:
        assert jobs.beat_schedule()["test.every_minute"] == {"task": "test.every_minute", "schedule": 60}
    finally:
        jobs._registry.pop("test.every_minute", None)


@contextlib.contextmanager
def _celery_worker(tmp_path, **env):
    """A Celery worker process (one pool process) on the Redis broker and this test's
    PostgreSQL database; `env` adds to its environment. Yields the text of its log."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tuangou.config.settings.test",
        "DATABASE_URL": url,
        "JOBS_MODE": "celery",
        **env,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuangou.cli", "worker", "--concurrency", "1", "--loglevel", "WARNING"],
        env=env,
        stdout=open(tmp_path / "worker.log", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    try:
        yield lambda: (tmp_path / "worker.log").read_text()[-2000:]
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_celery_worker_runs_the_job(settings, tmp_path):
    """Scaled mode for real: a Celery worker process on the Redis broker delivers the message."""
    settings.JOBS_MODE = "celery"
    with _celery_worker(tmp_path) as log:
        message = message_send(to="13800000004", template="otp_login", params={"code": "1", "minutes": 5})
        sent = _wait_sent(message.pk, seconds=60)
        assert sent.status == "sent", log()


def _sessions():
    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_delivers_many_messages_on_one_connection(settings, tmp_path):
    """Once the worker's pool process has connected, further deliveries open no new PostgreSQL
    session (Celery's Django fixup alone closed the connection around every task; ADR 0003)."""
    settings.JOBS_MODE = "celery"
    # the shipped settings (the test settings keep no connection: CONN_MAX_AGE 0)
    shipped = {"DJANGO_SETTINGS_MODULE": "tuangou.config.settings.local", "TUANGOU_VAR_DIR": str(tmp_path)}
    with _celery_worker(tmp_path, DB_CONN_MAX_AGE="60", **shipped) as log:
        first = message_send(to="13800000005", template="otp_login", params={"code": "1", "minutes": 5})
        assert _wait_sent(first.pk, seconds=60).status == "sent", log()
        before = _sessions()
        more = [
            message_send(to=f"1380000001{i}", template="otp_login", params={"code": "1", "minutes": 5})
            for i in range(5)
        ]
        assert all(_wait_sent(m.pk).status == "sent" for m in more), log()
        assert _sessions() - before == 0


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_celery_mode_publishes_every_job_of_a_transaction_once_after_commit(settings):
    """The broker producer a thread keeps between jobs: many jobs queued in one transaction
    each arrive on the Redis broker as their own task after commit, those of a rolled-back
    transaction never, and jobs queued from another thread (its own producer) arrive too."""
    import base64
    import json
    import threading

    import redis
    from django.conf import settings as django_settings

    settings.JOBS_MODE = "celery"
    name = f"test.held_producer.{os.getpid()}"
    jobs.job(name)(lambda **_: None)
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    queue = django_settings.CELERY_TASK_DEFAULT_QUEUE

    def arrived() -> list[int]:
        numbers = []
        for raw in broker.lrange(queue, 0, -1):
            message = json.loads(raw)
            if message["headers"]["task"] == name:
                _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
                numbers.append(kwargs["n"])
        return sorted(numbers)

    try:
        with transaction.atomic():
            for n in range(50):
                jobs.enqueue(name, n=n)
            assert arrived() == []  # nothing before commit
        assert arrived() == list(range(50))

        class Boom(Exception):
            pass

        with pytest.raises(Boom), transaction.atomic():
            jobs.enqueue(name, n=99)
            raise Boom
        other = threading.Thread(target=lambda: [jobs.enqueue(name, n=n) for n in range(50, 60)])
        other.start()
        other.join()
        jobs.enqueue(name, n=60)
        assert arrived() == list(range(61))
    finally:
        for raw in broker.lrange(queue, 0, -1):
            if json.loads(raw)["headers"]["task"] == name:
                broker.lrem(queue, 0, raw)
        jobs._registry.pop(name, None)


def test_celery_reads_the_projects_settings_once(settings):
    """The app's configuration holds Django's CELERY_* settings (read once when loaded, not looked
    up on Django's settings at every read) and Celery's defaults for the rest."""
    from tuangou.config.celery import app

    assert app.conf.task_default_queue == settings.CELERY_TASK_DEFAULT_QUEUE
    assert app.conf.task_acks_late is settings.CELERY_TASK_ACKS_LATE is True
    assert app.conf.worker_prefetch_multiplier == settings.CELERY_WORKER_PREFETCH_MULTIPLIER
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.conf.task_serializer == "json"  # a default
    for key in ("task_default_queue", "task_acks_late", "broker_url", "task_serializer"):
        assert key in app.conf.changes
