"""Stand-in for Tencent Cloud SMS SendSms: checks the TC3-HMAC-SHA256 signature as the service does."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any

from tests.messaging.standins.base import StandIn

SECRET_ID = "AKID-test-id"
SECRET_KEY = "tencent-test-secret"

_AUTH = re.compile(
    r"^TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, "
    r"SignedHeaders=([a-z;-]+), Signature=([0-9a-f]{64})$"
)


def _h(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def verify(headers: dict[str, str], body: bytes, secret_key: str) -> tuple[bool, str]:
    match = _AUTH.match(headers.get("authorization", ""))
    if not match:
        return False, "AuthFailure.SignatureFailure"
    secret_id, day, service, signed_headers, given = match.groups()
    if secret_id != SECRET_ID:
        return False, "AuthFailure.SecretIdNotFound"
    timestamp = int(headers.get("x-tc-timestamp", "0"))
    if abs(time.time() - timestamp) > 300:
        return False, "AuthFailure.SignatureExpire"
    if dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d") != day or service != "sms":
        return False, "AuthFailure.SignatureFailure"
    names = signed_headers.split(";")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "".join(f"{n}:{headers.get(n, '').strip().lower()}\n" for n in names),
            signed_headers,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{service}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _h(_h(_h(f"TC3{secret_key}".encode(), day), service), "tc3_request")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given), "AuthFailure.SignatureFailure"


def handle(standin: StandIn, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    request_id = secrets.token_hex(8)
    ok, code = verify(headers, body, SECRET_KEY)
    if not ok:
        standin.rejected.append(code)
        return 200, {"Response": {"Error": {"Code": code, "Message": "signature mismatch"}, "RequestId": request_id}}
    if headers.get("x-tc-action") != "SendSms" or headers.get("x-tc-version") != "2021-01-11":
        return 200, {"Response": {"Error": {"Code": "InvalidAction", "Message": "?"}, "RequestId": request_id}}
    payload = json.loads(body)
    standin.received.append(payload)
    phone = payload["PhoneNumberSet"][0]
    return 200, {
        "Response": {
            "SendStatusSet": [
                {
                    "SerialNo": f"serial-{len(standin.received)}",
                    "PhoneNumber": phone,
                    "Fee": 1,
                    "SessionContext": "",
                    "Code": "Ok",
                    "Message": "send success",
                    "IsoCode": "CN",
                }
            ],
            "RequestId": request_id,
        }
    }


def server() -> StandIn:
    return StandIn(handle)
