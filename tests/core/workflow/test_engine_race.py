"""Two people performing transitions on one object at the same moment, with real threads on
PostgreSQL: the row lock lets one through and judges the other from the new state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from tests.concurrency.race import race_each
from tuangou.core.workflow.engine import transition
from tuangou.core.workflow.models import ProcessPosition, TransitionLog

from .ticket import WorkflowTestTicket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(n: int, work: Callable[[int], Any]) -> tuple[list[Any], list[str]]:
    """`work(i)` in a durable transaction of each of `n` threads raced (`tests.concurrency.race`):
    what the calls that returned gave, and what each other call came to (its refusal's code or
    ``crash:…``)."""

    def in_transaction(i: int) -> Any:
        with transaction.atomic(durable=True):
            return work(i)

    results, outcomes = race_each(n, in_transaction)
    return results, [outcome for outcome in outcomes.elements() if outcome != "ok"]


def test_one_of_many_racing_the_same_action_wins(make_user: Callable[..., Any]) -> None:
    owner = make_user("member")
    operators = [make_user("operator") for _ in range(6)]
    ticket = WorkflowTestTicket.objects.create(title="race", owner=owner)
    transition(ticket, "open", actor=owner)

    def approve(i: int) -> Any:
        # each thread has its own stale copy, all at "review"
        return transition(WorkflowTestTicket.objects.get(pk=ticket.pk), "approve", actor=operators[i])

    results, errors = race(6, approve)
    assert len(results) == 1, errors
    assert errors == ["transition_not_allowed"] * 5, errors
    ticket.refresh_from_db()
    assert ticket.state == "pay"
    assert list(TransitionLog.objects.for_object(ticket).values_list("action", flat=True)) == ["open", "approve"]
    assert ProcessPosition.objects.get(object_id=ticket.pk, process="wf_test_ticket").state == "pay"


def test_different_actions_from_one_state_race_cleanly(make_user: Callable[..., Any]) -> None:
    owner, operator = make_user("member"), make_user("operator")
    ticket = WorkflowTestTicket.objects.create(title="race 2", owner=owner)
    transition(ticket, "open", actor=owner)
    moves = [("approve", operator, ""), ("discuss", operator, "why"), ("expire", None, "")]

    def move(i: int) -> Any:
        action, actor, note = moves[i]
        return transition(WorkflowTestTicket.objects.get(pk=ticket.pk), action, actor=actor, note=note)

    results, errors = race(3, move)
    assert len(results) == 1 and len(errors) == 2, errors
    ticket.refresh_from_db()
    assert ticket.state == results[0].to_state
    rows = list(TransitionLog.objects.for_object(ticket).order_by("at", "id"))
    assert [r.from_state for r in rows] == ["new", "review"]
    assert rows[1].entered_at == rows[0].at
