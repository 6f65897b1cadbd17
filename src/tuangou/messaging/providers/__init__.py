"""SMS providers behind one small interface. `console` is the default: it logs the text."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

log = logging.getLogger("tuangou.sms")


@dataclass(frozen=True)
class SendResult:
    provider_ref: str


class SmsProvider(Protocol):
    name: str

    def send(self, *, to: str, text: str, template: str, params: dict[str, object]) -> SendResult: ...


class ConsoleProvider:
    """Writes the message to the log; the back office shows the outbox. No message leaves."""

    name = "console"

    def send(self, *, to: str, text: str, template: str, params: dict[str, object]) -> SendResult:
        log.info("SMS to %s: %s", to, text)
        return SendResult(provider_ref=f"console-{template}")


PROVIDERS: dict[str, type] = {"console": ConsoleProvider}
PROVIDERS["aliyun"] = __import__("tuangou.messaging.providers.aliyun", fromlist=["_"]).AliyunSmsProvider
PROVIDERS["tencent"] = __import__("tuangou.messaging.providers.tencent", fromlist=["_"]).TencentSmsProvider


def get_provider(name: str | None = None) -> SmsProvider:
    key = name or settings.SMS_PROVIDER
    try:
        return PROVIDERS[key]()  # type: ignore[no-any-return]
    except KeyError as exc:
        raise ValueError(f"unknown SMS provider {key!r}") from exc
