"""Queue messages in the outbox and deliver them with retries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone, translation

from tuangou.core import jobs
from tuangou.core.bulk import insert_one, insert_rows
from tuangou.core.models import SiteSettings
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


def _deliver(message_id: int) -> tuple[OutboxMessage | None, Exception | None]:
    """Send one queued message: (the message, the provider's failure while attempts remain).
    The message is None when there is no such row."""
    failure: Exception | None = None
    with transaction.atomic():
        # The row lock makes two runners of the same job take turns; the second finds it sent.
        # `get` reads the one row without the model's ordering (`first` would sort by it).
        try:
            message = OutboxMessage.objects.select_for_update().get(pk=message_id)
        except OutboxMessage.DoesNotExist:
            return None, None
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
        message.save(update_fields=_DELIVERY_FIELDS)
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
