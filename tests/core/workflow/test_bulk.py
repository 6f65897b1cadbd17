"""`transition_many` (many objects in a few statements) and `transition_row` (one object in
one statement), with every guarantee of `transition`.

On SQLite and on PostgreSQL: the same log rows, positions and step statistics as one
`transition` per object; rows not at the source skipped, never moved twice; refusals change
nothing. The races (overlapping bulk calls, many callers of `transition_row` on one row) are
in test_bulk_race.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tuangou.core.errors import AppError, Conflict, Forbidden, ValidationFailed
from tuangou.core.workflow import engine
from tuangou.core.workflow.engine import (
    create_in_state,
    create_rows_in_state,
    transition,
    transition_many,
    transition_row,
)
from tuangou.core.workflow.models import ProcessPosition, TransitionLog
from tuangou.core.workflow.stats import step_stats

from .ticket import TICKET, WorkflowTestTicket

pytestmark = pytest.mark.django_db

T0 = datetime.fromisoformat("2026-03-02T09:00:00.250000+08:00")


@pytest.fixture
def people(make_user: Callable[..., Any]) -> dict[str, Any]:
    return {
        "owner": make_user("member"),
        "operator": make_user("operator"),
        "finance": make_user("finance"),
        "stranger": make_user("member"),
    }


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock()
    monkeypatch.setattr(engine.timezone, "now", c)
    yield c


def tickets(owner: Any, n: int, title: str = "t") -> list[WorkflowTestTicket]:
    return [WorkflowTestTicket.objects.create(title=title, owner=owner) for _ in range(n)]


def scenario(how: str, people: dict[str, Any], clock: Clock) -> dict[str, Any]:
    """Eight tickets through the process, one call per step (`how`: "many", `transition_many`;
    "row", `transition_row` per ticket; "one", `transition` per ticket); what the database
    holds after."""
    clock.now = T0
    made = tickets(people["owner"], 8)
    pks = [t.pk for t in made]
    index = {pk: i for i, pk in enumerate(pks)}
    moved: list[list[int]] = []

    def step(minutes: float, action: str, which: list[int], **kw: Any) -> None:
        clock.now = T0 + timedelta(minutes=minutes)
        chosen = [pks[i] for i in which]
        if how == "many":
            result = transition_many(WorkflowTestTicket, action, ids=chosen, **kw)
            moved.append([index[pk] for pk in result.moved])
            return
        done = []
        for pk in chosen:
            if how == "row":
                if transition_row(WorkflowTestTicket.objects.get(pk=pk), action, **kw):
                    done.append(index[pk])
                continue
            try:
                transition(WorkflowTestTicket.objects.get(pk=pk), action, **kw)
            except Conflict:
                continue
            done.append(index[pk])
        moved.append(done)

    step(1, "open", list(range(8)), actor=people["owner"], note=" go ")
    step(3.5, "approve", [0, 1, 2], actor=people["operator"], documents={"report": "R-1"})
    step(4, "discuss", [3, 4], actor=people["operator"], note="why")
    step(10.000001, "resume", [3], actor=people["operator"])
    step(130, "expire", list(range(8)), actor=None)  # only those at review move
    step(190, "pay", [0, 1, 5], actor=people["finance"], documents=["receipt"])
    logs = [
        (
            index[r.object_id],
            r.from_state,
            r.to_state,
            r.action,
            r.actor_id,
            *(r.at, r.entered_at, r.waited, r.note, r.documents),
        )
        for r in TransitionLog.objects.filter(process=TICKET.name, object_id__in=pks).order_by("id")
    ]
    positions = sorted(
        (index[p.object_id], p.state, p.since)
        for p in ProcessPosition.objects.filter(process=TICKET.name, object_id__in=pks)
    )
    states = [WorkflowTestTicket.objects.get(pk=pk).state for pk in pks]
    stats = [s.as_dict() for s in step_stats(TICKET, now=T0 + timedelta(hours=5))]
    return {"logs": logs, "positions": positions, "states": states, "stats": stats, "moved": moved}


def run_rolled_back(how: str, people: dict[str, Any], clock: Clock) -> dict[str, Any]:
    with transaction.atomic():
        result = scenario(how, people, clock)
        transaction.set_rollback(True)
    return result


def test_many_at_once_writes_what_one_at_a_time_writes(people: dict[str, Any], clock: Clock) -> None:
    one_by_one = run_rolled_back("one", people, clock)
    at_once = run_rolled_back("many", people, clock)
    assert at_once["moved"] == one_by_one["moved"]
    assert one_by_one["moved"][4] == [3, 5, 6, 7]  # expire: only the tickets still at review
    assert one_by_one["moved"][5] == [0, 1]  # pay: 5 has expired
    assert at_once["states"] == one_by_one["states"]
    assert at_once["positions"] == one_by_one["positions"]
    assert at_once["logs"] == one_by_one["logs"]  # entered_at and waited to the microsecond
    assert at_once["stats"] == one_by_one["stats"]
    # the statistics saw something: waits measured, a visit late
    review = next(s for s in at_once["stats"] if s["step"] == "review")
    assert (review["left"], review["late"], review["waiting"]) == (9, 4, 0), review
    assert review["median_seconds"] == 180.0


def test_rows_not_at_the_source_are_skipped_and_never_move_twice(people: dict[str, Any], clock: Clock) -> None:
    made = tickets(people["owner"], 5)
    pks = [t.pk for t in made]
    transition(made[0], "open", actor=people["owner"])
    result = transition_many(WorkflowTestTicket, "open", ids=[*pks, pks[1], 10**9], actor=people["owner"])
    assert result.moved == pks[1:]
    assert result.skipped == [pks[0], 10**9]
    again = transition_many(WorkflowTestTicket, "open", ids=pks, actor=people["owner"])
    assert again.moved == [] and again.skipped == pks
    assert TransitionLog.objects.filter(process=TICKET.name, object_id__in=pks, action="open").count() == 5
    assert set(WorkflowTestTicket.objects.filter(pk__in=pks).values_list("state", flat=True)) == {"review"}


def test_a_queryset_is_walked_in_batches(people: dict[str, Any], clock: Clock) -> None:
    mine = tickets(people["owner"], 7, title="mine")
    others = tickets(people["owner"], 2, title="other")
    transition_many(WorkflowTestTicket, "open", ids=[t.pk for t in mine + others], actor=people["owner"])
    transition(mine[2], "approve", actor=people["operator"])
    result = transition_many(WorkflowTestTicket.objects.filter(title="mine"), "expire", batch_size=2)
    assert result.moved == sorted(t.pk for t in mine if t is not mine[2])
    assert result.skipped == []
    assert {t.pk: t.state for t in WorkflowTestTicket.objects.filter(pk__in=[t.pk for t in mine + others])} == {
        **{t.pk: "expired" for t in mine},
        mine[2].pk: "pay",
        **{t.pk: "review" for t in others},
    }
    # ids and a queryset: only the queryset's rows
    result = transition_many(WorkflowTestTicket.objects.filter(title="mine"), "expire", ids=[others[0].pk])
    assert result.moved == [] and result.skipped == [others[0].pk]


def test_statements_per_batch_not_per_row(people: dict[str, Any], clock: Clock) -> None:
    made = tickets(people["owner"], 40)
    transition_many(WorkflowTestTicket, "open", ids=[t.pk for t in made], actor=people["owner"])
    with CaptureQueriesContext(connection) as ctx:
        result = transition_many(WorkflowTestTicket, "expire", ids=[t.pk for t in made])
    assert len(result.moved) == 40
    # lock, state, log rows, positions (+ savepoint): the same for 40 rows as for 4
    assert len(ctx.captured_queries) <= 7, [q["sql"][:80] for q in ctx.captured_queries]


def snapshot(pks: list[int]) -> tuple[Any, ...]:
    return (
        sorted(WorkflowTestTicket.objects.filter(pk__in=pks).values_list("pk", "state")),
        TransitionLog.objects.filter(process=TICKET.name, object_id__in=pks).count(),
        sorted(
            ProcessPosition.objects.filter(process=TICKET.name, object_id__in=pks).values_list("object_id", "state")
        ),
    )


def test_refusals_change_nothing(people: dict[str, Any], clock: Clock) -> None:
    made = tickets(people["owner"], 4)
    pks = [t.pk for t in made]
    transition_many(WorkflowTestTicket, "open", ids=pks[:3], actor=people["owner"])
    before = snapshot(pks)

    def refused(**kw: Any) -> AppError:
        with pytest.raises(AppError) as caught:
            transition_many(WorkflowTestTicket, ids=pks, **kw)
        assert snapshot(pks) == before
        return caught.value

    # the wrong role, the platform where a person must act, an undeclared action
    assert isinstance(refused(action="approve", actor=people["finance"]), Forbidden)
    assert refused(action="approve", actor=None).code == "transition_forbidden"
    assert isinstance(refused(action="fly", actor=people["operator"]), Conflict)
    assert refused(action="approve", actor=people["operator"], source="pay").code == "transition_not_allowed"
    # a recorded exception without a note, documents of another step
    assert isinstance(refused(action="discuss", actor=people["operator"]), ValidationFailed)
    assert refused(action="approve", actor=people["operator"], documents=["receipt"]).code == (
        "transition_document_unknown"
    )


def test_where_the_owner_may_act_one_strangers_row_refuses_the_whole_call(people: dict[str, Any], clock: Clock) -> None:
    mine = tickets(people["owner"], 3)
    theirs = tickets(people["stranger"], 1)
    pks = [t.pk for t in mine + theirs]
    before = snapshot(pks)
    with pytest.raises(Forbidden):
        # the owner's rows come first, in earlier batches: still nothing moves
        transition_many(WorkflowTestTicket, "open", ids=pks, actor=people["owner"], batch_size=1)
    assert snapshot(pks) == before
    assert transition_many(WorkflowTestTicket, "open", ids=pks[:3], actor=people["owner"]).moved == pks[:3]


def test_created_in_state_is_created_then_moved(people: dict[str, Any], clock: Clock) -> None:
    def run(create: str) -> tuple[Any, ...]:
        with transaction.atomic():
            fresh = [WorkflowTestTicket(title=f"c{i}", owner=people["owner"]) for i in range(5)]
            if create == "objects":
                made = create_in_state(fresh, "open", actor=people["owner"], note="x", batch_size=2)
                assert [t.state for t in made] == ["review"] * 5
                pks = [t.pk for t in made]
            elif create == "rows":
                rows = [(f"c{i}", people["owner"].pk) for i in range(5)]
                pks = create_rows_in_state(
                    WorkflowTestTicket,
                    ("title", "owner_id"),
                    rows,
                    "open",
                    actor=people["owner"],
                    note="x",
                    batch_size=2,
                )
                assert [
                    t
                    for t in WorkflowTestTicket.objects.filter(pk__in=pks)
                    .order_by("pk")
                    .values_list("title", flat=True)
                ] == [f"c{i}" for i in range(5)]
            else:
                made = WorkflowTestTicket.objects.bulk_create(fresh)
                transition_many(WorkflowTestTicket, "open", ids=[t.pk for t in made], actor=people["owner"], note="x")
                pks = [t.pk for t in made]
            result = (
                [WorkflowTestTicket.objects.get(pk=pk).state for pk in pks],
                [
                    (
                        pks.index(r.object_id),
                        r.from_state,
                        r.to_state,
                        r.action,
                        r.actor_id,
                        r.at,
                        r.entered_at,
                        r.waited,
                    )
                    for r in TransitionLog.objects.filter(process=TICKET.name, object_id__in=pks).order_by("id")
                ],
                sorted(
                    (pks.index(p.object_id), p.state, p.since)
                    for p in ProcessPosition.objects.filter(process=TICKET.name, object_id__in=pks)
                ),
            )
            transaction.set_rollback(True)
        return result

    assert run("objects") == run("bulk") == run("rows")


def test_created_from_rows_in_a_few_statements(people: dict[str, Any], clock: Clock) -> None:
    rows = [(f"r{i}", people["owner"].pk) for i in range(7)]
    with CaptureQueriesContext(connection) as q:
        pks = create_rows_in_state(WorkflowTestTicket, ("title", "owner_id"), rows, "open", actor=people["owner"])
    assert len(pks) == 7 and pks == sorted(pks)
    sql = [x["sql"] for x in q.captured_queries]
    # the rows in one go (keys drawn and COPY on PostgreSQL, which is not captured; one INSERT on
    # SQLite), then one INSERT … SELECT of the log rows and one of the positions
    assert sum(s.startswith(("SELECT nextval", 'INSERT INTO "core_workflowtestticket"')) for s in sql) == 1
    assert sum(s.startswith('INSERT INTO "core_transitionlog"') for s in sql) == 1
    assert sum(s.startswith('INSERT INTO "core_processposition"') for s in sql) == 1
    assert set(WorkflowTestTicket.objects.filter(pk__in=pks).values_list("state", flat=True)) == {"review"}


def test_created_from_rows_refused_creates_nothing(people: dict[str, Any], clock: Clock) -> None:
    before = WorkflowTestTicket.objects.count(), TransitionLog.objects.count()
    with pytest.raises(Forbidden):  # the owner may open only their own tickets
        create_rows_in_state(
            WorkflowTestTicket,
            ("title", "owner_id"),
            [("mine", people["owner"].pk), ("not", None)],
            "open",
            actor=people["owner"],
        )
    with pytest.raises(Conflict):
        create_rows_in_state(WorkflowTestTicket, ("title",), [("x",)], "approve", actor=people["operator"])
    with pytest.raises(TypeError):  # the state is the engine's to write
        create_rows_in_state(WorkflowTestTicket, ("title", "state"), [("x", "review")], "open", actor=people["owner"])
    assert (WorkflowTestTicket.objects.count(), TransitionLog.objects.count()) == before


def test_created_in_state_refused_creates_nothing(people: dict[str, Any], clock: Clock) -> None:
    before = WorkflowTestTicket.objects.count(), TransitionLog.objects.count()
    fresh = [WorkflowTestTicket(title="mine", owner=people["owner"]), WorkflowTestTicket(title="not")]
    with pytest.raises(Forbidden):
        create_in_state(fresh, "open", actor=people["owner"])
    with pytest.raises(Conflict):
        create_in_state(fresh, "approve", actor=people["operator"])
    assert (WorkflowTestTicket.objects.count(), TransitionLog.objects.count()) == before
    assert [t.state for t in fresh] == ["new", "new"] and fresh[0].pk is None


# --------------------------------------------------------------------------------------------
# One row: transition_row


def test_one_row_at_a_time_writes_what_transition_writes(people: dict[str, Any], clock: Clock) -> None:
    one_by_one = run_rolled_back("one", people, clock)
    by_row = run_rolled_back("row", people, clock)
    assert by_row == one_by_one  # moved, states, positions, log rows to the microsecond, statistics


def test_one_row_moves_once_with_its_columns(people: dict[str, Any], clock: Clock) -> None:
    ticket, other = tickets(people["owner"], 2)
    values = {"title": "opened", "owner": people["stranger"]}
    assert transition_row(ticket, "open", actor=people["owner"], values=values)
    assert (ticket.state, ticket.title, ticket.owner_id) == ("review", "opened", people["stranger"].pk)
    stored = WorkflowTestTicket.objects.get(pk=ticket.pk)
    assert (stored.state, stored.title, stored.owner_id) == ("review", "opened", people["stranger"].pk)
    # a stale copy still at "new": the row is not there any more, nothing is written
    stale = WorkflowTestTicket.objects.get(pk=other.pk)
    transition(other, "open", actor=people["owner"])
    before = snapshot([ticket.pk, other.pk])
    assert not transition_row(stale, "open", actor=people["owner"], values={"title": "again"})
    assert stale.state == "new" and stale.title == "t"
    assert snapshot([ticket.pk, other.pk]) == before
    assert WorkflowTestTicket.objects.get(pk=other.pk).title == "t"
    # the state is the engine's to write
    with pytest.raises(TypeError):
        transition_row(ticket, "expire", values={"state": "done"})


def test_one_row_in_one_statement_without_lock_or_savepoint(people: dict[str, Any], clock: Clock) -> None:
    ticket = tickets(people["owner"], 1)[0]
    transition(ticket, "open", actor=people["owner"])
    clock.now = T0 + timedelta(minutes=3)
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        assert transition_row(ticket, "expire", values={"title": "late"})
    sql = [q["sql"] for q in ctx.captured_queries]
    # the move, its log row and its position: one statement on PostgreSQL, three on SQLite
    assert len(sql) == (1 if connection.vendor == "postgresql" else 3), sql
    assert not any("SAVEPOINT" in q or "FOR UPDATE" in q for q in sql), sql
    log = TransitionLog.objects.filter(process=TICKET.name, object_id=ticket.pk, action="expire").get()
    assert (log.from_state, log.to_state, log.actor_id, log.at) == ("review", "expired", None, clock.now)
    assert (log.entered_at, log.waited) == (T0, 180.0)
    position = ProcessPosition.objects.get(process=TICKET.name, object_id=ticket.pk)
    assert (position.state, position.since) == ("expired", clock.now)


def test_one_row_refusals_change_nothing(people: dict[str, Any], clock: Clock) -> None:
    mine, theirs = tickets(people["owner"], 1)[0], tickets(people["stranger"], 1)[0]
    transition(mine, "open", actor=people["owner"])
    pks = [mine.pk, theirs.pk]
    before = snapshot(pks)

    def refused(obj: WorkflowTestTicket, **kw: Any) -> AppError:
        with transaction.atomic():
            with pytest.raises(AppError) as caught:
                transition_row(obj, **kw)
            # refused before anything was written: the caller's transaction goes on
            assert snapshot(pks) == before
        return caught.value

    assert isinstance(refused(mine, action="approve", actor=people["finance"]), Forbidden)
    assert refused(mine, action="approve", actor=None).code == "transition_forbidden"
    assert isinstance(refused(mine, action="fly", actor=people["operator"]), Conflict)
    assert refused(mine, action="approve", actor=people["operator"], source="pay").code == "transition_not_allowed"
    assert isinstance(refused(mine, action="discuss", actor=people["operator"]), ValidationFailed)
    assert refused(mine, action="approve", actor=people["operator"], documents=["receipt"]).code == (
        "transition_document_unknown"
    )
    # where the owner may act: the row is judged by its owner
    assert isinstance(refused(theirs, action="open", actor=people["owner"]), Forbidden)
    assert transition_row(theirs, "open", actor=people["stranger"])
