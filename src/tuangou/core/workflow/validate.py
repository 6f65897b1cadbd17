"""Checks that a declaration makes sense, listing every problem at once."""

from __future__ import annotations

import re
from collections import Counter

from .declaration import OWNER, Decision, End, Label, Process, Start, Task
from .roles import known_roles

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: Longest node name, so that every state fits the engine's state column.
MAX_NAME_LENGTH = 40


class ProcessDeclarationError(Exception):
    """A process declaration is not valid; `problems` lists every reason."""

    def __init__(self, process_name: str, problems: list[str]) -> None:
        self.process_name = process_name
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"process {process_name!r} is not valid:\n{lines}")


def validate(process: Process) -> None:
    """Raise `ProcessDeclarationError` unless `process` is a sound declaration."""
    problems = list(find_problems(process))
    if problems:
        raise ProcessDeclarationError(process.name, problems)


def find_problems(process: Process) -> list[str]:
    problems: list[str] = []
    add = problems.append

    if not _NAME.match(process.name or ""):
        add(f"process name {process.name!r} must be lower_snake_case")
    if _blank(process.title):
        add("process has no title")

    # lanes and roles
    roles = known_roles()
    lane_roles = [lane.role for lane in process.lanes]
    if not lane_roles:
        add("process has no lanes")
    for role, count in sorted(Counter(lane_roles).items()):
        if count > 1:
            add(f"lane {role!r} is declared {count} times")
    for role in lane_roles:
        if role not in roles:
            add(f"lane {role!r} is not a known role")

    # documents
    doc_codes = [d.code for d in process.documents]
    for code, count in sorted(Counter(doc_codes).items()):
        if count > 1:
            add(f"document {code!r} is declared {count} times")
    for doc in process.documents:
        if not _NAME.match(doc.code):
            add(f"document code {doc.code!r} must be lower_snake_case")
        if doc.to is not None and doc.to not in lane_roles:
            add(f"document {doc.code!r} goes to {doc.to!r}, which is not a lane")

    # nodes
    nodes = list(process.iter_nodes())
    for name, count in sorted(Counter(n.name for n in nodes).items()):
        if count > 1:
            add(f"node name {name!r} is used {count} times (each task sits in exactly one lane)")
    for node in nodes:
        label = f"{node.kind} {node.name!r}" if not isinstance(node, Task) else f"task {node.name!r}"
        if not _NAME.match(node.name) or len(node.name) > MAX_NAME_LENGTH:
            add(f"{label}: name must be lower_snake_case, at most {MAX_NAME_LENGTH} characters")
        if node.lane not in lane_roles:
            add(f"{label} is in lane {node.lane!r}, which is not declared")
        if _blank(node.title):
            add(f"{label} has no title")
    for task in process.tasks:
        if task.kind not in ("task", "meeting"):
            add(f"task {task.name!r}: kind must be 'task' or 'meeting', not {task.kind!r}")
        for code in task.documents:
            if code not in doc_codes:
                add(f"task {task.name!r} produces unknown document {code!r}")
        if task.time_limit is not None and task.time_limit.total_seconds() <= 0:
            add(f"task {task.name!r}: time limit must be positive")
    if not process.ends:
        add("process has no end")

    # transitions
    by_name = {n.name: n for n in nodes}
    for i, t in enumerate(process.transitions):
        where = f"transition {t.source}->{t.target}" + (f" ({t.action})" if t.action else "")
        source, target = by_name.get(t.source), by_name.get(t.target)
        if source is None:
            add(f"{where}: unknown source {t.source!r}")
        if target is None:
            add(f"{where}: unknown target {t.target!r}")
        if isinstance(source, End):
            add(f"{where}: an end has no way out")
        if isinstance(target, Start):
            add(f"{where}: nothing leads back to the start")
        if isinstance(target, Decision):
            if t.action or t.by:
                add(f"{where}: an arrow into a decision carries no action; its outcomes do")
        elif source is not None and target is not None:
            if not t.action or not _NAME.match(t.action):
                add(f"{where}: needs an action name in lower_snake_case")
            if not t.by:
                add(f"{where}: says nobody may perform it (by=...)")
            if isinstance(source, Decision) and _blank(t.title):
                add(f"{where}: an outcome of decision {t.source!r} needs a title")
        for performer in t.by:
            if performer == OWNER:
                if process.owner is None:
                    add(f"{where}: performed by the owner, but the process declares no owner check")
            elif performer not in lane_roles:
                add(f"{where}: performer {performer!r} is not a lane of this process")
        for code in t.documents:
            if code not in doc_codes:
                add(f"{where}: unknown document {code!r}")
        for other in process.transitions[:i]:
            if (other.source, other.target, other.action) == (t.source, t.target, t.action):
                add(f"{where}: declared twice")
                break

    if problems:  # the graph checks below assume the names resolve
        return problems

    for decision in process.decisions:
        outs = process.outgoing(decision.name)
        if len(outs) < 2:
            add(f"decision {decision.name!r} needs at least two outcomes, has {len(outs)}")
        if not process.incoming(decision.name):
            add(f"decision {decision.name!r} has no way in")

    # every action is unambiguous from its state, and decisions do not loop on themselves
    for state in process.states:
        actions = Counter(r.action for r in process.routes_from(state))
        for action, count in sorted(actions.items()):
            if count > 1:
                add(f"state {state!r}: action {action!r} leads to {count} places")
    for decision in process.decisions:
        if _decision_cycle(process, decision.name):
            add(f"decision {decision.name!r} loops back to itself without a task in between")

    # reachability: from the start, and to an end
    forward = _reach(process, process.start.name, reverse=False)
    for node in nodes:
        if node.name not in forward:
            add(f"{node.kind} {node.name!r} cannot be reached from the start")
    backward: set[str] = set()
    for end in process.ends:
        backward |= _reach(process, end.name, reverse=True)
    for node in nodes:
        if node.name not in backward:
            add(f"{node.kind} {node.name!r} cannot reach an end")
    return problems


def _blank(label: Label) -> bool:
    """Whether a label is empty, without translating it (declarations load before i18n)."""
    return isinstance(label, str) and not label.strip()


def _reach(process: Process, origin: str, *, reverse: bool) -> set[str]:
    seen = {origin}
    stack = [origin]
    while stack:
        name = stack.pop()
        for t in process.transitions:
            here, there = (t.target, t.source) if reverse else (t.source, t.target)
            if here == name and there not in seen:
                seen.add(there)
                stack.append(there)
    return seen


def _decision_cycle(process: Process, origin: str) -> bool:
    stack = [t.target for t in process.outgoing(origin)]
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if name == origin:
            return True
        if name in seen or not isinstance(process.nodes.get(name), Decision):
            continue
        seen.add(name)
        stack.extend(t.target for t in process.outgoing(name))
    return False
