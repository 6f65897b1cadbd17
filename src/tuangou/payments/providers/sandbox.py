"""沙箱網關: a gateway simulator served by this app under /sandbox-gateway/.

It behaves like a real gateway so the whole flow runs offline: its own cashier page (pay, fail,
abandon), a return redirect, and asynchronous notifications signed with HMAC-SHA256, delivered at
least once on a back-off schedule until acknowledged, optionally delayed and duplicated
(SANDBOX_NOTIFY_DELAY, SANDBOX_DUPLICATE_RATE). Notifications are handed to the same
`notification_receive` the HTTP notify endpoint calls, in-process, so the demo needs no public URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tuangou.core import jobs
from tuangou.core.money import money
from tuangou.payments.providers.base import (
    Ack,
    InvalidNotification,
    RefundResult,
    StartResult,
    TradeEvent,
    TradeStatus,
)

if TYPE_CHECKING:
    from tuangou.payments.models import Payment, Refund, SandboxTrade

# Seconds between notification attempts until one is acknowledged (then the last repeats).
BACKOFF = (0, 5, 15, 60, 300, 900, 3600)
APP_ID = "sandbox-app"
STATUS: dict[str, TradeStatus] = {"paid": "succeeded", "failed": "failed", "closed": "closed"}


def sign(params: Mapping[str, Any], key: bytes) -> str:
    """HMAC-SHA256 over the sorted `k=v` pairs joined by `&`, without `sign`."""
    text = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] not in ("", None))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def signing_key() -> bytes:
    configured = settings.SANDBOX_GATEWAY_KEY
    if configured:
        return str(configured).encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"tuangou-sandbox-gateway", hashlib.sha256).digest()


@dataclass
class SandboxGateway:
    name = "sandbox"
    key: bytes

    @classmethod
    def from_settings(cls) -> SandboxGateway:
        return cls(key=signing_key())

    def start(self, payment: Payment, *, return_url: str, notify_url: str, channel: str) -> StartResult:
        from tuangou.payments.models import SandboxTrade

        trade, _created = SandboxTrade.objects.get_or_create(
            out_trade_no=payment.out_trade_no,
            defaults={
                "trade_no": "SB" + secrets.token_hex(8).upper(),
                "subject": payment.subject,
                "amount": payment.amount,
                "return_url": return_url[:300],
            },
        )
        query = {"out_trade_no": trade.out_trade_no, "total_amount": str(trade.amount), "app_id": APP_ID}
        query["sign"] = sign(query, self.key)
        return StartResult(kind="redirect", url=f"{reverse('sandbox:cashier')}?{urlencode(query)}")

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> TradeEvent:
        try:
            params = json.loads(body)
        except ValueError as exc:
            raise InvalidNotification("not JSON") from exc
        if not isinstance(params, dict) or not hmac.compare_digest(str(params.get("sign", "")), sign(params, self.key)):
            raise InvalidNotification("bad signature")
        if params.get("app_id") != APP_ID:
            raise InvalidNotification("wrong app_id")
        status = STATUS.get(params.get("trade_status", ""))
        if status is None:
            raise InvalidNotification("unknown trade_status")
        return TradeEvent(
            key=str(params["notify_id"]),
            out_trade_no=str(params["out_trade_no"]),
            status=status,
            amount=money(params["total_amount"]),
            gateway_trade_no=str(params.get("trade_no", "")),
            raw=params,
        )

    def ack(self, ok: bool) -> Ack:
        return Ack(200 if ok else 400, "success" if ok else "fail")

    def query(self, payment: Payment) -> TradeEvent:
        from tuangou.payments.models import SandboxTrade

        trade = SandboxTrade.objects.filter(out_trade_no=payment.out_trade_no).first()
        if trade is None:
            return TradeEvent(
                key=f"query:{payment.out_trade_no}", out_trade_no=payment.out_trade_no, status="not_found"
            )
        status = STATUS.get(trade.status, "pending")
        return TradeEvent(
            key=f"query:{trade.trade_no}:{trade.status}",
            out_trade_no=trade.out_trade_no,
            status=status,
            amount=trade.amount,
            gateway_trade_no=trade.trade_no,
        )  # type: ignore[arg-type]

    def refund(self, refund: Refund) -> RefundResult:
        return sandbox_refund(
            out_trade_no=refund.payment.out_trade_no, out_request_no=refund.out_request_no, amount=refund.amount
        )

    def query_refund(self, refund: Refund) -> RefundResult:
        from tuangou.payments.models import SandboxRefund

        found = SandboxRefund.objects.filter(out_request_no=refund.out_request_no).first()
        if found is None:
            return RefundResult(status="not_found")
        return RefundResult(status="succeeded", gateway_refund_no=found.refund_no)


# --- the gateway's side: what happens "at the sandbox" --------------------------------------------


def sandbox_refund(*, out_trade_no: str, out_request_no: str, amount: Decimal) -> RefundResult:
    """The sandbox pays a refund once per out_request_no; asking again returns the first answer."""
    from tuangou.payments.models import SandboxRefund, SandboxTrade

    if settings.SANDBOX_REFUNDS_FAIL:
        return RefundResult(status="failed", message="sandbox configured to refuse refunds")
    with transaction.atomic():
        trade = SandboxTrade.objects.select_for_update().filter(out_trade_no=out_trade_no).first()
        if trade is None or trade.status != SandboxTrade.Status.PAID:
            return RefundResult(status="failed", message="trade not paid")
        done, _created = SandboxRefund.objects.get_or_create(
            out_request_no=out_request_no,
            defaults={"trade": trade, "amount": amount, "refund_no": "SR" + secrets.token_hex(8).upper()},
        )
    return RefundResult(status="succeeded", gateway_refund_no=done.refund_no)


def sandbox_trade_finish(*, out_trade_no: str, outcome: str) -> SandboxTrade:
    """The buyer pressed pay, fail or abandon on the cashier page."""
    from tuangou.payments.models import SandboxTrade

    with transaction.atomic():
        trade = SandboxTrade.objects.select_for_update().get(out_trade_no=out_trade_no)
        if trade.status != SandboxTrade.Status.WAITING or outcome == "abandon":
            return trade
        trade.status = SandboxTrade.Status.PAID if outcome == "pay" else SandboxTrade.Status.FAILED
        trade.notify_id = secrets.token_hex(12)
        delay = settings.SANDBOX_NOTIFY_DELAY
        trade.next_notify_at = timezone.now() + timedelta(seconds=delay)
        trade.save()
        if delay <= 0:
            jobs.enqueue("payments.sandbox_deliver", trade_id=trade.pk)
    return trade


def notification_for(trade: SandboxTrade, key: bytes) -> bytes:
    params = {
        "notify_id": trade.notify_id,
        "app_id": APP_ID,
        "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no,
        "total_amount": str(trade.amount),
        "trade_status": trade.status,
        "notify_time": timezone.now().isoformat(),
    }
    params["sign"] = sign(params, key)
    return json.dumps(params).encode()


def return_query(trade: SandboxTrade, key: bytes) -> str:
    params = {"out_trade_no": trade.out_trade_no, "trade_status": trade.status, "app_id": APP_ID}
    params["sign"] = sign(params, key)
    return urlencode(params)


def sandbox_deliver(*, trade_id: int) -> bool:
    """Deliver one trade's notification; on no acknowledgement schedule the next attempt.

    With SANDBOX_DUPLICATE_RATE the same notification is delivered a second time, as real
    gateways sometimes do.
    """
    from tuangou.payments.models import SandboxTrade
    from tuangou.payments.services import notification_receive

    trade = SandboxTrade.objects.get(pk=trade_id)
    if trade.acked_at is not None or not trade.notify_id:
        return True
    body = notification_for(trade, signing_key())
    ack = notification_receive(provider="sandbox", body=body, headers={"Content-Type": "application/json"})
    ok = ack.status == 200 and ack.body == "success"
    attempts = trade.notify_attempts + 1
    wait = BACKOFF[min(attempts, len(BACKOFF) - 1)]
    SandboxTrade.objects.filter(pk=trade.pk).update(
        notify_attempts=attempts,
        acked_at=timezone.now() if ok else None,
        next_notify_at=None if ok else timezone.now() + timedelta(seconds=wait),
    )
    rate = settings.SANDBOX_DUPLICATE_RATE
    if ok and rate > 0 and secrets.randbelow(1000) < int(rate * 1000):
        notification_receive(provider="sandbox", body=body, headers={"Content-Type": "application/json"})
    return ok


def sandbox_deliver_due() -> int:
    """The sandbox's own clock: deliver every notification whose time has come."""
    from tuangou.payments.models import SandboxTrade

    ids = list(
        SandboxTrade.objects.filter(acked_at__isnull=True, next_notify_at__lte=timezone.now())
        .exclude(notify_id="")
        .values_list("pk", flat=True)[:100]
    )
    for pk in ids:
        sandbox_deliver(trade_id=pk)
    return len(ids)
