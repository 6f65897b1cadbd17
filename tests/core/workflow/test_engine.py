"""The engine: only declared transitions, only by the lane's role or the owner, all logged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tuangou.core.errors import AppError, Conflict, Forbidden, ValidationFailed
from tuangou.core.workflow.engine import available_actions, history, transition
from tuangou.core.workflow.models import ProcessPosition, TransitionLog

from .ticket import WorkflowTestTicket

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user: Callable[..., Any]) -> dict[str, Any]:
    return {
        "owner": make_user("member"),
        "operator": make_user("operator"),
        "finance": make_user("finance"),
        "stranger": make_user("member"),
    }


def new_ticket(owner: Any) -> WorkflowTestTicket:
    return WorkflowTestTicket.objects.create(title="t", owner=owner)


def test_a_declared_transition_moves_the_state_and_is_logged(people: dict[str, Any]) -> None:
    ticket = new_ticket(people["owner"])
    assert ticket.state == "new"
    log = transition(ticket, "open", actor=people["owner"], note="  please  ")
    assert ticket.state == "review"
    ticket.refresh_from_db()
    assert ticket.state == "review"
    assert (log.process, log.from_state, log.to_state, log.action) == ("wf_test_ticket", "new", "review", "open")
    assert log.actor == people["owner"]
    assert log.note == "please"
    assert log.at is not None and log.at.tzinfo is not None
    transition(ticket, "approve", actor=people["operator"], documents={"report": "R-1"})
    row = TransitionLog.objects.for_object(ticket).last()
    assert row is not None
    assert (row.from_state, row.to_state, row.documents) == ("review", "pay", {"report": "R-1"})
    # the row knows when the ticket entered review, and how long it stayed
    assert row.entered_at == log.at
    assert row.waited == pytest.approx((row.at - log.at).total_seconds())
    assert log.entered_at is None and log.waited is None  # nothing is measured at the start
    position = ProcessPosition.objects.get(process="wf_test_ticket", object_id=ticket.pk)
    assert (position.state, position.since) == ("pay", row.at)
    transition(ticket, "pay", actor=people["finance"], documents=["receipt"])
    assert [(r.from_state, r.to_state) for r in history(ticket)] == [
        ("new", "review"),
        ("review", "pay"),
        ("pay", "done"),
    ]
    assert history(ticket).last().documents == {"receipt": None}  # type: ignore[union-attr]


def refused(exc: type[AppError], code: str, fn: Callable[[], object]) -> AppError:
    with pytest.raises(exc) as caught:
        fn()
    assert caught.value.code == code
    assert str(caught.value.message)
    return caught.value


def test_an_undeclared_transition_is_refused_and_changes_nothing(people: dict[str, Any]) -> None:
    ticket = new_ticket(people["owner"])
    refused(Conflict, "transition_not_allowed", lambda: transition(ticket, "pay", actor=people["finance"]))
    refused(Conflict, "transition_not_allowed", lambda: transition(ticket, "no_such", actor=people["owner"]))
    ticket.refresh_from_db()
    assert ticket.state == "new"
    assert not TransitionLog.objects.for_object(ticket).exists()


def test_the_wrong_role_is_refused_and_changes_nothing(people: dict[str, Any]) -> None:
    ticket = new_ticket(people["owner"])
    # only the owner may open it
    refused(Forbidden, "transition_forbidden", lambda: transition(ticket, "open", actor=people["operator"]))
    refused(Forbidden, "transition_forbidden", lambda: transition(ticket, "open", actor=people["stranger"]))
    transition(ticket, "open", actor=people["owner"])
    # approving is the operator lane's
    refused(Forbidden, "transition_forbidden", lambda: transition(ticket, "approve", actor=people["finance"]))
    refused(Forbidden, "transition_forbidden", lambda: transition(ticket, "approve", actor=people["owner"]))
    ticket.refresh_from_db()
    assert ticket.state == "review"
    assert TransitionLog.objects.for_object(ticket).count() == 1


def test_the_platform_clock_performs_system_arrows_only(people: dict[str, Any]) -> None:
    ticket = new_ticket(people["owner"])
    refused(Forbidden, "transition_forbidden", lambda: transition(ticket, "open", actor=None))
    transition(ticket, "open", actor=people["owner"])
    refused(Forbidden, "transition_forbidden", lambda: transition(ticket, "expire", actor=people["operator"]))
    log = transition(ticket, "expire", actor=None)
    assert log.actor is None and ticket.state == "expired"


def test_a_recorded_exception_needs_a_note(people: dict[str, Any]) -> None:
    ticket = new_ticket(people["owner"])
    transition(ticket, "open", actor=people["owner"])
    error = refused(
        ValidationFailed, "transition_note_required", lambda: transition(ticket, "discuss", actor=people["operator"])
    )
    assert "note" in error.errors
    transition(ticket, "discuss", actor=people["operator"], note="numbers disagree", documents=["report"])
    assert ticket.state == "meet"


def test_documents_must_belong_to_the_step(people: dict[str, Any]) -> None:
    ticket = new_ticket(people["owner"])
    transition(ticket, "open", actor=people["owner"])
    error = refused(
        ValidationFailed,
        "transition_document_unknown",
        lambda: transition(ticket, "approve", actor=people["operator"], documents={"receipt": "x"}),
    )
    assert "documents" in error.errors
    ticket.refresh_from_db()
    assert ticket.state == "review"


def test_the_state_cannot_be_assigned_or_created_elsewhere(people: dict[str, Any]) -> None:
    ticket = new_ticket(people["owner"])
    with pytest.raises(Conflict) as caught:
        ticket.state = "done"
    assert caught.value.code == "transition_direct_change"
    assert ticket.state == "new"
    ticket.state = "new"  # assigning the same value is harmless
    with pytest.raises(Conflict):
        WorkflowTestTicket.objects.create(title="sneaky", state="done")
    assert not WorkflowTestTicket.objects.filter(title="sneaky").exists()


def test_the_engine_judges_the_row_in_the_database_not_a_stale_copy(people: dict[str, Any]) -> None:
    ticket = new_ticket(people["owner"])
    stale = WorkflowTestTicket.objects.get(pk=ticket.pk)
    transition(ticket, "open", actor=people["owner"])
    transition(ticket, "approve", actor=people["operator"])
    assert stale.state == "new"
    # the stale copy asks for "open" again: the row is at "pay" now, so it is refused
    refused(Conflict, "transition_not_allowed", lambda: transition(stale, "open", actor=people["owner"]))
    log = transition(stale, "pay", actor=people["finance"])
    assert log.from_state == "pay" and stale.state == "done"


def test_available_actions_follow_roles_and_ownership(people: dict[str, Any]) -> None:
    ticket = new_ticket(people["owner"])
    assert [r.action for r in available_actions(ticket, people["owner"])] == ["open"]
    assert available_actions(ticket, people["operator"]) == []
    transition(ticket, "open", actor=people["owner"])
    assert {r.action for r in available_actions(ticket, people["operator"])} == {"approve", "discuss"}
    assert [r.action for r in available_actions(ticket, None)] == ["expire"]


def test_a_transition_costs_a_handful_of_queries(people: dict[str, Any]) -> None:
    ticket = new_ticket(people["owner"])
    transition(ticket, "open", actor=people["owner"])  # warms the content-type cache
    operator = people["operator"]
    with CaptureQueriesContext(connection) as ctx:
        transition(ticket, "approve", actor=operator)
    # lock-and-read, the user's groups, the position's time, the state, the position, the log row
    statements = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"].upper()]
    assert len(statements) <= 6, statements


def test_the_log_is_append_only(people: dict[str, Any]) -> None:
    ticket = new_ticket(people["owner"])
    log = transition(ticket, "open", actor=people["owner"])
    with pytest.raises(Conflict):
        log.save()
    with pytest.raises(Conflict):
        TransitionLog.objects.filter(pk=log.pk).update(note="edited")
    with pytest.raises(Conflict):
        TransitionLog.objects.filter(pk=log.pk).delete()
