"""Declarations: what the validator refuses, and what a declaration tells the engine."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from tuangou.core.workflow import (
    OWNER,
    Decision,
    Document,
    End,
    Lane,
    Process,
    ProcessDeclarationError,
    Start,
    Task,
    Transition,
    validate,
)
from tuangou.salesdesk.process import SALES_ORDER

from .ticket import TICKET


def small(**changes: object) -> Process:
    base = Process(
        name="small",
        title="Small",
        lanes=(Lane("operator", "Operator"),),
        documents=(Document("memo", "Memo"),),
        start=Start("new", "New", "operator"),
        tasks=(Task("work", "Work", "operator", documents=("memo",)),),
        ends=(End("done", "Done", "operator"),),
        transitions=(
            Transition("new", "work", "start", by=("operator",)),
            Transition("work", "done", "finish", by=("operator",)),
        ),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def problems(process: Process) -> list[str]:
    with pytest.raises(ProcessDeclarationError) as caught:
        validate(process)
    return caught.value.problems


def test_a_sound_declaration_validates() -> None:
    validate(small())
    validate(SALES_ORDER)
    validate(TICKET)


def test_unknown_role_document_and_lane_are_all_listed_at_once() -> None:
    bad = small(
        lanes=(Lane("operator", "Operator"), Lane("wizard", "Wizard")),
        tasks=(Task("work", "Work", "nobody", documents=("memo", "scroll")),),
    )
    found = problems(bad)
    assert "lane 'wizard' is not a known role" in found
    assert "task 'work' is in lane 'nobody', which is not declared" in found
    assert "task 'work' produces unknown document 'scroll'" in found
    message = str(ProcessDeclarationError("small", found))
    assert message.startswith("process 'small' is not valid:")
    assert "scroll" in message and "wizard" in message


def test_every_node_reachable_from_the_start_and_reaching_an_end() -> None:
    bad = small(
        tasks=(
            Task("work", "Work", "operator"),
            Task("orphan", "Orphan", "operator"),
            Task("trap", "Trap", "operator"),
        ),
        transitions=(
            Transition("new", "work", "start", by=("operator",)),
            Transition("work", "done", "finish", by=("operator",)),
            Transition("work", "trap", "fall", by=("operator",)),
            Transition("orphan", "done", "finish", by=("operator",)),
        ),
    )
    found = problems(bad)
    assert "task 'orphan' cannot be reached from the start" in found
    assert "task 'trap' cannot reach an end" in found


def test_each_task_sits_in_exactly_one_lane() -> None:
    bad = small(tasks=(Task("work", "Work", "operator"), Task("work", "Work again", "operator")))
    assert any("node name 'work' is used 2 times" in p for p in problems(bad))


def test_arrows_need_actions_and_performers_and_decisions_need_outcomes() -> None:
    bad = small(
        decisions=(Decision("choose", "Choose?", "operator"),),
        transitions=(
            Transition("new", "work", "", by=("operator",)),
            Transition("work", "choose", "decide", by=("operator",)),
            Transition("choose", "done", "finish", by=()),
            Transition("work", "done", "finish", by=(OWNER,)),
        ),
    )
    found = problems(bad)
    assert "transition new->work: needs an action name in lower_snake_case" in found
    assert "transition work->choose (decide): an arrow into a decision carries no action; its outcomes do" in found
    assert "transition choose->done (finish): says nobody may perform it (by=...)" in found
    assert "transition choose->done (finish): an outcome of decision 'choose' needs a title" in found
    assert "transition work->done (finish): performed by the owner, but the process declares no owner check" in found


def test_ambiguous_actions_are_refused() -> None:
    bad = small(
        tasks=(Task("work", "Work", "operator"), Task("other", "Other", "operator")),
        transitions=(
            Transition("new", "work", "start", by=("operator",)),
            Transition("new", "other", "start", by=("operator",)),
            Transition("work", "done", "finish", by=("operator",)),
            Transition("other", "done", "finish", by=("operator",)),
        ),
    )
    assert "state 'new': action 'start' leads to 2 places" in problems(bad)


def test_time_limits_must_be_positive() -> None:
    bad = small(tasks=(Task("work", "Work", "operator", time_limit=timedelta(0)),))
    assert "task 'work': time limit must be positive" in problems(bad)


def test_routes_follow_arrows_through_decisions() -> None:
    route = TICKET.route("review", "discuss")
    assert route is not None
    assert route.target == "meet"
    assert [t.target for t in route.transitions] == ["ok", "meet"]
    assert route.note_required
    assert {r.action for r in TICKET.routes_from("review")} == {"approve", "discuss", "expire"}
    assert TICKET.route("review", "pay") is None


def test_states_are_the_resting_nodes() -> None:
    assert TICKET.states == ("new", "review", "meet", "pay", "done", "expired")
    assert "ok" not in dict(TICKET.state_choices)
    assert TICKET.initial_state == "new"


def test_the_sales_order_follows_seed_answer_one() -> None:
    """接訂單 → 登記建檔 → 向團購部下訂單 → 開票發貨 → 簽收 → 回款 → 銷帳 → 備案 → 備案."""
    path = ["new"]
    for action in ["receive", "take", "register", "place_written", "dispatch", "sign", "collect", "write_off", "file"]:
        route = SALES_ORDER.route(path[-1], action)
        assert route is not None, (path[-1], action)
        path.append(route.target)
    assert path[-1] == "dept_filing"
    assert SALES_ORDER.route("dept_filing", "record_performance").target == "closed"  # type: ignore[union-attr]
    # exceptions and loops the seed describes
    assert SALES_ORDER.route("placing", "place_by_phone").note_required  # type: ignore[union-attr]
    assert SALES_ORDER.route("signing", "sign_partial").target == "dispatching"  # type: ignore[union-attr]
    assert SALES_ORDER.route("collecting", "collect_partial").target == "collecting"  # type: ignore[union-attr]
    lanes = {lane.role for lane in SALES_ORDER.lanes}
    assert lanes == {"sales_rep", "sales_dept", "customer"}
    docs = {d.code for d in SALES_ORDER.documents}
    assert docs == {
        "register",
        "written_order",
        "invoice",
        "delivery_note",
        "receipt_signed",
        "payment_voucher",
        "write_off",
        "performance",
    }
