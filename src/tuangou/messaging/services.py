"""Queue messages in the outbox and deliver them with retries."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone, translation

from tuangou.core import jobs
from tuangou.core.bulk import insert_one, insert_rows
from tuangou.core.models import SiteSettings
from tuangou.core.rows import Columns
from tuangou.messaging import templates
from tuangou.messaging.models import OutboxMessage
from tuangou.messaging.providers import get_provider

MAX_ATTEMPTS = 5
# messages per INSERT and per delivery job in `message_send_many`
SEND_BATCH = 500


@dataclass(frozen=True)
class Outgoing:
    """One message for `message_send_many`; `language` defaults to the active one."""

    to: str
    template: str
    params: dict[str, Any] = field(default_factory=dict)
    language: str | None = None


def message_send(*, to: str, template: str, params: dict[str, Any], language: str | None = None) -> OutboxMessage:
    """Put one SMS in the outbox; it is delivered after the surrounding transaction commits."""
    lang = language or translation.get_language() or "zh-hant"
    body, sensitive = templates.render(template, params, lang)
    message = OutboxMessage(to=to, template=template, params=params, body=body, language=lang, sensitive=sensitive)
    insert_one(message)
    jobs.enqueue("messaging.deliver", message_id=message.pk)
    return message


def message_send_many(*, messages: Iterable[Outgoing], batch_size: int = SEND_BATCH) -> list[int]:
    """Put many messages in the outbox: their rows in one go (`core.bulk.insert_rows`: ``COPY`` on
    PostgreSQL) and one delivery job per `batch_size` of them, delivered after the surrounding
    transaction commits, each message once (as `message_deliver`). Each template is translated
    once per language and filled per message, the same text `templates.render` gives.
    Returns the new messages' ids in the order given."""
    default = translation.get_language() or "zh-hant"
    site: str | None = None
    texts: dict[tuple[str, str], tuple[str, bool]] = {}
    rows: list[tuple[str, str, dict[str, Any], str, str, bool]] = []
    for m in messages:
        if site is None:
            site = SiteSettings.current().name
        lang = m.language or default
        key = (m.template, lang)
        if key not in texts:
            texts[key] = templates.text(m.template, lang)
        text, sensitive = texts[key]
        rows.append((m.to, m.template, m.params, text % {"site": site, **m.params}, lang, sensitive))
    ids = insert_rows(OutboxMessage, _OUTBOX_COLUMNS, rows)
    size = max(1, batch_size)
    for i in range(0, len(ids), size):
        jobs.enqueue("messaging.deliver_batch", message_ids=ids[i : i + size])
    return ids


_OUTBOX_COLUMNS = ("to", "template", "params", "body", "language", "sensitive")
_DELIVERY_FIELDS = ("attempts", "provider", "provider_ref", "status", "sent_at", "last_error")


@functools.cache
def _delivery_sql() -> tuple[Columns, str, list[models.Field[Any, Any]], str]:
    """The message read under its row lock (``SELECT … FOR UPDATE`` where the database has it,
    as ``select_for_update().get()`` reads it) and the ``UPDATE`` of what a delivery attempt
    changes (as ``save(update_fields=_DELIVERY_FIELDS)`` writes it): plain statements, built
    once per process (ADR 0003 addendum: the ORM composing them was most of a delivery's CPU)."""
    meta = OutboxMessage._meta
    q = connection.ops.quote_name
    columns = Columns.of(OutboxMessage, "m")
    key = q(str(meta.pk.column))
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    select = f"SELECT {columns.sql} FROM {q(meta.db_table)} m WHERE m.{key} = %s{lock}"  # noqa: S608
    fields = [f for f in meta.concrete_fields if f.name in _DELIVERY_FIELDS]
    sets = ", ".join(f"{q(str(f.column))} = %s" for f in fields)
    return columns, select, fields, f"UPDATE {q(meta.db_table)} SET {sets} WHERE {key} = %s"  # noqa: S608


def _deliver(message_id: int) -> tuple[OutboxMessage | None, Exception | None]:
    """Send one queued message: (the message, the provider's failure while attempts remain).
    The message is None when there is no such row."""
    failure: Exception | None = None
    columns, select, fields, update = _delivery_sql()
    with transaction.atomic():
        # The row lock makes two runners of the same job take turns; the second finds it sent.
        with connection.cursor() as cursor:
            cursor.execute(select, [message_id])
            row = cursor.fetchone()
        if row is None:
            return None, None
        message: OutboxMessage = columns.instance(row)
        if message.status != OutboxMessage.Status.QUEUED:
            return message, None
        provider = get_provider()
        message.attempts += 1
        message.provider = provider.name
        try:
            result = provider.send(to=message.to, text=message.body, template=message.template, params=message.params)
        except Exception as exc:
            failure = exc
            message.last_error = f"{exc.__class__.__name__}: {exc}"
            if message.attempts >= MAX_ATTEMPTS:
                message.status = OutboxMessage.Status.FAILED
        else:
            message.status = OutboxMessage.Status.SENT
            message.provider_ref = result.provider_ref
            message.sent_at = timezone.now()
            message.last_error = ""
        # only what a delivery attempt changes (the rest is as queued, under the row lock)
        params = [f.get_db_prep_save(getattr(message, f.attname), connection) for f in fields]
        with connection.cursor() as cursor:
            cursor.execute(update, [*params, message.pk])
    if failure is not None and message.status == OutboxMessage.Status.QUEUED:
        return message, failure
    return message, None


def message_deliver(*, message_id: int) -> OutboxMessage:
    """Send one queued message through the configured provider. Sent messages are not sent again.

    Raises on a provider failure while attempts remain, so the job runner retries with back-off.
    """
    message, failure = _deliver(message_id)
    if message is None:
        raise OutboxMessage.DoesNotExist(f"no outbox message {message_id}")
    if failure is not None:
        raise failure
    return message


def messages_deliver(*, message_ids: Sequence[int]) -> int:
    """Deliver a batch queued by `message_send_many`, each message as `message_deliver` does (its
    own row lock and transaction; a sent or failed one is skipped). After trying them all, raises
    the first provider failure while a message still has attempts left, so the job is retried and
    the retry sends only what is still queued. Returns how many of them are sent."""
    sent = 0
    first: Exception | None = None
    for message_id in message_ids:
        message, failure = _deliver(message_id)
        if failure is not None:
            first = first or failure
        elif message is not None and message.status == OutboxMessage.Status.SENT:
            sent += 1
    if first is not None:
        raise first
    return sent
