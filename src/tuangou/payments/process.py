"""The payment and refund processes (支付、退款), declared for the engine, the diagrams and the stats.

Payment: a payment waits for its gateway; the gateway's verified word (a notification or a
query) confirms it, fails it, or closes it. Only the platform moves it (``actor=None``).

Refund: requested (the money is already out of escrow, in flight) → sent to the gateway with its
fixed request number → refunded; or, when the gateway refuses or keeps failing, stuck — finance
sees it and retries it (the same refund, the same number), never paying it twice.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tuangou.core.workflow import SYSTEM, Document, End, Lane, Process, Start, Task, Transition, register

PLATFORM = SYSTEM
FINANCE = "finance"

PAYMENT = register(
    Process(
        name="payment",
        title=_("Payment into escrow"),
        description=_(
            "A buyer pays an order through a gateway; the platform holds the money in escrow once the "
            "gateway's signed notification (or a query) confirms it."
        ),
        data_stores=("payments.Payment", "payments.Notification", "ledger.LedgerTransaction"),
        lanes=(Lane(PLATFORM, _("Platform (gateway notifications and queries)"), external=True),),
        documents=(Document("notification", _("Signed payment notification"), to=PLATFORM),),
        start=Start("pending", _("Waiting for the gateway"), PLATFORM),
        tasks=(),
        ends=(
            End("succeeded", _("Paid: money in escrow"), PLATFORM),
            End("failed", _("Failed at the gateway"), PLATFORM),
            End("closed", _("Closed unpaid"), PLATFORM),
        ),
        transitions=(
            Transition(
                "pending",
                "succeeded",
                "confirm",
                by=(PLATFORM,),
                title=_("Gateway confirms"),
                documents=("notification",),
            ),
            Transition("pending", "failed", "fail", by=(PLATFORM,), title=_("Gateway reports failure")),
            Transition("pending", "closed", "close", by=(PLATFORM,), title=_("Gateway closes the trade")),
        ),
    )
)

REFUND = register(
    Process(
        name="refund",
        title=_("Refund"),
        description=_(
            "Money goes back to the buyer exactly once: through the original gateway with a fixed request "
            "number, or to the site balance; a stuck refund is retried by finance."
        ),
        data_stores=("payments.Refund", "ledger.LedgerTransaction"),
        lanes=(Lane(PLATFORM, _("Platform"), external=True), Lane(FINANCE, _("Finance"))),
        start=Start("pending", _("Requested: money in flight"), PLATFORM),
        tasks=(
            Task("sending", _("Sent to the gateway"), PLATFORM),
            Task("failed", _("Stuck: finance retries"), FINANCE),
            Task("retrying", _("Queued again by finance"), PLATFORM),
        ),
        ends=(End("succeeded", _("Refunded"), PLATFORM),),
        transitions=(
            Transition("pending", "sending", "send", by=(PLATFORM,), title=_("Send")),
            Transition("sending", "succeeded", "confirm", by=(PLATFORM,), title=_("Gateway confirms")),
            Transition("sending", "failed", "give_up", by=(PLATFORM,), title=_("Gateway refuses")),
            Transition("failed", "retrying", "retry", by=(FINANCE,), title=_("Retry")),
            Transition("retrying", "sending", "send", by=(PLATFORM,), title=_("Send again, same number")),
        ),
    )
)
