"""A small process and a model governed by it, for the engine's tests.

The model lives only in the test run (its table is made by this folder's conftest); the
process is registered like any domain's, so it also goes through the "every process
validates and renders" test.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models

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
from tuangou.core.workflow.engine import StateField


def owns(ticket: Any, user: Any) -> bool:
    return ticket.owner_id is not None and ticket.owner_id == getattr(user, "pk", None)


TICKET = register(
    Process(
        name="wf_test_ticket",
        title="Test ticket",
        owner=owns,
        data_stores=("core.WorkflowTestTicket",),
        lanes=(
            Lane("operator", "Operator"),
            Lane("finance", "Finance"),
            Lane(SYSTEM, "Platform", external=True),
        ),
        documents=(
            Document("report", "Report"),
            Document("receipt", "Receipt", to="operator"),
            Document("minutes", "Minutes"),
        ),
        start=Start("new", "New", "operator"),
        tasks=(
            Task("review", "Review", "operator", documents=("report",), time_limit=timedelta(hours=1)),
            Task("meet", "Discuss in a meeting", "operator", kind="meeting", required=False, documents=("minutes",)),
            Task("pay", "Pay", "finance", documents=("receipt",)),
        ),
        decisions=(Decision("ok", "Approved?", "operator"),),
        ends=(End("done", "Done", "finance"), End("expired", "Expired", SYSTEM)),
        transitions=(
            Transition("new", "review", "open", by=(OWNER,), title="Open"),
            Transition("review", "ok"),
            Transition("ok", "pay", "approve", by=("operator",), title="Yes"),
            Transition("ok", "meet", "discuss", by=("operator",), title="Discuss", note_required=True),
            Transition("meet", "review", "resume", by=(OWNER, "operator"), title="Resume"),
            Transition("pay", "done", "pay", by=("finance",), title="Pay"),
            Transition("review", "expired", "expire", by=(SYSTEM,), title="Expire"),
        ),
    )
)


class WorkflowTestTicket(models.Model):
    title = models.CharField(max_length=40, default="")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    state = StateField("step", process=TICKET)

    class Meta:
        app_label = "core"

    def __str__(self) -> str:
        return self.title
