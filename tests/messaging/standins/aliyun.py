"""Stand-in for Aliyun SMS SendSms: checks the ACS3-HMAC-SHA256 signature as the service does.

It rebuilds the canonical request from what arrived on the wire (its own parsing of the query
and headers), so a client that signs something other than what it sends is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from tests.messaging.standins.base import StandIn

ACCESS_KEY_ID = "LTAI-test-id"
ACCESS_KEY_SECRET = "aliyun-test-secret"

_AUTH = re.compile(r"^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$")


def _enc(value: str) -> str:
    return quote(value, safe="-_.~")


def verify(method: str, path: str, headers: dict[str, str], body: bytes, secret: str) -> tuple[bool, str]:
    match = _AUTH.match(headers.get("authorization", ""))
    if not match:
        return False, "IncompleteSignature"
    key_id, signed_headers, given = match.groups()
    if key_id != ACCESS_KEY_ID:
        return False, "InvalidAccessKeyId.NotFound"
    if hashlib.sha256(body).hexdigest() != headers.get("x-acs-content-sha256"):
        return False, "InvalidContentSha256"
    sent = dt.datetime.strptime(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    if abs((dt.datetime.now(dt.UTC) - sent).total_seconds()) > 900:
        return False, "InvalidTimeStamp.Expired"
    names = signed_headers.split(";")
    if not {"host", "x-acs-action", "x-acs-date", "x-acs-signature-nonce"} <= set(names):
        return False, "IncompleteSignature"
    parts = urlsplit(path)
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            "&".join(f"{_enc(k)}={_enc(v)}" for k, v in query),
            "".join(f"{n}:{headers.get(n, '').strip()}\n" for n in names),
            signed_headers,
            headers.get("x-acs-content-sha256", ""),
        ]
    )
    string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    expected = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given), "SignatureDoesNotMatch"


def handle(standin: StandIn, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    request_id = secrets.token_hex(8)
    ok, code = verify(method, path, headers, body, ACCESS_KEY_SECRET)
    if not ok:
        standin.rejected.append(code)
        return 400, {
            "Code": code,
            "Message": "Specified signature does not match our calculation.",
            "RequestId": request_id,
        }
    if headers.get("x-acs-action") != "SendSms" or headers.get("x-acs-version") != "2017-05-25":
        return 400, {"Code": "InvalidAction", "Message": "unknown action", "RequestId": request_id}
    params = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
    standin.received.append(params)
    return 200, {"Code": "OK", "Message": "OK", "BizId": f"biz-{len(standin.received)}", "RequestId": request_id}


def server() -> StandIn:
    return StandIn(handle)
