"""Queue messages in the outbox and deliver them with retries."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone, translation

from tuangou.core import jobs
from tuangou.messaging import templates
from tuangou.messaging.models import OutboxMessage
from tuangou.messaging.providers import get_provider

MAX_ATTEMPTS = 5


def message_send(*, to: str, template: str, params: dict[str, Any], language: str | None = None) -> OutboxMessage:
    """Put one SMS in the outbox; it is delivered after the surrounding transaction commits."""
    lang = language or translation.get_language() or "zh-hant"
    body, sensitive = templates.render(template, params, lang)
    message = OutboxMessage.objects.create(
        to=to, template=template, params=params, body=body, language=lang, sensitive=sensitive
    )
    jobs.enqueue("messaging.deliver", message_id=message.pk)
    return message


def message_deliver(*, message_id: int) -> OutboxMessage:
    """Send one queued message through the configured provider. Sent messages are not sent again.

    Raises on a provider failure while attempts remain, so the job runner retries with back-off.
    """
    failure: Exception | None = None
    with transaction.atomic():
        # The row lock makes two runners of the same job take turns; the second finds it sent.
        message = OutboxMessage.objects.select_for_update().get(pk=message_id)
        if message.status != OutboxMessage.Status.QUEUED:
            return message
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
        message.save()
    if failure is not None and message.status == OutboxMessage.Status.QUEUED:
        raise failure
    return message
