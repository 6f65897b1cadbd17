"""Sales-desk jobs: remind owners of overdue orders (once a day per order; idempotent)."""

from __future__ import annotations

from tuangou.core.jobs import job
from tuangou.salesdesk import services


@job("salesdesk.remind_overdue", every=3600)
def remind_overdue() -> int:
    return services.overdue_remind()
