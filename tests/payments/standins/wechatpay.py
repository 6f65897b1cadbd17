"""A WeChat Pay API v3 stand-in: checks the merchant's request signature, signs its answers with the
platform key, and builds AEAD_AES_256_GCM-encrypted, signed notifications."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.payments.standins import Server, new_key

AUTH = re.compile(r'(\w+)="([^"]*)"')


class WechatPayStandin:
    def __init__(self, app_id: str, mch_id: str, mch_public_key: rsa.RSAPublicKey, api_v3_key: bytes) -> None:
        self.app_id, self.mch_id, self.mch_public_key, self.api_v3_key = app_id, mch_id, mch_public_key, api_v3_key
        self.key = new_key()  # the platform's key pair
        self.serial = "PLATFORM" + secrets.token_hex(8).upper()
        self.trades: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.refund_calls = 0
        self.server = Server(self.handle)
        self.url = self.server.url

    def signed_headers(self, body: str, *, ts: int | None = None) -> dict[str, str]:
        stamp, nonce = str(ts or int(time.time())), secrets.token_hex(16)
        signature = base64.b64encode(
            self.key.sign(f"{stamp}\n{nonce}\n{body}\n".encode(), padding.PKCS1v15(), hashes.SHA256())
        ).decode()
        return {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": self.serial,
        }

    def pay(self, out_trade_no: str) -> None:
        self.trades[out_trade_no]["trade_state"] = "SUCCESS"

    def notification(
        self, out_trade_no: str, *, total: int | None = None, appid: str | None = None, key: bytes | None = None
    ) -> tuple[bytes, dict[str, str]]:
        trade = self.trades[out_trade_no]
        plain = json.dumps(
            {
                "appid": appid or self.app_id,
                "mchid": self.mch_id,
                "out_trade_no": out_trade_no,
                "transaction_id": trade["transaction_id"],
                "trade_type": "NATIVE",
                "trade_state": trade["trade_state"],
                "amount": {
                    "total": trade["total"] if total is None else total,
                    "payer_total": trade["total"],
                    "currency": "CNY",
                    "payer_currency": "CNY",
                },
            }
        )
        nonce = secrets.token_hex(6)
        cipher = AESGCM(key or self.api_v3_key).encrypt(nonce.encode(), plain.encode(), b"transaction")
        body = json.dumps(
            {
                "id": secrets.token_hex(16),
                "create_time": "2026-11-27T10:00:00+08:00",
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(cipher).decode(),
                    "associated_data": "transaction",
                    "nonce": nonce,
                },
            }
        )
        return body.encode(), self.signed_headers(body)

    def _reply(self, status: int, payload: dict[str, Any] | None) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps(payload) if payload is not None else ""
        return status, {"Content-Type": "application/json", **self.signed_headers(body)}, body.encode()

    def _authorized(self, verb: str, path: str, headers: dict[str, str], body: bytes) -> bool:
        auth = headers.get("Authorization", "")
        if not auth.startswith("WECHATPAY2-SHA256-RSA2048 "):
            return False
        fields = dict(AUTH.findall(auth))
        if fields.get("mchid") != self.mch_id:
            return False
        message = f"{verb}\n{path}\n{fields.get('timestamp')}\n{fields.get('nonce_str')}\n{body.decode()}\n"
        try:
            self.mch_public_key.verify(
                base64.b64decode(fields.get("signature", "")), message.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def handle(self, verb: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if not self._authorized(verb, path, headers, body):
            return self._reply(401, {"code": "SIGN_ERROR", "message": "signature verification failed"})
        data = json.loads(body) if body else {}
        if verb == "POST" and path in ("/v3/pay/transactions/native", "/v3/pay/transactions/jsapi"):
            if data.get("appid") != self.app_id:
                return self._reply(400, {"code": "PARAM_ERROR", "message": "appid"})
            self.trades[data["out_trade_no"]] = {
                "total": data["amount"]["total"],
                "trade_state": "NOTPAY",
                "transaction_id": "4200" + secrets.token_hex(10),
            }
            if path.endswith("jsapi"):
                return self._reply(200, {"prepay_id": "wx" + secrets.token_hex(12)})
            return self._reply(200, {"code_url": f"weixin://wxpay/bizpayurl?pr={secrets.token_hex(4)}"})
        if verb == "GET" and path.startswith("/v3/pay/transactions/out-trade-no/"):
            number = path.split("/")[-1].split("?")[0]
            trade = self.trades.get(number)
            if trade is None:
                return self._reply(404, {"code": "ORDER_NOT_EXIST", "message": "not found"})
            return self._reply(
                200,
                {
                    "appid": self.app_id,
                    "mchid": self.mch_id,
                    "out_trade_no": number,
                    "transaction_id": trade["transaction_id"],
                    "trade_state": trade["trade_state"],
                    "amount": {"total": trade["total"], "currency": "CNY"},
                },
            )
        if verb == "POST" and path == "/v3/refund/domestic/refunds":
            self.refund_calls += 1
            number = data["out_refund_no"]
            if number not in self.refunds:
                self.refunds[number] = {
                    "refund_id": "5030" + secrets.token_hex(10),
                    "out_refund_no": number,
                    "status": "SUCCESS",
                    "amount": data["amount"],
                }
            return self._reply(200, self.refunds[number])
        if verb == "GET" and path.startswith("/v3/refund/domestic/refunds/"):
            found = self.refunds.get(path.split("/")[-1])
            if found is None:
                return self._reply(404, {"code": "RESOURCE_NOT_EXISTS", "message": "not found"})
            return self._reply(200, found)
        return self._reply(404, {"code": "NOT_FOUND", "message": path})
