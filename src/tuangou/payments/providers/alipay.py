"""支付寶開放平台 (Alipay open platform), protocol v1 with RSA2 signatures.

- Requests are signed SHA256withRSA with the app's private key over the sorted ``k=v`` pairs
  (every parameter but ``sign``, empty values left out), joined by ``&``.
- Notifications (form POST) are verified with Alipay's public key over the same string without
  ``sign`` and ``sign_type``; then app_id and seller_id must be ours, and only TRADE_SUCCESS and
  TRADE_FINISHED count as paid. The reply is exactly ``success``.
- API answers (trade query, refund, refund query) are verified over the raw JSON text of the
  ``…_response`` member.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.utils import timezone

from tuangou.core.money import money
from tuangou.payments.providers.base import (
    Ack,
    GatewayError,
    InvalidNotification,
    RefundResult,
    StartResult,
    TradeEvent,
    load_pem,
)

if TYPE_CHECKING:
    from tuangou.payments.models import Payment, Refund

PAID = {"TRADE_SUCCESS", "TRADE_FINISHED"}


def content(params: Mapping[str, Any], *, exclude: tuple[str, ...] = ("sign",)) -> str:
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in exclude and params[k] not in ("", None))


def rsa2_sign(text: str, private_key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(private_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa2_verify(text: str, signature: str, public_key: rsa.RSAPublicKey) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def raw_member(body: str, name: str) -> tuple[str, dict[str, Any]]:
    """The exact text of JSON member `name` (what Alipay signed) and its parsed value."""
    marker = f'"{name}"'
    at = body.find(marker)
    if at < 0:
        raise GatewayError(f"no {name} in the answer")
    start = body.index(":", at + len(marker)) + 1
    while body[start] in " \t\r\n":
        start += 1
    value, end = json.JSONDecoder().raw_decode(body, start)
    return body[start:end], value


@dataclass
class AlipayGateway:
    name = "alipay"
    app_id: str
    seller_id: str
    private_key: rsa.RSAPrivateKey
    alipay_public_key: rsa.RSAPublicKey
    gateway_url: str

    @classmethod
    def from_settings(cls) -> AlipayGateway:
        conf = settings.ALIPAY
        private = serialization.load_pem_private_key(load_pem(conf["APP_PRIVATE_KEY"]), password=None)
        public = serialization.load_pem_public_key(load_pem(conf["PUBLIC_KEY"]))
        assert isinstance(private, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey)  # noqa: S101
        return cls(conf["APP_ID"], conf["SELLER_ID"], private, public, conf["GATEWAY_URL"])

    def _params(self, method: str, biz: dict[str, Any], **extra: str) -> dict[str, str]:
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": timezone.localtime().strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
            **extra,
        }
        params = {k: v for k, v in params.items() if v}
        params["sign"] = rsa2_sign(content(params), self.private_key)
        return params

    def start(self, payment: Payment, *, return_url: str, notify_url: str, channel: str) -> StartResult:
        wap = channel == "wap"
        biz = {
            "out_trade_no": payment.out_trade_no,
            "total_amount": str(payment.amount),
            "subject": payment.subject,
            "product_code": "QUICK_WAP_WAY" if wap else "FAST_INSTANT_TRADE_PAY",
        }
        method = "alipay.trade.wap.pay" if wap else "alipay.trade.page.pay"
        params = self._params(method, biz, notify_url=notify_url, return_url=return_url)
        return StartResult(kind="redirect", url=f"{self.gateway_url}?{urlencode(params)}")

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> TradeEvent:
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        signature = params.get("sign", "")
        if not signature or params.get("sign_type", "RSA2") != "RSA2":
            raise InvalidNotification("missing or unsupported signature")
        if not rsa2_verify(content(params, exclude=("sign", "sign_type")), signature, self.alipay_public_key):
            raise InvalidNotification("bad signature")
        if params.get("app_id") != self.app_id:
            raise InvalidNotification("wrong app_id")
        if self.seller_id and params.get("seller_id") != self.seller_id:
            raise InvalidNotification("wrong seller_id")
        for field in ("notify_id", "out_trade_no", "total_amount", "trade_status"):
            if not params.get(field):
                raise InvalidNotification(f"missing {field}")
        status = params["trade_status"]
        return TradeEvent(
            key=params["notify_id"],
            out_trade_no=params["out_trade_no"],
            status="succeeded" if status in PAID else ("closed" if status == "TRADE_CLOSED" else "pending"),
            amount=money(params["total_amount"]),
            gateway_trade_no=params.get("trade_no", ""),
            raw=params,
        )

    def ack(self, ok: bool) -> Ack:
        return Ack(200, "success" if ok else "fail")

    def _call(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = httpx.post(self.gateway_url, data=self._params(method, biz), timeout=10.0)
        except httpx.HTTPError as exc:
            raise GatewayError(str(exc)) from exc
        if answer.status_code != 200:
            raise GatewayError(f"HTTP {answer.status_code}")
        text = answer.text
        raw, value = raw_member(text, method.replace(".", "_") + "_response")
        signature = json.loads(text).get("sign", "")
        if not rsa2_verify(raw, signature, self.alipay_public_key):
            raise GatewayError("the answer's signature does not verify")
        if value.get("code") == "20000":
            raise GatewayError(value.get("sub_msg") or value.get("msg") or "service unavailable")
        return value  # type: ignore[no-any-return]

    def query(self, payment: Payment) -> TradeEvent:
        value = self._call("alipay.trade.query", {"out_trade_no": payment.out_trade_no})
        if value.get("code") != "10000":
            return TradeEvent(
                key=f"query:{payment.out_trade_no}",
                out_trade_no=payment.out_trade_no,
                status="not_found" if value.get("sub_code") == "ACQ.TRADE_NOT_EXIST" else "pending",
            )
        status = value.get("trade_status", "")
        return TradeEvent(
            key=f"query:{value.get('trade_no', '')}:{status}",
            out_trade_no=value.get("out_trade_no", ""),
            status="succeeded" if status in PAID else ("closed" if status == "TRADE_CLOSED" else "pending"),
            amount=money(value["total_amount"]) if value.get("total_amount") else None,
            gateway_trade_no=value.get("trade_no", ""),
            raw=value,
        )

    def refund(self, refund: Refund) -> RefundResult:
        value = self._call(
            "alipay.trade.refund",
            {
                "out_trade_no": refund.payment.out_trade_no,
                "refund_amount": str(refund.amount),
                "out_request_no": refund.out_request_no,
                "refund_reason": refund.reason,
            },
        )
        if value.get("code") == "10000":
            return RefundResult(status="succeeded", gateway_refund_no=value.get("trade_no", ""))
        return RefundResult(status="failed", message=f"{value.get('sub_code', '')} {value.get('sub_msg', '')}")

    def query_refund(self, refund: Refund) -> RefundResult:
        value = self._call(
            "alipay.trade.fastpay.refund.query",
            {
                "out_trade_no": refund.payment.out_trade_no,
                "out_request_no": refund.out_request_no,
            },
        )
        if value.get("code") == "10000" and value.get("refund_status") == "REFUND_SUCCESS":
            return RefundResult(status="succeeded", gateway_refund_no=value.get("trade_no", ""))
        return RefundResult(status="not_found")
