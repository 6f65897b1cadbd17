"""The deal life cycle and the team buy (拼團), declared once for the engine, the diagrams and the stats.

Deal: 草稿 draft → 提交審核 submitted → (approved | returned with reasons) → scheduled → live →
(tipped | failed) → closed. A merchant proposes and submits; an operator approves or sends it
back; the platform's clock does the rest on time, with nobody watching: it starts the deal,
tips it the moment the tipping point is paid for (成團), ends it at its end time or when sold
out, and fails it when time runs out before the tipping point.

Team buy: a leader opens a team of N; the clock starts when the leader pays; the team fills
when N members have paid, or fails (everyone refunded) when H hours pass first — unless the
deal completes teams virtually, which reports show.

Transitions the platform itself performs (the clock, a confirmed payment) are declared in the
engine's ``system`` lane and performed with ``actor=None``; nobody can perform them by hand.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from tuangou.core.workflow import (
    OWNER,
    SYSTEM,
    Decision,
    Document,
    End,
    Lane,
    Process,
    Start,
    Task,
    Transition,
    register,
)

MERCHANT = "merchant"
MEMBER = "member"
OPERATOR = "operator"
PLATFORM = SYSTEM  # the platform itself: its clock, a confirmed payment (actor=None)


def is_deal_owner(deal: Any, user: Any) -> bool:
    """A merchant's admins and clerks own its deals."""
    user_id = getattr(user, "pk", None)
    if user_id is None:
        return False
    return bool(deal.merchant.members.filter(user_id=user_id).exists())


def is_team_leader(team: Any, user: Any) -> bool:
    return getattr(user, "pk", None) is not None and team.leader_id == user.pk


DEAL = register(
    Process(
        name="deal",
        title=_("Deal life cycle"),
        description=_(
            "A merchant proposes a deal, an operator approves it, and the clock starts it, tips or "
            "fails it and closes it on time (seed answers 2, 5, 6 and 10)."
        ),
        owner=is_deal_owner,
        data_stores=("deals.Deal", "deals.DealTier", "orders.Order"),
        lanes=(
            Lane(MERCHANT, _("Merchant")),
            Lane(OPERATOR, _("Operator")),
            Lane(PLATFORM, _("Platform (clock)"), external=True),
        ),
        documents=(
            Document("proposal", _("Deal proposal (團購方案)"), to=OPERATOR),
            Document("review_notes", _("Review notes"), to=MERCHANT),
        ),
        start=Start("draft", _("Merchant drafts the deal"), MERCHANT),
        tasks=(
            Task("submitted", _("Review the deal"), OPERATOR, documents=("review_notes",)),
            Task("returned", _("Revise and resubmit"), MERCHANT, required=False),
            Task("approved", _("Schedule"), PLATFORM),
            Task("scheduled", _("Wait for the start time"), PLATFORM),
            Task("live", _("On sale, below the tipping point"), PLATFORM),
            Task("tipped", _("On sale, tipped (成團)"), PLATFORM),
            Task("failed", _("Failed: refund everyone"), PLATFORM),
        ),
        decisions=(Decision("review", _("Approve?"), OPERATOR),),
        ends=(End("closed", _("Closed"), PLATFORM),),
        transitions=(
            Transition("draft", "submitted", "submit", by=(OWNER,), title=_("Submit"), documents=("proposal",)),
            Transition("returned", "submitted", "submit", by=(OWNER,), title=_("Resubmit"), documents=("proposal",)),
            Transition("submitted", "review"),
            Transition("review", "approved", "approve", by=(OPERATOR,), title=_("Approve")),
            Transition(
                "review", "returned", "reject", by=(OPERATOR,), title=_("Send back with reasons"), note_required=True
            ),
            Transition("approved", "scheduled", "schedule", by=(PLATFORM,), title=_("Schedule")),
            Transition("scheduled", "live", "start", by=(PLATFORM,), title=_("Start time reached")),
            Transition("live", "tipped", "tip", by=(PLATFORM,), title=_("Tipping point paid for")),
            Transition("live", "failed", "fail", by=(PLATFORM,), title=_("Ended below the tipping point")),
            Transition("tipped", "closed", "close", by=(PLATFORM,), title=_("Ended or sold out")),
            Transition("failed", "closed", "close", by=(PLATFORM,), title=_("Refunds started")),
        ),
    )
)


TEAM = register(
    Process(
        name="team_buy",
        title=_("Team buy (拼團)"),
        description=_(
            "A leader opens a team of N; the clock starts when the leader pays; the team fills or, "
            "after H hours, fails and everyone is refunded."
        ),
        owner=is_team_leader,
        data_stores=("deals.Team", "orders.Order"),
        lanes=(Lane(MEMBER, _("Member")), Lane(PLATFORM, _("Platform (clock)"), external=True)),
        documents=(Document("share_link", _("Share link"), to=MEMBER),),
        start=Start("open", _("Leader opens a team and pays"), MEMBER),
        tasks=(Task("forming", _("Members join and pay"), MEMBER, documents=("share_link",)),),
        ends=(
            End("filled", _("Team filled"), PLATFORM),
            End("failed", _("Team failed: refund"), PLATFORM),
            End("cancelled", _("Leader did not pay"), PLATFORM),
        ),
        transitions=(
            Transition("open", "forming", "start_clock", by=(PLATFORM,), title=_("Leader paid")),
            Transition("open", "cancelled", "cancel", by=(PLATFORM, OWNER), title=_("Leader's order expired")),
            Transition("forming", "filled", "fill", by=(PLATFORM,), title=_("Last member paid")),
            Transition(
                "forming", "filled", "complete_virtually", by=(PLATFORM,), title=_("Completed virtually at timeout")
            ),
            Transition("forming", "failed", "fail", by=(PLATFORM,), title=_("Time ran out")),
        ),
    )
)
