"""The gateway interface: one small typed contract, one module per provider (Saleor's shape).

A provider only speaks its gateway's protocol. It never touches our tables except through the
records it is handed, and it is always called outside database transactions and row locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from tuangou.payments.models import Payment, Refund

TradeStatus = Literal["succeeded", "pending", "failed", "closed", "not_found"]
RefundStatus = Literal["succeeded", "processing", "failed", "not_found"]


class InvalidNotification(Exception):
    """A notification whose signature, app or content cannot be trusted. Nothing may change."""


class GatewayError(Exception):
    """The gateway could not be reached or answered with an error; the caller may retry."""


@dataclass(frozen=True)
class StartResult:
    """How the buyer pays: follow `url` (redirect), show `qr` (a code URL), or call `params` (JSAPI)."""

    kind: Literal["redirect", "qr", "jsapi", "done"]
    url: str = ""
    qr: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TradeEvent:
    """A verified statement by the gateway about one trade (from a notification or a query)."""

    key: str  # the gateway's id of this notification (or query) for idempotency
    out_trade_no: str
    status: TradeStatus
    amount: Decimal | None = None
    gateway_trade_no: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    status: RefundStatus
    gateway_refund_no: str = ""
    message: str = ""


@dataclass(frozen=True)
class Ack:
    """What to answer the gateway: the exact status and body its protocol expects."""

    status: int
    body: str
    content_type: str = "text/plain"


class Gateway(Protocol):
    name: str

    def start(self, payment: Payment, *, return_url: str, notify_url: str, channel: str) -> StartResult: ...

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> TradeEvent: ...

    def ack(self, ok: bool) -> Ack: ...

    def query(self, payment: Payment) -> TradeEvent: ...

    def refund(self, refund: Refund) -> RefundResult: ...

    def query_refund(self, refund: Refund) -> RefundResult: ...


def fen(amount: Decimal) -> int:
    """Yuan to fen (分), the unit WeChat Pay counts in."""
    return int((amount * 100).to_integral_value())


def load_pem(value: str) -> bytes:
    """A PEM from the environment: the text itself (with literal \\n allowed) or a file path."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return text.replace("\\n", "\n").encode()
    with open(text, "rb") as fh:
        return fh.read()
