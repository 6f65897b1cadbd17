"""The deals clock: runs every 30 seconds in both modes (embedded clock thread, Celery beat)."""

from tuangou.core.jobs import job
from tuangou.deals import services

TICK_SECONDS = 30


@job("deals.tick", every=TICK_SECONDS)
def tick() -> None:
    services.deals_tick()
