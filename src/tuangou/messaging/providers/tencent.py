"""Tencent Cloud SMS (騰訊雲簡訊) SendSms, API 2021-01-11, signed with TC3-HMAC-SHA256 (API v3).

    POST / with a JSON body; headers Host, Content-Type: application/json; charset=utf-8,
    X-TC-Action: SendSms, X-TC-Version: 2021-01-11, X-TC-Timestamp, X-TC-Region

    CanonicalRequest = "POST\\n/\\n\\n" + "content-type:…\\nhost:…\\n" + "\\n" + "content-type;host" + "\\n"
                       + hex(sha256(payload))
    CredentialScope  = <UTC date>/sms/tc3_request
    StringToSign     = "TC3-HMAC-SHA256\\n" + timestamp + "\\n" + CredentialScope + "\\n"
                       + hex(sha256(CanonicalRequest))
    SecretDate = HMAC("TC3" + SecretKey, date); SecretService = HMAC(SecretDate, "sms");
    SecretSigning = HMAC(SecretService, "tc3_request"); Signature = hex(HMAC(SecretSigning, StringToSign))
    Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<scope>, SignedHeaders=content-type;host, Signature=<…>

Reference: Tencent Cloud API "Signature v3".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

from tuangou.config.env import env_str
from tuangou.messaging.providers.http import SmsProviderError, parse_templates, post, template_for

ALGORITHM = "TC3-HMAC-SHA256"
SERVICE = "sms"
ACTION = "SendSms"
VERSION = "2021-01-11"
CONTENT_TYPE = "application/json; charset=utf-8"
DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def canonical_request(*, host: str, content_type: str, body: bytes) -> str:
    return "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type.lower()}\nhost:{host.lower()}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )


def signature(*, secret_key: str, timestamp: int, canonical: str) -> tuple[str, str]:
    """(signature, credential scope) for a request made at `timestamp` (seconds, UTC)."""
    day = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")
    scope = f"{day}/{SERVICE}/tc3_request"
    string_to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), day), SERVICE), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest(), scope


def sign(*, secret_id: str, secret_key: str, host: str, body: bytes, region: str, timestamp: int) -> dict[str, str]:
    canonical = canonical_request(host=host, content_type=CONTENT_TYPE, body=body)
    sig, scope = signature(secret_key=secret_key, timestamp=timestamp, canonical=canonical)
    return {
        "Authorization": f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders=content-type;host, "
        f"Signature={sig}",
        "Content-Type": CONTENT_TYPE,
        "Host": host,
        "X-TC-Action": ACTION,
        "X-TC-Version": VERSION,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": region,
    }


def e164(mobile: str) -> str:
    """Tencent wants +86… numbers; ours are stored without the country code."""
    return mobile if mobile.startswith("+") else f"+86{mobile}"


class TencentSmsProvider:
    """SMS through Tencent Cloud. Credentials and templates come from the environment (.env.example)."""

    name = "tencent"

    def __init__(
        self,
        *,
        secret_id: str | None = None,
        secret_key: str | None = None,
        sdk_app_id: str | None = None,
        sign_name: str | None = None,
        region: str | None = None,
        endpoint: str | None = None,
        templates: str | None = None,
    ) -> None:
        self.secret_id = secret_id or env_str("SMS_TENCENT_SECRET_ID", "") or ""
        self.secret_key = secret_key or env_str("SMS_TENCENT_SECRET_KEY", "") or ""
        self.sdk_app_id = sdk_app_id or env_str("SMS_TENCENT_SDK_APP_ID", "") or ""
        self.sign_name = sign_name or env_str("SMS_TENCENT_SIGN_NAME", "") or ""
        self.region = region or env_str("SMS_TENCENT_REGION", "ap-guangzhou") or "ap-guangzhou"
        self.endpoint = (endpoint or env_str("SMS_TENCENT_ENDPOINT", DEFAULT_ENDPOINT) or DEFAULT_ENDPOINT).rstrip("/")
        self.templates = parse_templates(templates if templates is not None else env_str("SMS_TENCENT_TEMPLATES"))

    def send(self, *, to: str, text: str, template: str, params: dict[str, object]) -> Any:
        from tuangou.messaging.providers import SendResult

        if not (self.secret_id and self.secret_key and self.sdk_app_id and self.sign_name):
            raise SmsProviderError("Tencent SMS credentials are not configured", code="config", retryable=False)
        spec = template_for(self.templates, template)
        names = spec.params or tuple(params)
        payload = {
            "PhoneNumberSet": [e164(to)],
            "SmsSdkAppId": self.sdk_app_id,
            "SignName": self.sign_name,
            "TemplateId": spec.id,
            "TemplateParamSet": [str(params.get(n, "")) for n in names],
        }
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        host = urlsplit(self.endpoint).netloc
        headers = sign(
            secret_id=self.secret_id,
            secret_key=self.secret_key,
            host=host,
            body=body,
            region=self.region,
            timestamp=int(dt.datetime.now(dt.UTC).timestamp()),
        )
        reply = post(f"{self.endpoint}/", content=body, headers=headers)
        response = reply.get("Response", {}) if isinstance(reply, dict) else {}
        if "Error" in response:
            error = response["Error"]
            raise SmsProviderError(str(error.get("Message", "")), code=str(error.get("Code", "error")))
        statuses = response.get("SendStatusSet") or []
        status = statuses[0] if statuses else {}
        if status.get("Code") != "Ok":
            raise SmsProviderError(str(status.get("Message", "no status")), code=str(status.get("Code", "error")))
        return SendResult(provider_ref=str(status.get("SerialNo") or response.get("RequestId") or ""))
