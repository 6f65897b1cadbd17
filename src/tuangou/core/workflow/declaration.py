"""A business process declared once, as plain data.

Seed answer 9 says what to know before drawing a flowchart: where the process starts and
ends, which roles take part (the swimlanes), what is done (a task or a meeting), whether each
step is required or optional, and which documents each step produces. A `Process` answers
exactly those questions, and everything else — the rules the engine enforces, the diagrams,
the step timings — is derived from it.

Vocabulary
----------
*node*
    a start event, an end event, a task or a decision. Every node has a `name` (an
    identifier) and sits in exactly one lane.
*state*
    the name of the node an object rests at: the start, a task (waiting to be done or being
    done) or an end. An object never rests at a decision; decisions only route.
*transition*
    an arrow between two nodes. Arrows between resting nodes carry an `action` (what the
    service calls, e.g. ``"dispatch"``) and who may perform it (`by`: role codes and/or
    ``OWNER``). An arrow *into* a decision carries nothing; the arrows *out of* a decision are
    its outcomes: each carries an action, its performers and a `title` (the outcome's label).
    So an action always leads from one state to the next, possibly through decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any, Literal

from django.utils.functional import Promise

#: A user-visible label: a plain string or a lazy translation (`gettext_lazy`).
Label = str | Promise

#: `Transition.by` value meaning "the object's owner", as decided by `Process.owner`.
OWNER = "owner"
#: `Transition.by` value (and lane role) of the platform itself, its clock: ``actor=None``.
SYSTEM = "system"

TaskKind = Literal["task", "meeting"]
NodeKind = Literal["start", "end", "task", "decision"]


@dataclass(frozen=True)
class Lane:
    """A swimlane: one role. `role` is a group code (`Role` value) or an external party."""

    role: str
    title: Label
    external: bool = False


@dataclass(frozen=True)
class Document:
    """A document a step produces (登記表, 發票 …). `to` names the lane that receives it."""

    code: str
    title: Label
    to: str | None = None


@dataclass(frozen=True)
class Start:
    name: str
    title: Label
    lane: str

    kind: NodeKind = field(default="start", init=False)


@dataclass(frozen=True)
class End:
    name: str
    title: Label
    lane: str

    kind: NodeKind = field(default="end", init=False)


@dataclass(frozen=True)
class Task:
    """A step someone performs: a task or a meeting, required or optional.

    `documents` are the codes of the documents the step produces; `time_limit` is how long an
    object may wait at this step before it counts as overdue.
    """

    name: str
    title: Label
    lane: str
    kind: TaskKind = "task"
    required: bool = True
    documents: tuple[str, ...] = ()
    time_limit: timedelta | None = None
    description: Label = ""


@dataclass(frozen=True)
class Decision:
    """An exclusive choice: exactly one of its outgoing transitions (outcomes) is taken."""

    name: str
    title: Label
    lane: str

    kind: NodeKind = field(default="decision", init=False)


Node = Start | End | Task | Decision


@dataclass(frozen=True)
class Transition:
    """An arrow. See the module docstring for which fields an arrow needs where.

    `by` lists the role codes allowed to perform the action, and/or ``OWNER``.
    `documents` are extra document codes that may be attached when performing it (the
    documents of the task being completed are always allowed). `note_required` marks a
    recorded exception (phone order instead of a written one): the actor must say why.
    """

    source: str
    target: str
    action: str = ""
    by: tuple[str, ...] = ()
    title: Label = ""
    documents: tuple[str, ...] = ()
    note_required: bool = False


@dataclass(frozen=True)
class Route:
    """What an action does from a state: the arrows it follows, through decisions if any."""

    action: str
    source: str
    target: str
    transitions: tuple[Transition, ...]

    @property
    def last(self) -> Transition:
        return self.transitions[-1]

    @property
    def by(self) -> tuple[str, ...]:
        return self.last.by

    @property
    def note_required(self) -> bool:
        return any(t.note_required for t in self.transitions)

    @property
    def title(self) -> Label:
        return self.last.title or self.action


OwnerCheck = Callable[[Any, Any], bool]


@dataclass(frozen=True)
class Process:
    """One business process, declared in its domain's ``process.py``.

    `owner`, if given, is ``owner(obj, user) -> bool``: whether `user` owns `obj` for
    transitions declared ``by=(OWNER,)``. `data_stores` are the model labels
    (``"salesdesk.Order"``) the process changes, for the data-flow diagram.
    """

    name: str
    title: Label
    lanes: tuple[Lane, ...]
    start: Start
    ends: tuple[End, ...]
    tasks: tuple[Task, ...]
    transitions: tuple[Transition, ...]
    decisions: tuple[Decision, ...] = ()
    documents: tuple[Document, ...] = ()
    data_stores: tuple[str, ...] = ()
    description: Label = ""
    owner: OwnerCheck | None = field(default=None, compare=False)

    # -- lookups ---------------------------------------------------------------------------

    @cached_property
    def nodes(self) -> dict[str, Node]:
        """Every node by name, in declaration order (start, tasks, decisions, ends)."""
        result: dict[str, Node] = {}
        for node in self.iter_nodes():
            result.setdefault(node.name, node)
        return result

    def iter_nodes(self) -> Iterator[Node]:
        yield self.start
        yield from self.tasks
        yield from self.decisions
        yield from self.ends

    def node(self, name: str) -> Node:
        return self.nodes[name]

    @cached_property
    def lane_by_role(self) -> dict[str, Lane]:
        return {lane.role: lane for lane in self.lanes}

    @cached_property
    def document_by_code(self) -> dict[str, Document]:
        return {doc.code: doc for doc in self.documents}

    @property
    def states(self) -> tuple[str, ...]:
        """The values an object's state can take: the start, the tasks and the ends."""
        return tuple(n.name for n in self.iter_nodes() if not isinstance(n, Decision))

    @property
    def state_choices(self) -> list[tuple[str, Label]]:
        """``choices`` for the model's state field."""
        return [(n.name, n.title) for n in self.iter_nodes() if not isinstance(n, Decision)]

    @property
    def initial_state(self) -> str:
        return self.start.name

    @property
    def final_states(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.ends)

    def outgoing(self, name: str) -> list[Transition]:
        return [t for t in self.transitions if t.source == name]

    def incoming(self, name: str) -> list[Transition]:
        return [t for t in self.transitions if t.target == name]

    def routes_from(self, state: str) -> list[Route]:
        """Every action possible from `state`, following arrows through decisions."""
        routes: list[Route] = []

        def walk(name: str, path: tuple[Transition, ...], seen: frozenset[str]) -> None:
            for t in self.outgoing(name):
                target = self.nodes.get(t.target)
                if isinstance(target, Decision):
                    if t.target not in seen:
                        walk(t.target, (*path, t), seen | {t.target})
                elif t.action:
                    routes.append(Route(t.action, state, t.target, (*path, t)))

        walk(state, (), frozenset())
        return routes

    def route(self, state: str, action: str) -> Route | None:
        for candidate in self.routes_from(state):
            if candidate.action == action:
                return candidate
        return None

    @cached_property
    def routes(self) -> tuple[Route, ...]:
        """Every (state, action) route of the process."""
        return tuple(r for s in self.states for r in self.routes_from(s))

    def task(self, name: str) -> Task | None:
        node = self.nodes.get(name)
        return node if isinstance(node, Task) else None

    def time_limit(self, state: str) -> timedelta | None:
        task = self.task(state)
        return task.time_limit if task else None
