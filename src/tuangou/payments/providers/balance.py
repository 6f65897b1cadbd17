"""站內餘額: paying from the member's balance. No outside gateway: the ledger is the gateway."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from tuangou.payments.providers.base import Ack, InvalidNotification, RefundResult, StartResult, TradeEvent

if TYPE_CHECKING:
    from tuangou.payments.models import Payment, Refund


class BalanceGateway:
    name = "balance"

    def start(self, payment: Payment, *, return_url: str, notify_url: str, channel: str) -> StartResult:
        return StartResult(kind="done")

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> TradeEvent:
        raise InvalidNotification("the balance has no notifications")

    def ack(self, ok: bool) -> Ack:
        return Ack(400, "fail")

    def query(self, payment: Payment) -> TradeEvent:
        return TradeEvent(
            key=f"balance:{payment.out_trade_no}",
            out_trade_no=payment.out_trade_no,
            status="succeeded" if payment.status == "succeeded" else "pending",
            amount=payment.amount,
        )  # type: ignore[arg-type]

    def refund(self, refund: Refund) -> RefundResult:
        # Refunds of balance payments always go back to the balance; the ledger posting is the refund.
        return RefundResult(status="succeeded", gateway_refund_no="balance")

    def query_refund(self, refund: Refund) -> RefundResult:
        return RefundResult(status="not_found")
