"""The outbox: one message or many at once, each delivered once, failures retried."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from tuangou.core import jobs
from tuangou.messaging import services
from tuangou.messaging.models import OutboxMessage
from tuangou.messaging.providers import PROVIDERS, SendResult

pytestmark = pytest.mark.django_db

PARAMS = {"amount": "¥19.90", "order": "A1", "deal": "火鍋"}


class Flaky:
    """Fails for the numbers in `failing`, sends the others; records what it sent."""

    name = "flaky"
    failing: set[str] = set()
    sent: list[str] = []

    def send(self, *, to: str, text: str, template: str, params: dict[str, object]) -> SendResult:
        if to in Flaky.failing:
            raise ConnectionError("provider down")
        Flaky.sent.append(to)
        return SendResult(provider_ref=f"flaky-{to}")


@pytest.fixture
def flaky(settings: Any, monkeypatch: pytest.MonkeyPatch) -> type[Flaky]:
    monkeypatch.setitem(PROVIDERS, "flaky", Flaky)
    settings.SMS_PROVIDER = "flaky"
    Flaky.failing, Flaky.sent = set(), []
    return Flaky


def _many(n: int, **extra: Any) -> list[services.Outgoing]:
    return [
        services.Outgoing(
            to=f"1380000{i:04d}", template="payment_received", params={**PARAMS, "order": f"A{i}"}, **extra
        )
        for i in range(n)
    ]


def test_send_many_renders_each_writes_once_and_queues_one_job_per_batch(
    flaky: type[Flaky], django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(jobs, "_dispatch", lambda name, kwargs: queued.append((name, kwargs)))
    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as q:
        ids = services.message_send_many(messages=_many(5), batch_size=2)
    # the rows in one go (PostgreSQL: keys drawn, then COPY, which is not captured; SQLite: one INSERT)
    writes = [x for x in q.captured_queries if x["sql"].startswith(('INSERT INTO "messaging_', "SELECT nextval"))]
    assert len(writes) == 1
    assert [name for name, _ in queued] == ["messaging.deliver_batch"] * 3
    assert [i for _, kw in queued for i in kw["message_ids"]] == ids
    rows = list(OutboxMessage.objects.filter(pk__in=ids).order_by("pk"))
    assert [m.to for m in rows] == [f"1380000{i:04d}" for i in range(5)]
    assert all(m.status == "queued" for m in rows)
    assert "A3" in rows[3].body and "¥19.90" in rows[3].body
    assert all(m.body == services.templates.render(m.template, m.params, m.language)[0] for m in rows)


def test_send_many_delivers_each_once_after_commit(flaky: type[Flaky], django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ids = services.message_send_many(messages=_many(3))
        assert flaky.sent == []
    assert sorted(flaky.sent) == [f"1380000{i:04d}" for i in range(3)]
    assert set(OutboxMessage.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}
    # the job again (a redelivered Celery message): nothing is sent twice
    jobs.run_now("messaging.deliver_batch", message_ids=ids)
    services.message_deliver(message_id=ids[0])
    assert len(flaky.sent) == 3


def test_send_many_in_a_rolled_back_transaction_sends_nothing(
    flaky: type[Flaky], django_capture_on_commit_callbacks: Any
) -> None:
    from django.db import transaction

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.message_send_many(messages=_many(2))
        raise RuntimeError("rolled back")
    assert callbacks == [] and flaky.sent == [] and not OutboxMessage.objects.exists()


def test_language_per_message_or_the_active_one(flaky: type[Flaky]) -> None:
    with translation.override("en"):
        ids = services.message_send_many(
            messages=[
                *_many(1),
                services.Outgoing(to="13900000000", template="payment_received", params=PARAMS, language="zh-hans"),
            ]
        )
    langs = dict(OutboxMessage.objects.filter(pk__in=ids).values_list("to", "language"))
    assert langs == {"13800000000": "en", "13900000000": "zh-hans"}


def test_send_many_of_nothing_queues_nothing(flaky: type[Flaky], django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.message_send_many(messages=[]) == []
    assert callbacks == []


def test_a_failing_message_retries_alone_and_fails_after_the_last_attempt(flaky: type[Flaky]) -> None:
    ids = [m.pk for m in _queued(3)]
    flaky.failing = {"13800000001"}
    with pytest.raises(ConnectionError):
        services.messages_deliver(message_ids=ids)
    # the others went out once; the failing one is still queued with one attempt
    assert sorted(flaky.sent) == ["13800000000", "13800000002"]
    failing = OutboxMessage.objects.get(to="13800000001")
    assert (failing.status, failing.attempts) == ("queued", 1) and "provider down" in failing.last_error
    for _ in range(services.MAX_ATTEMPTS - 2):
        with pytest.raises(ConnectionError):
            services.messages_deliver(message_ids=ids)
    # the last attempt marks it failed and the job stops retrying (no raise)
    assert services.messages_deliver(message_ids=ids) == 2
    failing.refresh_from_db()
    assert (failing.status, failing.attempts) == ("failed", services.MAX_ATTEMPTS)
    assert sorted(flaky.sent) == ["13800000000", "13800000002"]


def test_a_retry_sends_what_failed_once_the_provider_is_back(flaky: type[Flaky]) -> None:
    ids = [m.pk for m in _queued(2)]
    flaky.failing = {"13800000000"}
    with pytest.raises(ConnectionError):
        services.messages_deliver(message_ids=ids)
    flaky.failing = set()
    assert services.messages_deliver(message_ids=ids) == 2
    assert flaky.sent == ["13800000001", "13800000000"]


def test_single_message_path_unchanged(flaky: type[Flaky], django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_send(to="13800000009", template="payment_received", params=PARAMS)
    message.refresh_from_db()
    assert message.status == "sent" and flaky.sent == ["13800000009"]
    flaky.failing = {"13800000008"}
    other = services.message_send(to="13800000008", template="payment_received", params=PARAMS)
    with pytest.raises(ConnectionError):
        services.message_deliver(message_id=other.pk)
    other.refresh_from_db()
    assert (other.status, other.attempts) == ("queued", 1)
    with pytest.raises(OutboxMessage.DoesNotExist):
        services.message_deliver(message_id=other.pk + 1000)


def _queued(n: int) -> list[OutboxMessage]:
    return [
        OutboxMessage.objects.create(
            to=f"1380000{i:04d}", template="payment_received", params=PARAMS, body="x", language="en"
        )
        for i in range(n)
    ]


def test_a_delivery_stores_what_it_changed_and_keeps_the_queued_text(flaky: type[Flaky]) -> None:
    """A delivery writes only its own columns: the failure's error, then on success the
    provider, its reference, the time sent and the error cleared; the queued row stays as it was."""
    message = services.message_send(to="13800000007", template="payment_received", params=PARAMS, language="en")
    flaky.failing = {"13800000007"}
    with pytest.raises(ConnectionError):
        services.message_deliver(message_id=message.pk)
    stored = OutboxMessage.objects.get(pk=message.pk)
    assert (stored.status, stored.attempts, stored.provider, stored.sent_at) == ("queued", 1, "flaky", None)
    assert stored.last_error == "ConnectionError: provider down"
    flaky.failing = set()
    services.message_deliver(message_id=message.pk)
    stored = OutboxMessage.objects.get(pk=message.pk)
    assert (stored.status, stored.attempts, stored.provider_ref, stored.last_error) == (
        "sent",
        2,
        "flaky-13800000007",
        "",
    )
    assert stored.sent_at is not None
    assert (stored.to, stored.template, stored.params, stored.body, stored.language, stored.sensitive) == (
        message.to,
        message.template,
        message.params,
        message.body,
        "en",
        message.sensitive,
    )
    assert stored.created_at == message.created_at
    # sent is sent: another run of the job changes nothing
    services.message_deliver(message_id=message.pk)
    assert OutboxMessage.objects.get(pk=message.pk).attempts == 2 and flaky.sent == ["13800000007"]


def test_a_delivery_is_one_locked_read_and_one_update_of_its_columns(flaky: type[Flaky]) -> None:
    """The message is read under its row lock (``FOR UPDATE`` where the database has it) and
    written back with one ``UPDATE`` of the delivery's columns; a sent one is only read."""
    from tests.statements import Statements

    message = _queued(1)[0]
    table = OutboxMessage._meta.db_table
    with Statements() as seen:
        services.message_deliver(message_id=message.pk)
    read, write = seen.on(table)
    assert read.startswith("SELECT") and read.endswith("FOR UPDATE") == connection.features.has_select_for_update
    assert write.startswith("UPDATE")
    for column in ("to", "body", "params", "template", "created_at"):
        assert f'"{column}" =' not in write
    for column in services._DELIVERY_FIELDS:
        assert f'"{column}" = %s' in write
    with Statements() as again:
        services.message_deliver(message_id=message.pk)
    assert [sql.split()[0] for sql in again.on(table)] == ["SELECT"]
    assert flaky.sent == ["13800000000"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_deliveries_of_one_message_send_it_once(flaky: type[Flaky]) -> None:
    """Ten runners of the same job at the same moment (at-least-once delivery): the row lock
    makes them take turns, one sends, the others find it sent."""
    from tests.concurrency.race import race

    message = _queued(1)[0]
    outcomes = race([("", lambda: services.message_deliver(message_id=message.pk)) for _ in range(10)])
    assert outcomes == {"ok": 10}
    stored = OutboxMessage.objects.get(pk=message.pk)
    assert (stored.status, stored.attempts, flaky.sent) == ("sent", 1, ["13800000000"])
