"""S4 業務員上門聯系商家 → 達成合作事宜: the BD pipeline of a prospective merchant.

lead → contacted → negotiating → signed (agreement filed) → live (first deal on sale) → lapsed
(agreement ended). A BD rep owns the prospect and moves it; an operator may too.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from tuangou.core.workflow import OWNER, Document, End, Lane, Process, Start, Task, Transition, register

BD = "bd_rep"
OPERATOR = "operator"


def is_prospect_rep(prospect: Any, user: Any) -> bool:
    return getattr(user, "pk", None) is not None and prospect.rep_id == user.pk


PIPELINE = register(
    Process(
        name="bd_pipeline",
        title=_("Merchant acquisition (BD pipeline)"),
        description=_(
            "A BD rep finds a merchant, visits, negotiates and files the signed agreement; the merchant "
            "goes live with its first deal (seed answer 4)."
        ),
        owner=is_prospect_rep,
        data_stores=("merchants.Prospect", "merchants.Visit", "merchants.Agreement"),
        lanes=(Lane(BD, _("BD sales rep")), Lane(OPERATOR, _("Operator"))),
        documents=(
            Document("visit_note", _("Visit note")),
            Document("agreement", _("Signed agreement"), to=OPERATOR),
        ),
        start=Start("lead", _("Lead found"), BD),
        tasks=(
            Task("contacted", _("Visit the merchant (上門聯系)"), BD, kind="meeting", documents=("visit_note",)),
            Task("negotiating", _("Negotiate terms (達成合作事宜)"), BD, kind="meeting"),
            Task("signed", _("Agreement signed: prepare the first deal"), OPERATOR, documents=("agreement",)),
            Task("live", _("Live: deals on sale"), OPERATOR),
        ),
        ends=(End("lapsed", _("Lapsed"), OPERATOR),),
        transitions=(
            Transition("lead", "contacted", "contact", by=(OWNER, OPERATOR), title=_("Contacted")),
            Transition("contacted", "negotiating", "negotiate", by=(OWNER, OPERATOR), title=_("Negotiating")),
            Transition(
                "negotiating", "signed", "sign", by=(OWNER, OPERATOR), title=_("Signed"), documents=("agreement",)
            ),
            Transition("signed", "live", "go_live", by=(OWNER, OPERATOR), title=_("Live")),
            Transition("live", "lapsed", "lapse", by=(OPERATOR,), title=_("Agreement ended")),
            Transition("negotiating", "lapsed", "drop", by=(OWNER, OPERATOR), title=_("Dropped"), note_required=True),
        ),
    )
)
