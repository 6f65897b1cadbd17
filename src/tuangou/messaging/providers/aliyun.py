"""Aliyun SMS (阿里雲簡訊服務) SendSms, signed with the V3 scheme ACS3-HMAC-SHA256.

The request (RPC style, parameters in the query string, empty body)::

    POST /?PhoneNumbers=…&SignName=…&TemplateCode=…&TemplateParam=…
    host, x-acs-action: SendSms, x-acs-version: 2017-05-25, x-acs-date (UTC, ISO 8601),
    x-acs-signature-nonce, x-acs-content-sha256 (hex SHA-256 of the body)

    CanonicalRequest = METHOD \\n URI \\n CanonicalQuery \\n CanonicalHeaders \\n SignedHeaders \\n HashedPayload
    StringToSign     = "ACS3-HMAC-SHA256" \\n hex(sha256(CanonicalRequest))
    Signature        = hex(HMAC-SHA256(AccessKeySecret, StringToSign))
    Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<…>,Signature=<…>

The canonical query sorts parameters by name and percent-encodes names and values (RFC 3986);
canonical headers are the lower-cased host, content-type and x-acs-* headers, sorted, each
``name:value\\n``. Reference: Alibaba Cloud "Request syntax and signature method V3".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from tuangou.config.env import env_str
from tuangou.messaging.providers.http import SmsProviderError, parse_templates, post, rfc3986, template_for

ALGORITHM = "ACS3-HMAC-SHA256"
ACTION = "SendSms"
VERSION = "2017-05-25"
DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com"


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{rfc3986(k)}={rfc3986(v)}" for k, v in sorted(params.items()))


def canonical_request(
    *, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
) -> tuple[str, str]:
    """(canonical request, signed headers) over host, content-type and every x-acs-* header."""
    signed = {
        k.lower(): v.strip()
        for k, v in headers.items()
        if k.lower() in ("host", "content-type") or k.lower().startswith("x-acs-")
    }
    names = sorted(signed)
    canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in names)
    signed_headers = ";".join(names)
    payload_hash = hashlib.sha256(body).hexdigest()
    text = "\n".join(
        [method.upper(), path or "/", canonical_query(query), canonical_headers, signed_headers, payload_hash]
    )
    return text, signed_headers


def signature(secret: str, canonical: str) -> str:
    string_to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def sign(
    *,
    access_key_id: str,
    access_key_secret: str,
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str],
    body: bytes = b"",
    now: dt.datetime | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers of a signed request, Authorization included."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    headers = {
        "host": host,
        "x-acs-action": ACTION,
        "x-acs-version": VERSION,
        "x-acs-date": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": nonce or secrets.token_hex(16),
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    canonical, signed_headers = canonical_request(method=method, path=path, query=query, headers=headers, body=body)
    headers["Authorization"] = (
        f"{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},"
        f"Signature={signature(access_key_secret, canonical)}"
    )
    return headers


class AliyunSmsProvider:
    """SMS through Aliyun. Credentials and templates come from the environment (.env.example)."""

    name = "aliyun"

    def __init__(
        self,
        *,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        sign_name: str | None = None,
        endpoint: str | None = None,
        templates: str | None = None,
    ) -> None:
        self.access_key_id = access_key_id or env_str("SMS_ALIYUN_ACCESS_KEY_ID", "") or ""
        self.access_key_secret = access_key_secret or env_str("SMS_ALIYUN_ACCESS_KEY_SECRET", "") or ""
        self.sign_name = sign_name or env_str("SMS_ALIYUN_SIGN_NAME", "") or ""
        self.endpoint = (endpoint or env_str("SMS_ALIYUN_ENDPOINT", DEFAULT_ENDPOINT) or DEFAULT_ENDPOINT).rstrip("/")
        self.templates = parse_templates(templates if templates is not None else env_str("SMS_ALIYUN_TEMPLATES"))

    def send(self, *, to: str, text: str, template: str, params: dict[str, object]) -> Any:
        from tuangou.messaging.providers import SendResult

        if not (self.access_key_id and self.access_key_secret and self.sign_name):
            raise SmsProviderError("Aliyun SMS credentials are not configured", code="config", retryable=False)
        spec = template_for(self.templates, template)
        wanted = spec.params or tuple(params)
        query = {
            "PhoneNumbers": to,
            "SignName": self.sign_name,
            "TemplateCode": spec.id,
            "TemplateParam": json.dumps(
                {k: str(params.get(k, "")) for k in wanted}, ensure_ascii=False, separators=(",", ":")
            ),
        }
        parts = urlsplit(self.endpoint)
        headers = sign(
            access_key_id=self.access_key_id,
            access_key_secret=self.access_key_secret,
            method="POST",
            host=parts.netloc,
            path="/",
            query=query,
        )
        body = post(f"{self.endpoint}/?{canonical_query(query)}", content=b"", headers=headers)
        if not isinstance(body, dict) or body.get("Code") != "OK":
            code = str(body.get("Code", "")) if isinstance(body, dict) else ""
            message = str(body.get("Message", "")) if isinstance(body, dict) else str(body)
            raise SmsProviderError(message, code=code or "error")
        return SendResult(provider_ref=str(body.get("BizId") or body.get("RequestId") or ""))
