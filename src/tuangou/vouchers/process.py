"""團購券的一生 — the voucher's life, declared for the engine, the diagrams and the statistics.

Issued when the deal tips (or the team fills) → used at a store (驗證/消費), which the counter
may undo within the undo window with a reason → or it expires at the end of its validity and,
where the deal says so (過期退), is refunded; a member may ask for a refund before use where
the deal allows it (隨時退). Verification locks the voucher only while it is still ``issued`` and
moves it to ``used`` through the engine in the same transaction: two counters racing on one code,
one wins.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from tuangou.core.workflow import OWNER, Document, End, Lane, Process, Start, Task, Transition, register

MEMBER = "member"
CLERK = "clerk"
MERCHANT = "merchant"
PLATFORM = "system"  # the platform's clock: expiry and refunds on expiry


def is_voucher_holder(voucher: Any, user: Any) -> bool:
    return getattr(user, "pk", None) is not None and voucher.user_id == user.pk


VOUCHER = register(
    Process(
        name="voucher",
        title=_("Voucher life"),
        description=_(
            "A voucher is issued when its deal tips, sent by SMS, shown at the store and verified "
            "once; it expires at the end of its validity and is refunded where the deal says so "
            "(seed answers 4 and 8)."
        ),
        owner=is_voucher_holder,
        data_stores=("vouchers.Voucher", "vouchers.Redemption"),
        lanes=(
            Lane(MEMBER, _("Member")),
            Lane(CLERK, _("Merchant clerk")),
            Lane(MERCHANT, _("Merchant")),
            Lane(PLATFORM, _("Platform (clock)"), external=True),
        ),
        documents=(
            Document("voucher_sms", _("Voucher SMS"), to=MEMBER),
            Document("redemption", _("Verification record"), to=MERCHANT),
            Document("undo_reason", _("Reason for the undo")),
        ),
        start=Start("new", _("Deal tipped or team filled"), PLATFORM),
        tasks=(
            Task("issued", _("Show the code at the store"), MEMBER, documents=("voucher_sms",)),
            Task("used", _("Used: settle with the merchant"), MERCHANT, documents=("redemption",)),
            Task("expired", _("Expired: refund where the deal says so"), PLATFORM),
        ),
        ends=(
            End("settled", _("Settled with the merchant"), MERCHANT),
            End("refunded", _("Refunded"), PLATFORM),
            End("lapsed", _("Lapsed without refund"), PLATFORM),
        ),
        transitions=(
            Transition(
                "new", "issued", "issue", by=(PLATFORM,), title=_("Issue and send by SMS"), documents=("voucher_sms",)
            ),
            Transition("issued", "used", "verify", by=(CLERK, MERCHANT), title=_("Verify at the counter")),
            Transition(
                "used",
                "issued",
                "undo",
                by=(CLERK, MERCHANT),
                title=_("Undo within the window"),
                documents=("undo_reason",),
                note_required=True,
            ),
            Transition("used", "settled", "settle", by=(PLATFORM,), title=_("On a settlement statement")),
            Transition("issued", "expired", "expire", by=(PLATFORM,), title=_("Validity ended")),
            Transition("expired", "refunded", "refund", by=(PLATFORM,), title=_("Refund on expiry (過期退)")),
            Transition("expired", "lapsed", "lapse", by=(PLATFORM,), title=_("No refund on expiry")),
            Transition("issued", "refunded", "refund", by=(OWNER, PLATFORM), title=_("Refund before use (隨時退)")),
        ),
    )
)
