"""Unpaid orders expire by themselves and give their stock back."""

from tuangou.core.jobs import job
from tuangou.orders import services


@job("orders.expire", every=30)
def expire() -> None:
    services.orders_expire_due()
