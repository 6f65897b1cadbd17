"""微信支付 API v3: Native (QR code) and JSAPI orders, query, refund, refund query.

- Requests carry ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,
  timestamp=…,serial_no=…``, signed SHA256withRSA over ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n``
  with the merchant's private key.
- Answers and notifications are verified with the platform key over
  ``TIMESTAMP\\nNONCE\\nBODY\\n`` (headers Wechatpay-Timestamp, -Nonce, -Signature, -Serial), and a
  timestamp more than five minutes off is refused (replays).
- A notification's ``resource`` is decrypted with AEAD_AES_256_GCM and the APIv3 key.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from tuangou.payments.providers.base import (
    Ack,
    GatewayError,
    InvalidNotification,
    RefundResult,
    StartResult,
    TradeEvent,
    TradeStatus,
    fen,
    load_pem,
)

if TYPE_CHECKING:
    from tuangou.payments.models import Payment, Refund

MAX_SKEW = 300
TRADE: dict[str, TradeStatus] = {
    "SUCCESS": "succeeded",
    "REFUND": "succeeded",
    "CLOSED": "closed",
    "REVOKED": "closed",
    "PAYERROR": "failed",
    "NOTPAY": "pending",
    "USERPAYING": "pending",
}


def _sign(message: str, key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def _headers_lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower().replace("_", "-"): v for k, v in headers.items()}


def decrypt_resource(resource: Mapping[str, str], api_v3_key: bytes) -> dict[str, Any]:
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise InvalidNotification("unsupported algorithm")
    try:
        plain = AESGCM(api_v3_key).decrypt(
            resource["nonce"].encode(),
            base64.b64decode(resource["ciphertext"]),
            (resource.get("associated_data") or "").encode(),
        )
    except (InvalidTag, KeyError, ValueError) as exc:
        raise InvalidNotification("cannot decrypt the resource") from exc
    return json.loads(plain)  # type: ignore[no-any-return]


@dataclass
class WechatPayGateway:
    name = "wechatpay"
    app_id: str
    mch_id: str
    private_key: rsa.RSAPrivateKey
    serial: str
    api_v3_key: bytes
    platform_key: rsa.RSAPublicKey
    platform_serial: str
    base_url: str

    @classmethod
    def from_settings(cls) -> WechatPayGateway:
        conf = settings.WECHATPAY
        private = serialization.load_pem_private_key(load_pem(conf["MCH_PRIVATE_KEY"]), password=None)
        public = serialization.load_pem_public_key(load_pem(conf["PLATFORM_PUBLIC_KEY"]))
        assert isinstance(private, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey)  # noqa: S101
        return cls(
            conf["APP_ID"],
            conf["MCH_ID"],
            private,
            conf["MCH_SERIAL"],
            conf["API_V3_KEY"].encode(),
            public,
            conf["PLATFORM_SERIAL"],
            conf["BASE_URL"].rstrip("/"),
        )

    # --- signing and verifying ---------------------------------------------------------------

    def authorization(self, method: str, path: str, body: str) -> str:
        nonce, ts = secrets.token_hex(16), str(int(time.time()))
        signature = _sign(f"{method}\n{path}\n{ts}\n{nonce}\n{body}\n", self.private_key)
        return (
            f'WECHATPAY2-SHA256-RSA2048 mchid="{self.mch_id}",nonce_str="{nonce}",signature="{signature}",'
            f'timestamp="{ts}",serial_no="{self.serial}"'
        )

    def verify(self, headers: Mapping[str, str], body: str) -> bool:
        h = _headers_lower(headers)
        ts, nonce, signature = (
            h.get("wechatpay-timestamp", ""),
            h.get("wechatpay-nonce", ""),
            h.get("wechatpay-signature", ""),
        )
        if not (ts.isdigit() and nonce and signature) or abs(time.time() - int(ts)) > MAX_SKEW:
            return False
        if self.platform_serial and h.get("wechatpay-serial") not in (None, self.platform_serial):
            return False
        try:
            self.platform_key.verify(
                base64.b64decode(signature), f"{ts}\n{nonce}\n{body}\n".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        body = json.dumps(payload, separators=(",", ":")) if payload is not None else ""
        headers = {
            "Authorization": self.authorization(method, path, body),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        try:
            answer = httpx.request(method, self.base_url + path, content=body or None, headers=headers, timeout=10.0)
        except httpx.HTTPError as exc:
            raise GatewayError(str(exc)) from exc
        if answer.status_code >= 500:
            raise GatewayError(f"HTTP {answer.status_code}")
        if not self.verify(answer.headers, answer.text):
            raise GatewayError("the answer's signature does not verify")
        return answer.status_code, (answer.json() if answer.text else {})

    # --- the interface -----------------------------------------------------------------------

    def start(self, payment: Payment, *, return_url: str, notify_url: str, channel: str) -> StartResult:
        order: dict[str, Any] = {
            "appid": self.app_id,
            "mchid": self.mch_id,
            "description": payment.subject,
            "out_trade_no": payment.out_trade_no,
            "notify_url": notify_url,
            "amount": {"total": fen(payment.amount), "currency": "CNY"},
        }
        if channel == "jsapi":
            order["payer"] = {"openid": payment.start_data.get("openid", "")}
            status, data = self._request("POST", "/v3/pay/transactions/jsapi", order)
            if status != 200:
                raise GatewayError(data.get("message", f"HTTP {status}"))
            params = {
                "appId": self.app_id,
                "timeStamp": str(int(time.time())),
                "nonceStr": secrets.token_hex(16),
                "package": f"prepay_id={data['prepay_id']}",
                "signType": "RSA",
            }
            params["paySign"] = _sign(
                f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n",
                self.private_key,
            )
            return StartResult(kind="jsapi", params=params)
        status, data = self._request("POST", "/v3/pay/transactions/native", order)
        if status != 200:
            raise GatewayError(data.get("message", f"HTTP {status}"))
        return StartResult(kind="qr", qr=data["code_url"])

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> TradeEvent:
        text = body.decode("utf-8", "replace")
        if not self.verify(headers, text):
            raise InvalidNotification("bad signature")
        try:
            envelope = json.loads(text)
            resource = envelope["resource"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidNotification("not a notification") from exc
        trade = decrypt_resource(resource, self.api_v3_key)
        if trade.get("appid") != self.app_id or trade.get("mchid") != self.mch_id:
            raise InvalidNotification("wrong appid or mchid")
        state = trade.get("trade_state", "")
        ok = envelope.get("event_type") == "TRANSACTION.SUCCESS" and state == "SUCCESS"
        return TradeEvent(
            key=str(envelope.get("id", "")),
            out_trade_no=trade.get("out_trade_no", ""),
            status="succeeded" if ok else TRADE.get(state, "pending"),  # type: ignore[arg-type]
            amount=(Decimal(trade["amount"]["total"]) / 100).quantize(Decimal("0.01")),
            gateway_trade_no=trade.get("transaction_id", ""),
            raw=trade,
        )

    def ack(self, ok: bool) -> Ack:
        if ok:
            return Ack(204, "", "application/json")
        return Ack(400, json.dumps({"code": "FAIL", "message": "rejected"}), "application/json")

    def query(self, payment: Payment) -> TradeEvent:
        status, data = self._request(
            "GET", f"/v3/pay/transactions/out-trade-no/{payment.out_trade_no}?mchid={self.mch_id}"
        )
        if status == 404:
            return TradeEvent(
                key=f"query:{payment.out_trade_no}", out_trade_no=payment.out_trade_no, status="not_found"
            )
        state = data.get("trade_state", "")
        total = data.get("amount", {}).get("total")
        return TradeEvent(
            key=f"query:{data.get('transaction_id', '')}:{state}",
            out_trade_no=data.get("out_trade_no", ""),
            status=TRADE.get(state, "pending"),  # type: ignore[arg-type]
            amount=(Decimal(total) / 100).quantize(Decimal("0.01")) if total is not None else None,
            gateway_trade_no=data.get("transaction_id", ""),
            raw=data,
        )

    def _refund_result(self, status: int, data: dict[str, Any]) -> RefundResult:
        if status == 404:
            return RefundResult(status="not_found")
        state = data.get("status", "")
        if status == 200 and state == "SUCCESS":
            return RefundResult(status="succeeded", gateway_refund_no=data.get("refund_id", ""))
        if status == 200 and state == "PROCESSING":
            return RefundResult(status="processing", gateway_refund_no=data.get("refund_id", ""))
        return RefundResult(status="failed", message=f"{data.get('code', state)} {data.get('message', '')}")

    def refund(self, refund: Refund) -> RefundResult:
        status, data = self._request(
            "POST",
            "/v3/refund/domestic/refunds",
            {
                "out_trade_no": refund.payment.out_trade_no,
                "out_refund_no": refund.out_request_no,
                "reason": refund.reason,
                "amount": {"refund": fen(refund.amount), "total": fen(refund.payment.amount), "currency": "CNY"},
            },
        )
        return self._refund_result(status, data)

    def query_refund(self, refund: Refund) -> RefundResult:
        status, data = self._request("GET", f"/v3/refund/domestic/refunds/{refund.out_request_no}")
        return self._refund_result(status, data)
