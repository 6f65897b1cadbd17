"""An Alipay open-platform stand-in: verifies the app's RSA2 signature, answers signed JSON.

Implements alipay.trade.query, alipay.trade.refund (idempotent per out_request_no, as Alipay is)
and alipay.trade.fastpay.refund.query, and builds signed asynchronous notifications.
"""

from __future__ import annotations

import base64
import json
import secrets
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.payments.standins import Server, new_key


def _content(params: dict[str, str], exclude: tuple[str, ...]) -> str:
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in exclude and params[k] != "")


class AlipayStandin:
    def __init__(self, app_id: str, seller_id: str, app_public_key: rsa.RSAPublicKey) -> None:
        self.app_id, self.seller_id, self.app_public_key = app_id, seller_id, app_public_key
        self.key = new_key()  # Alipay's own key pair
        self.trades: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.refund_calls = 0
        self.server = Server(self.handle)
        self.url = self.server.url + "/gateway.do"

    def sign(self, text: str) -> str:
        return base64.b64encode(self.key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()

    def pay(self, out_trade_no: str, amount: str) -> str:
        trade_no = "2026" + secrets.token_hex(8)
        self.trades[out_trade_no] = {"trade_no": trade_no, "amount": amount, "status": "TRADE_SUCCESS"}
        return trade_no

    def notification(self, out_trade_no: str, **override: str) -> bytes:
        trade = self.trades[out_trade_no]
        params = {
            "notify_id": secrets.token_hex(16),
            "notify_type": "trade_status_sync",
            "notify_time": "2026-11-27 10:00:00",
            "app_id": self.app_id,
            "seller_id": self.seller_id,
            "out_trade_no": out_trade_no,
            "trade_no": trade["trade_no"],
            "total_amount": trade["amount"],
            "trade_status": trade["status"],
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            **override,
        }
        params["sign"] = self.sign(_content(params, ("sign", "sign_type")))
        return urlencode(params).encode()

    def _answer(self, method: str, node: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        raw = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
        name = method.replace(".", "_") + "_response"
        body = f'{{"{name}":{raw},"sign":"{self.sign(raw)}"}}'
        return 200, {"Content-Type": "application/json;charset=utf-8"}, body.encode()

    def handle(self, verb: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        params = dict(parse_qsl(body.decode()))
        method = params.get("method", "")
        try:
            self.app_public_key.verify(
                base64.b64decode(params.get("sign", "")),
                _content(params, ("sign",)).encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return self._answer(
                method, {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"}
            )
        if params.get("app_id") != self.app_id:
            return self._answer(method, {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-app-id"})
        biz = json.loads(params["biz_content"])
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if method == "alipay.trade.query":
            if trade is None:
                return self._answer(
                    method, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"}
                )
            return self._answer(
                method,
                {
                    "code": "10000",
                    "msg": "Success",
                    "out_trade_no": biz["out_trade_no"],
                    "trade_no": trade["trade_no"],
                    "trade_status": trade["status"],
                    "total_amount": trade["amount"],
                },
            )
        if method == "alipay.trade.refund":
            self.refund_calls += 1
            if trade is None:
                return self._answer(
                    method, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"}
                )
            number = biz["out_request_no"]
            fund_change = "N" if number in self.refunds else "Y"
            if fund_change == "Y":
                taken = sum(
                    Decimal(r["amount"]) for r in self.refunds.values() if r["out_trade_no"] == biz["out_trade_no"]
                )
                if taken + Decimal(biz["refund_amount"]) > Decimal(trade["amount"]):
                    return self._answer(
                        method,
                        {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"},
                    )
                self.refunds[number] = {"out_trade_no": biz["out_trade_no"], "amount": biz["refund_amount"]}
            return self._answer(
                method,
                {
                    "code": "10000",
                    "msg": "Success",
                    "trade_no": trade["trade_no"],
                    "out_trade_no": biz["out_trade_no"],
                    "fund_change": fund_change,
                    "refund_fee": biz["refund_amount"],
                },
            )
        if method == "alipay.trade.fastpay.refund.query":
            found = self.refunds.get(biz.get("out_request_no", ""))
            node: dict[str, Any] = {"code": "10000", "msg": "Success"}
            if found and trade:
                node.update(
                    out_request_no=biz["out_request_no"],
                    refund_amount=found["amount"],
                    refund_status="REFUND_SUCCESS",
                    trade_no=trade["trade_no"],
                )
            return self._answer(method, node)
        return self._answer(method, {"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method"})
