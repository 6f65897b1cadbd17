"""Demo settlement: a draft statement of 老街火鍋 for the current cycle of its agreement, with the
voucher the demo clerk verified on it (commission by the agreement's rate), for the merchant
(13800000002) to confirm, the operator to approve and finance (13800000007) to pay. Drafted
through the real service; re-runnable (one statement per merchant and period).
"""

from __future__ import annotations

from typing import Any

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.core.models import City
from tuangou.core.time import local_date
from tuangou.merchants.models import Agreement, Merchant
from tuangou.settlement import services


def load(*, users: dict[str, User], cities: dict[str, City], **_: Any) -> None:
    hotpot = Merchant.objects.filter(slug="laojie-hotpot").first()
    if hotpot is None:
        return
    agreement = Agreement.current_for(hotpot)
    if agreement is None:
        return
    start, end = services.period_containing(agreement.settlement_cycle, local_date())
    st = services.statement_generate(
        merchant_id=hotpot.pk, period_start=start, period_end=end, actor=users[Role.OPERATOR]
    )
    # what the job queued by the drafting does after commit, done here so the demo shows it at once
    services.statement_settle_vouchers(statement_id=st.pk)
