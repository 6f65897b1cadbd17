"""Jobs of payments. Each only calls a service and is safe to run twice."""

from __future__ import annotations

from decimal import Decimal

from tuangou.core import events
from tuangou.core.jobs import job
from tuangou.payments import services
from tuangou.payments.orders import deal_orders as orders
from tuangou.payments.providers import sandbox


@job("payments.refund_execute", max_retries=5, retry_backoff=10.0)
def refund_execute(*, refund_id: int) -> None:
    services.refund_execute(refund_id=refund_id)


@job("payments.refunds_resume", every=60)
def refunds_resume() -> None:
    services.refunds_resume()


@job("payments.reconcile_pending", every=120)
def reconcile_pending() -> None:
    services.payments_reconcile_pending()


@job("payments.sandbox_deliver", max_retries=0)
def sandbox_deliver(*, trade_id: int) -> None:
    sandbox.sandbox_deliver(trade_id=trade_id)


@job("payments.sandbox_deliver_due", every=5)
def sandbox_deliver_due() -> None:
    sandbox.sandbox_deliver_due()


# --- reactions to the deals domain's events (core.events: after commit, at least once) ---------


@events.subscribe("deal.failed")
def refund_failed_deal(*, deal_id: int, **_: object) -> None:
    services.deal_failed_refund(order_ids=orders.paid_order_ids(deal_id=deal_id))


@events.subscribe("team.failed")
def refund_failed_team(*, team_id: int, deal_id: int, **_: object) -> None:
    services.deal_failed_refund(order_ids=orders.paid_order_ids(deal_id=deal_id, team_id=team_id))


@events.subscribe("deal.closed")
def refund_tier_difference(*, deal_id: int, final_unit_price: str | None = None, **_: object) -> None:
    if final_unit_price is None:
        return
    for order_id, amount in orders.overpaid(deal_id=deal_id, final_unit_price=Decimal(final_unit_price)):
        services.tier_difference_refund(order_id=order_id, amount=amount)
