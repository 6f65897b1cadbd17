"""Two `transition_many` calls over overlapping keys at the same moment, with real threads on
PostgreSQL: every row moves exactly once, nobody deadlocks, one log row per move. Many
`transition_row` callers on one row: exactly one moves it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tuangou.core.workflow.engine import transition_many, transition_row
from tuangou.core.workflow.models import ProcessPosition, TransitionLog

from .test_engine_race import race
from .ticket import TICKET, WorkflowTestTicket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_overlapping_bulk_calls_move_each_row_exactly_once(make_user: Callable[..., Any]) -> None:
    owner = make_user("member")
    made = WorkflowTestTicket.objects.bulk_create(
        [WorkflowTestTicket(title="bulk race", owner=owner) for _ in range(300)]
    )
    pks = sorted(t.pk for t in made)
    transition_many(WorkflowTestTicket, "open", ids=pks, actor=owner)
    # thread 0: the first two thirds, thread 1: the last two thirds (the middle third contested),
    # thread 2: every other row; batches smaller than the overlap, so they interleave
    wanted = [pks[:200], pks[100:], pks[::2]]

    def expire(i: int) -> Any:
        return transition_many(WorkflowTestTicket, "expire", ids=wanted[i], batch_size=40)

    results, errors = race(3, expire)
    assert not errors, errors
    moved = [pk for r in results for pk in r.moved]
    assert sorted(moved) == pks  # each exactly once
    # each call accounts for every key it was given: moved, or skipped as moved by another
    assert sorted(sorted(r.moved + r.skipped) for r in results) == sorted(sorted(w) for w in wanted)
    assert set(WorkflowTestTicket.objects.filter(pk__in=pks).values_list("state", flat=True)) == {"expired"}
    logs = TransitionLog.objects.filter(process=TICKET.name, object_id__in=pks, action="expire")
    assert logs.count() == 300 and logs.values("object_id").distinct().count() == 300
    positions = ProcessPosition.objects.filter(process=TICKET.name, object_id__in=pks)
    assert positions.count() == 300 and set(positions.values_list("state", flat=True)) == {"expired"}


def test_many_callers_of_one_row_move_it_once(make_user: Callable[..., Any]) -> None:
    owner = make_user("member")
    ticket = WorkflowTestTicket.objects.create(title="row race", owner=owner)
    transition_row(ticket, "open", actor=owner)

    def expire(_i: int) -> bool:
        # each thread has its own copy, all at "review"
        return transition_row(WorkflowTestTicket.objects.get(pk=ticket.pk), "expire", values={"title": "expired"})

    results, errors = race(8, expire)
    assert not errors, errors
    assert sorted(results) == [False] * 7 + [True]
    assert WorkflowTestTicket.objects.get(pk=ticket.pk).state == "expired"
    assert TransitionLog.objects.filter(process=TICKET.name, object_id=ticket.pk, action="expire").count() == 1
    position = ProcessPosition.objects.get(process=TICKET.name, object_id=ticket.pk)
    assert position.state == "expired"
