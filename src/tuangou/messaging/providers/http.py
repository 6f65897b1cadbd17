"""What the cloud SMS providers share: a JSON POST, their error, and template configuration.

Cloud SMS services do not send free text: each message names a template approved in the
provider's console and fills its parameters. The site maps our template names to theirs in
the environment, e.g. ``voucher_issued=SMS_123456:code|deal|until`` (name = provider id, then
the parameter names in the order the provider's template numbers them, for Tencent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

TIMEOUT_SECONDS = 10.0


class SmsProviderError(Exception):
    """The provider refused the message or could not be reached; the outbox retries."""

    def __init__(self, message: str, *, code: str = "", retryable: bool = True) -> None:
        self.code = code
        self.retryable = retryable
        super().__init__(f"{code}: {message}" if code else message)


@dataclass(frozen=True)
class ProviderTemplate:
    id: str
    params: tuple[str, ...]


def parse_templates(value: str | None) -> dict[str, ProviderTemplate]:
    """``name=ID:p1|p2;name2=ID2`` → {name: ProviderTemplate}. Bad entries are refused loudly."""
    result: dict[str, ProviderTemplate] = {}
    for entry in (value or "").split(";"):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, rest = entry.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise ValueError(f"SMS template mapping must read name=ID[:p1|p2], got {entry!r}")
        template_id, _sep, params = rest.partition(":")
        result[name.strip()] = ProviderTemplate(
            template_id.strip(), tuple(p.strip() for p in params.split("|") if p.strip())
        )
    return result


def template_for(templates: dict[str, ProviderTemplate], name: str) -> ProviderTemplate:
    try:
        return templates[name]
    except KeyError as exc:
        raise SmsProviderError(
            f"no provider template configured for {name!r}", code="template", retryable=False
        ) from exc


def rfc3986(value: str) -> str:
    """Percent-encoding both providers sign with: everything but A-Z a-z 0-9 - _ . ~ ."""
    return quote(value, safe="-_.~")


def post(url: str, *, content: bytes, headers: dict[str, str]) -> Any:
    """POST and return the decoded JSON body (network errors become retryable provider errors)."""
    try:
        response = httpx.post(url, content=content, headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise SmsProviderError(str(exc), code="network") from exc
    try:
        return response.json()
    except ValueError as exc:
        raise SmsProviderError(f"HTTP {response.status_code}: not JSON", code="http") from exc
