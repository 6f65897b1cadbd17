"""Time per step, against values computed by hand, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType

from tuangou.core.workflow.models import ProcessPosition, TransitionLog
from tuangou.core.workflow.stats import slowest_first, step_stats

from .ticket import TICKET, WorkflowTestTicket

pytestmark = pytest.mark.django_db

T0 = datetime.fromisoformat("2026-03-02T09:00:00+08:00")
MIN = timedelta(minutes=1)


def walk(object_id: int, *steps: tuple[str, str, str, datetime], process: str = TICKET.name) -> list[Any]:
    """One object's rows as the engine writes them, and where it is now."""
    content_type = ContentType.objects.get_for_model(WorkflowTestTicket)
    rows: list[Any] = []
    previous: datetime | None = None
    for source, target, action, at in steps:
        entered = None if source == TICKET.initial_state else previous
        rows.append(
            TransitionLog(
                process=process,
                content_type=content_type,
                object_id=object_id,
                from_state=source,
                to_state=target,
                action=action,
                at=at,
                entered_at=entered,
                waited=None if entered is None else (at - entered).total_seconds(),
            )
        )
        previous = at
    last = steps[-1]
    rows.append(
        ProcessPosition(process=process, content_type=content_type, object_id=object_id, state=last[1], since=last[3])
    )
    return rows


def save(rows: list[Any]) -> None:
    TransitionLog.objects.bulk_create([r for r in rows if isinstance(r, TransitionLog)])
    ProcessPosition.objects.bulk_create([r for r in rows if isinstance(r, ProcessPosition)])


def test_step_timings_match_the_hand_computed_values() -> None:
    save(
        [
            # ticket 1: reviewed in 10 min, paid after 60 min
            *walk(
                1,
                ("new", "review", "open", T0),
                ("review", "pay", "approve", T0 + 10 * MIN),
                ("pay", "done", "pay", T0 + 70 * MIN),
            ),
            # ticket 2: reviewed in 30 min, waits to be paid
            *walk(2, ("new", "review", "open", T0), ("review", "pay", "approve", T0 + 30 * MIN)),
            # ticket 3: in review since T0: five hours at "now", past the one-hour limit
            *walk(3, ("new", "review", "open", T0)),
            # ticket 4: reviewed in 10 min, discussed for 40, reviewed again in 90 (late), waits to be paid
            *walk(
                4,
                ("new", "review", "open", T0 + 100 * MIN),
                ("review", "meet", "discuss", T0 + 110 * MIN),
                ("meet", "review", "resume", T0 + 150 * MIN),
                ("review", "pay", "approve", T0 + 240 * MIN),
            ),
            # another process's rows never count
            *walk(1, ("new", "review", "open", T0), ("review", "pay", "approve", T0 + MIN), process="other"),
        ]
    )
    now = T0 + 300 * MIN
    stats = {s.step: s for s in step_stats(TICKET, now=now)}
    assert list(stats) == ["review", "meet", "pay", "done", "expired"]  # start and decisions have no time

    review = stats["review"]
    # five visits: 10, 30, 10 and 90 minutes done; ticket 3 still there
    assert (review.entered, review.left, review.waiting, review.overdue, review.late) == (5, 4, 1, 1, 1)
    assert review.median == 10 * MIN  # nearest rank: sorted 10, 10, 30, 90 → 2nd
    assert review.p90 == 90 * MIN  # ceil(0.9 × 4) = 4th
    assert review.mean == (10 + 30 + 10 + 90) / 4 * MIN
    assert review.time_limit == timedelta(hours=1)

    meet = stats["meet"]
    assert (meet.entered, meet.left, meet.waiting, meet.median, meet.p90) == (1, 1, 0, 40 * MIN, 40 * MIN)

    pay = stats["pay"]
    assert (pay.entered, pay.left, pay.waiting, pay.overdue) == (3, 1, 2, 0)
    assert pay.median == pay.p90 == 60 * MIN

    done = stats["done"]
    assert (done.entered, done.left, done.waiting, done.is_end) == (1, 0, 0, True)
    assert stats["expired"].entered == 0 and stats["expired"].median is None

    assert [s.step for s in slowest_first(list(stats.values()))][:3] == ["review", "pay", "meet"]


def test_no_rows_no_numbers() -> None:
    stats = step_stats(TICKET)
    assert all(s.entered == 0 and s.median is None and s.waiting == 0 for s in stats)


@pytest.mark.postgres
def test_step_timings_on_postgresql() -> None:
    test_step_timings_match_the_hand_computed_values()
