"""An order's payment axis: placed (stock reserved) → paid, or expired / cancelled.

Joining a deal places an order that holds stock for a while (15 minutes by default). A payment
confirmed by the gateway (the payments issue) marks it paid; an order nobody pays expires by
itself and gives its stock back. Refunds and completion (after the voucher is used) are the
payments and vouchers issues' arrows out of ``paid``.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from tuangou.core.workflow import OWNER, SYSTEM, Document, End, Lane, Process, Start, Task, Transition, register

MEMBER = "member"
PLATFORM = SYSTEM  # the clock and confirmed payments (actor=None); see deals/process.py


def is_buyer(order: Any, user: Any) -> bool:
    return getattr(user, "pk", None) is not None and order.user_id == user.pk


ORDER = register(
    Process(
        name="deal_order",
        title=_("Deal order"),
        description=_("Joining a deal reserves stock; the order is paid, or expires and gives the stock back."),
        owner=is_buyer,
        data_stores=("orders.Order", "orders.DealBuyer", "deals.Deal"),
        lanes=(Lane(MEMBER, _("Member")), Lane(PLATFORM, _("Platform (clock)"), external=True)),
        documents=(Document("order", _("Order"), to=MEMBER),),
        start=Start("pending", _("Joined: stock reserved, awaiting payment"), MEMBER),
        tasks=(Task("paid", _("Paid: money held in escrow"), PLATFORM, documents=("order",)),),
        ends=(
            End("expired", _("Expired unpaid"), PLATFORM),
            End("cancelled", _("Cancelled by the member"), MEMBER),
            End("refunded", _("Refunded"), PLATFORM),
            End("completed", _("Completed"), PLATFORM),
        ),
        transitions=(
            Transition("pending", "paid", "pay", by=(PLATFORM,), title=_("Payment confirmed")),
            Transition("pending", "expired", "expire", by=(PLATFORM,), title=_("Payment time ran out")),
            Transition("pending", "cancelled", "cancel", by=(OWNER, PLATFORM), title=_("Cancel")),
            Transition("paid", "refunded", "refund", by=(PLATFORM,), title=_("Refund")),
            Transition("paid", "completed", "complete", by=(PLATFORM,), title=_("Voucher used or goods received")),
        ),
    )
)
