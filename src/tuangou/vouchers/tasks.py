"""Vouchers react to the deals domain's events and the clock expires them."""

from typing import Any

from tuangou.core import events
from tuangou.core.jobs import job
from tuangou.vouchers import services


@events.subscribe("deal.tipped")
def issue_on_tipping(*, deal_id: int, **_: Any) -> None:
    services.vouchers_issue_in_ranges(deal_id=deal_id)


@job("vouchers.issue_range")
def issue_range(*, deal_id: int, team_id: int | None, first_order_id: int, last_order_id: int) -> None:
    services.vouchers_issue(
        deal_id=deal_id, team_id=team_id, first_order_id=first_order_id, last_order_id=last_order_id
    )


@events.subscribe("team.filled")
def issue_on_team_filled(*, deal_id: int, team_id: int, **_: Any) -> None:
    services.vouchers_issue(deal_id=deal_id, team_id=team_id)


@events.subscribe("deal.closed")
def issue_on_close(*, deal_id: int, tipped: bool = False, **_: Any) -> None:
    # Orders paid after the tipping (the deal stays on sale) get theirs at the latest here.
    if tipped:
        services.vouchers_issue(deal_id=deal_id)


@events.subscribe("order.paid")
def issue_on_late_payment(*, order_id: int, deal_id: int, **_: Any) -> None:
    services.vouchers_issue_for_order(order_id=order_id, deal_id=deal_id)


@events.subscribe("order.refunded")
def close_on_refund(*, order_id: int, **_: Any) -> None:
    # Published by orders when an order is refunded in full (requested in .requests-orders.md).
    services.vouchers_close_for_refunded_order(order_id=order_id)


@job("vouchers.expire", every=3600)
def expire() -> None:
    services.vouchers_expire_due()
