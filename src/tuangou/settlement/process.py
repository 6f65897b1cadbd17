"""結算單 — a merchant's settlement statement: draft → confirmed by the merchant → approved by an
operator → paid by finance (S4: 與團購網購買核對, 按人數獲得提成; Groupon: paid on redemption).

The platform's clock drafts a statement per merchant per cycle of its agreement (weekly, twice
a month, monthly); the merchant checks it against its own records and confirms it, or disputes
it (back to the operator, who recomputes it); approval moves the money out of escrow into the
merchant's payable; finance records the payout.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from tuangou.core.workflow import OWNER, Document, End, Lane, Process, Start, Task, Transition, register

MERCHANT = "merchant"
OPERATOR = "operator"
FINANCE = "finance"
PLATFORM = "system"


def is_statement_merchant(statement: Any, user: Any) -> bool:
    """A merchant's admins (not its clerks) confirm its statements."""
    from tuangou.merchants.models import MerchantMember

    return MerchantMember.objects.filter(
        merchant_id=statement.merchant_id, user_id=getattr(user, "pk", 0), store__isnull=True
    ).exists()


STATEMENT = register(
    Process(
        name="settlement_statement",
        title=_("Settlement statement"),
        description=_(
            "Each cycle the platform drafts a statement of the merchant's verified vouchers, commission "
            "and refunds; the merchant confirms it, an operator approves it and finance pays it "
            "(seed answer 4)."
        ),
        owner=is_statement_merchant,
        data_stores=("settlement.Statement", "settlement.StatementLine", "vouchers.Voucher", "ledger.Leg"),
        lanes=(
            Lane(MERCHANT, _("Merchant")),
            Lane(OPERATOR, _("Operator")),
            Lane(FINANCE, _("Finance")),
            Lane(PLATFORM, _("Platform (clock)"), external=True),
        ),
        documents=(
            Document("statement", _("Settlement statement (Excel)"), to=MERCHANT),
            Document("dispute_note", _("Dispute note"), to=OPERATOR),
            Document("payout_slip", _("Payout slip"), to=MERCHANT),
        ),
        start=Start("cycle_end", _("Settlement cycle ends"), PLATFORM),
        tasks=(
            Task("draft", _("Check and confirm the statement"), MERCHANT, documents=("statement",)),
            Task("disputed", _("Review the dispute and recompute"), OPERATOR, required=False),
            Task("confirmed", _("Approve the statement"), OPERATOR),
            Task("approved", _("Pay the merchant"), FINANCE, documents=("payout_slip",)),
        ),
        ends=(End("paid", _("Paid"), FINANCE),),
        transitions=(
            Transition("cycle_end", "draft", "draft", by=(PLATFORM, OPERATOR), title=_("Draft the statement")),
            Transition("draft", "confirmed", "confirm", by=(OWNER,), title=_("Confirm")),
            Transition(
                "draft",
                "disputed",
                "dispute",
                by=(OWNER,),
                title=_("Dispute"),
                documents=("dispute_note",),
                note_required=True,
            ),
            Transition("disputed", "draft", "recompute", by=(OPERATOR,), title=_("Recompute")),
            Transition("confirmed", "approved", "approve", by=(OPERATOR,), title=_("Approve")),
            Transition("approved", "paid", "pay", by=(FINANCE,), title=_("Record the payout")),
        ),
    )
)
