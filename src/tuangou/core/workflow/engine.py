"""The engine: a model's state changes only by a declared transition, and every one is logged.

Bind a model's state to its process with `StateField`::

    class Order(models.Model):
        state = StateField(_("step"), process=SALES_ORDER)

and change it, from a service, with `transition`::

    transition(order, "dispatch", actor=user, documents={"invoice": "FP-0001"})

The field refuses direct assignment (``order.state = "closed"`` raises) and new rows start at
the process's start. `transition` locks the row (``select_for_update``), looks up the route
for the action from the row's *current* state, checks that the actor may perform it (their
roles, or ownership through the process's ``owner`` check, or ``actor=None`` for arrows the
platform's clock performs), writes the new state and one `TransitionLog` row, all in one
transaction. A refused transition raises the project's `AppError` with a stable code and
changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import NotSupportedError, connection, models, transaction
from django.db.models import signals
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tuangou.core.errors import AuthenticationFailed, Conflict, Forbidden, ValidationFailed
from tuangou.core.ownership import has_role

from .declaration import OWNER, SYSTEM, Process, Route
from .models import ProcessPosition, TransitionLog
from .registry import get as get_process
from .validate import MAX_NAME_LENGTH

_WRITABLE = "_workflow_writable"


class StateDescriptor:
    """Holds the state value; refuses any change outside the engine (and refresh_from_db)."""

    def __init__(self, field: StateField) -> None:
        self.field = field

    def __get__(self, instance: models.Model | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance.__dict__.get(self.field.attname)

    def __set__(self, instance: models.Model, value: Any) -> None:
        name = self.field.attname
        current = instance.__dict__
        if name in current and current[name] != value and not current.get(_WRITABLE):
            raise Conflict(
                _("The %(field)s changes only through a declared transition.") % {"field": self.field.verbose_name},
                code="transition_direct_change",
            )
        instance.__dict__[name] = value


@contextmanager
def _writable(instance: models.Model) -> Iterator[None]:
    instance.__dict__[_WRITABLE] = True
    try:
        yield
    finally:
        instance.__dict__.pop(_WRITABLE, None)


class StateField(models.CharField):  # type: ignore[type-arg]
    """A model's state, governed by one declared process.

    Choices and default come from the process (its start). Assigning it directly raises; a new
    row must start at the process's start.
    """

    description = "State governed by a declared process"

    def __init__(self, *args: Any, process: Process | str, **kwargs: Any) -> None:
        self.process_name = process if isinstance(process, str) else process.name
        if isinstance(process, Process):
            kwargs.setdefault("choices", process.state_choices)
            kwargs.setdefault("default", process.initial_state)
        kwargs.setdefault("max_length", MAX_NAME_LENGTH)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["process"] = self.process_name
        return name, path, args, kwargs

    @property
    def process(self) -> Process:
        return get_process(self.process_name)

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only=private_only)
        setattr(cls, self.attname, StateDescriptor(self))
        original = cls.refresh_from_db
        if not getattr(original, "_workflow_aware", False):

            def refresh_from_db(instance: models.Model, *args: Any, **kwargs: Any) -> None:
                with _writable(instance):
                    original(instance, *args, **kwargs)

            refresh_from_db._workflow_aware = True  # type: ignore[attr-defined]
            cls.refresh_from_db = refresh_from_db  # type: ignore[method-assign,assignment]
        if not cls._meta.abstract:
            signals.pre_save.connect(self._check_new_row, sender=cls, weak=False)

    def _check_new_row(self, sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
        """A new row starts at the process's start (checked before any SQL is sent)."""
        if instance._state.adding and not instance.__dict__.get(_WRITABLE):
            start = self.process.initial_state
            if getattr(instance, self.attname) != start:
                raise Conflict(
                    _("A new record starts at “%(state)s”.") % {"state": start},
                    code="transition_direct_change",
                )


def state_fields(model: type[models.Model] | models.Model) -> list[StateField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, StateField)]


def _field_and_process(
    obj: models.Model, field: str | None, process: Process | None
) -> tuple[models.Field[Any, Any], Process]:
    fields = state_fields(obj)
    if field is None:
        if len(fields) != 1:
            raise TypeError(f"{type(obj).__name__} has {len(fields)} state fields; say which with field=")
        chosen: models.Field[Any, Any] = fields[0]
    else:
        chosen = obj._meta.get_field(field)  # type: ignore[assignment]
    if process is None:
        if not isinstance(chosen, StateField):
            raise TypeError(f"{type(obj).__name__}.{chosen.name} is not a StateField; pass process=")
        process = chosen.process
    return chosen, process


def allowed(route: Route, process: Process, obj: Any, actor: Any) -> bool:
    """Whether `actor` may perform `route` on `obj` (actor None: the platform itself)."""
    if actor is None:
        return SYSTEM in route.by
    if not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", False):
        return False
    roles = [r for r in route.by if r not in (OWNER, SYSTEM)]
    if roles and has_role(actor, *roles):
        return True
    return OWNER in route.by and process.owner is not None and bool(process.owner(obj, actor))


def available_actions(obj: models.Model, actor: Any, *, field: str | None = None) -> list[Route]:
    """The routes `actor` may take from `obj`'s current state (for buttons and the API)."""
    chosen, process = _field_and_process(obj, field, None)
    state = getattr(obj, chosen.attname)
    return [r for r in process.routes_from(state) if allowed(r, process, obj, actor)]


Documents = Mapping[str, Any] | Sequence[str]


def _documents(route: Route, process: Process, documents: Documents | None) -> dict[str, Any]:
    """Check the attached documents; ``{code: reference or None}`` for the log."""
    if not documents:
        return {}
    if isinstance(documents, Mapping):
        items: dict[str, Any] = {str(k): v for k, v in documents.items()}
    else:
        items = dict.fromkeys(documents)
    permitted: set[str] = set()
    source_task = process.task(route.source)
    if source_task is not None:
        permitted |= set(source_task.documents)
    for t in route.transitions:
        permitted |= set(t.documents)
    unknown = sorted(code for code in items if code not in permitted)
    if unknown:
        raise ValidationFailed.field(
            "documents",
            _("These documents do not belong to this step: %(codes)s.") % {"codes": ", ".join(unknown)},
            code="transition_document_unknown",
        )
    return {code: (None if ref is None else str(ref)) for code, ref in sorted(items.items())}


def transition(
    obj: models.Model,
    action: str,
    *,
    actor: Any,
    note: str = "",
    documents: Documents | None = None,
    field: str | None = None,
    process: Process | None = None,
) -> TransitionLog:
    """Perform `action` on `obj` as `actor`; return the log row.

    Refuses, changing nothing: an action not declared from the current state (``Conflict``,
    code ``transition_not_allowed``); an actor without the lane's role and not the owner where
    the owner may (``Forbidden``, ``transition_forbidden``); a recorded exception without a
    note (``ValidationFailed``, ``transition_note_required``); documents the step does not
    produce (``transition_document_unknown``). Two people racing: the row lock makes the
    second see the first's result, and its action is judged from there.
    """
    chosen, proc = _field_and_process(obj, field, process)
    model = type(obj)
    with transaction.atomic():
        locked = model._default_manager.select_for_update().get(pk=obj.pk)
        current = getattr(locked, chosen.attname)
        route = proc.route(current, action)
        if route is None:
            raise Conflict(
                _("“%(action)s” is not possible at “%(state)s”.")
                % {"action": action, "state": _state_title(proc, current)},
                code="transition_not_allowed",
            )
        if actor is not None and not getattr(actor, "is_authenticated", False):
            raise AuthenticationFailed()
        if not allowed(route, proc, locked, actor):
            raise Forbidden(
                _("You may not “%(action)s” here.") % {"action": route.title},
                code="transition_forbidden",
            )
        note = (note or "").strip()
        if route.note_required and not note:
            raise ValidationFailed.field(
                "note", _("This is an exception to the rule: say why."), code="transition_note_required"
            )
        docs = _documents(route, proc, documents)
        content_type = ContentType.objects.get_for_model(model)
        at = timezone.now()
        key = {"process": proc.name, "content_type": content_type, "object_id": obj.pk}
        # when the object entered the step it now leaves (nothing is measured at the start)
        entered_at = (
            None
            if current == proc.initial_state
            else ProcessPosition.objects.filter(**key).values_list("since", flat=True).first()
        )
        model._default_manager.filter(pk=obj.pk).update(**{chosen.attname: route.target})
        if not ProcessPosition.objects.filter(**key).update(state=route.target, since=at):
            ProcessPosition.objects.create(**key, state=route.target, since=at)
        log = TransitionLog.objects.create(
            process=proc.name,
            content_type=content_type,
            object_id=obj.pk,
            from_state=current,
            to_state=route.target,
            action=action,
            actor=actor,
            at=at,
            entered_at=entered_at,
            waited=None if entered_at is None else max((at - entered_at).total_seconds(), 0.0),
            note=note,
            documents=docs,
        )
    with _writable(obj):
        setattr(obj, chosen.attname, route.target)
    return log


def history(obj: models.Model, *, process: str | None = None) -> models.QuerySet[TransitionLog]:
    """`obj`'s transitions, oldest first (with the actors, in one query)."""
    qs = TransitionLog.objects.for_object(obj).select_related("actor")
    if process is not None:
        qs = qs.filter(process=process)
    return qs.order_by("at", "id")


def _state_title(process: Process, state: str) -> str:
    node = process.nodes.get(state)
    return str(node.title) if node is not None else state


# --------------------------------------------------------------------------------------------
# Many objects at once

BULK_BATCH = 1000


@dataclass(frozen=True)
class Moved:
    """What `transition_many` did: the keys it moved and the keys asked for that it left alone
    (not at the action's source, or not in the queryset), each in key order."""

    moved: list[int]
    skipped: list[int]


def _lane_allows(route: Route, actor: Any) -> bool:
    """`actor` may take `route` by a role of its lane (``None``: the platform): no object needed."""
    if actor is None:
        return SYSTEM in route.by
    if not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", False):
        return False
    roles = [r for r in route.by if r not in (OWNER, SYSTEM)]
    return bool(roles) and has_role(actor, *roles)


def transition_many(
    objects: type[models.Model] | models.QuerySet[Any],
    action: str,
    *,
    ids: Iterable[int] | None = None,
    actor: Any = None,
    note: str = "",
    documents: Documents | None = None,
    source: str | None = None,
    field: str | None = None,
    process: Process | None = None,
    batch_size: int = BULK_BATCH,
) -> Moved:
    """Perform `action` on many objects, as `transition` would on each; return what moved.

    `objects` is a model or a queryset of it; `ids` the primary keys to move (``None``: every
    row of the queryset at the source). Rows whose state is the action's source (any of its
    sources; `source=` picks one) move; the others are left alone and reported in
    ``Moved.skipped``. A row never moves twice, however many callers race for it.

    The declaration, the actor's lane, the note and the documents are judged once, before
    anything is written; a refusal raises what `transition` raises and changes nothing. Where
    the owner may act and the actor has none of the lane's roles, every row's ownership is
    checked and one stranger's row refuses the whole call. Then, per batch of `batch_size`
    keys in key order: one ``SELECT … ORDER BY pk FOR UPDATE`` (locks taken in key order, so
    two callers never deadlock), one guarded ``UPDATE … WHERE pk IN … AND state = <source>
    RETURNING pk`` per source, one ``INSERT … SELECT`` of the log rows (when each object
    entered the step it leaves and how long it stayed, computed in SQL from its
    `ProcessPosition`, as `transition` computes them) and one upsert of the positions (on
    PostgreSQL the three are one statement, the two ``INSERT``s ``WITH`` parts). The log
    rows are `transition`'s, field for field, except that one call's rows share one time; the
    step statistics cannot tell the paths apart. All in one transaction (the caller's, if any).
    """
    model: type[models.Model] = objects if isinstance(objects, type) else objects.model
    queryset = model._default_manager.all() if isinstance(objects, type) else objects
    chosen, proc = _field_and_process(model, field, process)  # type: ignore[arg-type]
    state = chosen.attname
    routes = {r.source: r for r in proc.routes if r.action == action and source in (None, r.source)}
    if not routes:
        raise Conflict(
            _("“%(action)s” is not possible at “%(state)s”.")
            % {"action": action, "state": _state_title(proc, source or "")},
            code="transition_not_allowed",
        )
    owners_decide, note, docs = _judge(proc, list(routes.values()), actor, note, documents)
    content_type = ContentType.objects.get_for_model(model)
    sources = tuple(routes)
    lock_of: tuple[str, ...] = ("self",) if connection.features.has_select_for_update_of else ()
    moved: list[int] = []
    skipped: list[int] = []
    with transaction.atomic():
        writer = _BulkWriter(proc, content_type.pk, action, actor, timezone.now(), note, docs)
        for batch, locked in _locked_batches(queryset, ids, state, sources, max(1, batch_size), lock_of):
            for current in owners_decide:
                _check_owners(model, proc, routes[current], actor, [pk for pk, s in locked.items() if s == current])
            by_source: dict[str, list[int]] = {}
            for pk, current in locked.items():
                by_source.setdefault(current, []).append(pk)
            done: set[int] = set()
            for current, pks in by_source.items():
                done.update(writer.move(model, str(chosen.column), routes[current], pks))
            moved += sorted(done)
            if ids is not None:
                skipped += [pk for pk in batch if pk not in done]
    return Moved(moved=moved, skipped=skipped)


def transition_row(
    obj: models.Model,
    action: str,
    *,
    source: str | None = None,
    actor: Any = None,
    note: str = "",
    documents: Documents | None = None,
    values: Mapping[str, Any] | None = None,
    field: str | None = None,
    process: Process | None = None,
) -> bool:
    """Perform `action` on the one row of `obj` if it is at the action's source; return whether
    it moved. The one-object path of `transition_many` (``ids=[obj.pk]``), for a service that
    decides a race by the state itself (verifying a voucher, paying an order): two callers at
    the same moment, exactly one moves the row, the other gets False and nothing is written.

    `source` picks the route where the action leaves several states (required then). `values`
    (field name or attname: value; a model instance for a foreign key) are written in the same
    ``UPDATE`` as the state, as ``QuerySet.update`` writes them (no ``save()``, no signals):
    the columns that go with the move (``used_at``, ``paid_at`` …). Judged like
    `transition_many` before anything is written, raising what it raises: the declaration, the
    actor's lane (roles, or ``actor=None`` for the platform's arrows), the note and the
    documents; where only the owner may act, the row is locked at the source and its owner
    checked first. Then one guarded ``UPDATE … WHERE pk = %s AND state = <source> RETURNING``,
    the log row (with when the object entered the step it leaves and how long it stayed, as
    `transition` writes it) and the position upsert: one statement on PostgreSQL (three on
    SQLite), no ``SELECT … FOR UPDATE`` and no savepoint (a failing statement fails the
    caller's transaction). Call inside the service's transaction to keep the move with the
    service's other writes; on its own it is its own transaction. When the row moved, `obj`
    holds the new state and `values`.
    """
    model = type(obj)
    chosen, proc = _field_and_process(obj, field, process)
    routes = [r for r in proc.routes if r.action == action and source in (None, r.source)]
    if not routes:
        raise Conflict(
            _("“%(action)s” is not possible at “%(state)s”.")
            % {"action": action, "state": _state_title(proc, source or "")},
            code="transition_not_allowed",
        )
    if len(routes) > 1:
        raise TypeError(f"{proc.name}: {action!r} leaves {len(routes)} states; say which with source=")
    route = routes[0]
    owners_decide, note, docs = _judge(proc, routes, actor, note, documents)
    fields: list[tuple[models.Field[Any, Any], Any]] = []
    for name, value in (values or {}).items():
        f = model._meta.get_field(name)
        if not isinstance(f, models.Field) or not f.concrete:
            raise TypeError(f"{model.__name__}.{name} is not a column")
        fields.append((f, value))
    if any(f is chosen for f, _value in fields):
        raise TypeError(f"{chosen.attname} is written by the engine, not given")
    columns = [
        (str(f.column), f.get_db_prep_save(value.pk if isinstance(value, models.Model) else value, connection))
        for f, value in fields
    ]
    content_type = ContentType.objects.get_for_model(model)
    stranger = moved = False
    with transaction.atomic(savepoint=False):
        if owners_decide:
            locked = (
                model._default_manager.select_for_update().filter(pk=obj.pk, **{chosen.attname: route.source}).first()
            )
            if locked is None:
                return False
            stranger = not proc.owner(locked, actor)  # type: ignore[misc]
        if not stranger:
            writer = _BulkWriter(proc, content_type.pk, action, actor, timezone.now(), note, docs)
            moved = bool(writer.move(model, str(chosen.column), route, [int(obj.pk)], columns))
    if stranger:  # raised outside the block: nothing was written, the caller's transaction stays usable
        raise Forbidden(_("You may not “%(action)s” here.") % {"action": route.title}, code="transition_forbidden")
    if moved:
        with _writable(obj):
            setattr(obj, chosen.attname, route.target)
        for f, value in fields:
            setattr(obj, f.name if isinstance(value, models.Model) else f.attname, value)
    return moved


def create_in_state(
    objs: Sequence[models.Model],
    action: str,
    *,
    actor: Any = None,
    note: str = "",
    documents: Documents | None = None,
    field: str | None = None,
    process: Process | None = None,
    batch_size: int = BULK_BATCH,
) -> list[models.Model]:
    """Create new objects that take `action` from the start at once (vouchers: created, then
    issued): one ``INSERT`` of the rows already at the action's target per batch, their log rows
    and positions as `transition_many` writes them. The same rows, log and positions as
    ``bulk_create`` at the start followed by `transition_many`, without updating every row
    again. Judged like `transition` before anything is written (the owner check on each object).
    All or nothing: a failing insert (a duplicate key) raises and leaves the objects at the start.
    """
    if not objs:
        return []
    model = type(objs[0])
    chosen, proc = _field_and_process(objs[0], field, process)
    route, note, docs = _judge_creation(proc, action, objs, actor, note, documents)
    if not connection.features.can_return_rows_from_bulk_insert:  # pragma: no cover - PostgreSQL, SQLite ≥ 3.35
        # MySQL/MariaDB lack INSERT … RETURNING; the project supports PostgreSQL and SQLite only.
        raise NotSupportedError("create_in_state needs INSERT … RETURNING (PostgreSQL, SQLite ≥ 3.35)")
    content_type = ContentType.objects.get_for_model(model)
    given = [obj.pk for obj in objs]
    for obj in objs:
        if getattr(obj, chosen.attname) != proc.initial_state or not obj._state.adding:
            raise Conflict(
                _("A new record starts at “%(state)s”.") % {"state": proc.initial_state},
                code="transition_direct_change",
            )
        with _writable(obj):
            setattr(obj, chosen.attname, route.target)
    try:
        with transaction.atomic():
            writer = _BulkWriter(proc, content_type.pk, action, actor, timezone.now(), note, docs)
            for i in range(0, len(objs), max(1, batch_size)):
                batch = model._default_manager.bulk_create(objs[i : i + max(1, batch_size)])
                writer.record(route, sorted(int(obj.pk) for obj in batch))
    except BaseException:
        for obj, pk in zip(objs, given, strict=True):
            with _writable(obj):
                setattr(obj, chosen.attname, proc.initial_state)
            obj.pk = pk
            obj._state.adding = True
        raise
    return list(objs)


def create_rows_in_state(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    action: str,
    *,
    actor: Any = None,
    note: str = "",
    documents: Documents | None = None,
    field: str | None = None,
    process: Process | None = None,
    batch_size: int = BULK_BATCH,
) -> list[int]:
    """`create_in_state` for many rows given as plain values, no model instance per row: the
    values of `columns` (attnames; not the state, which the engine writes) for each new row.
    Returns the new keys in the order given.

    Per batch of `batch_size`: the rows go in already at the action's target with
    `core.bulk.insert_rows` (``COPY`` on PostgreSQL), then their log rows and positions as
    `transition_many` writes them (``INSERT … SELECT`` over the new keys). Judged like
    `create_in_state` before anything is written; all or nothing (a duplicate key raises
    ``IntegrityError`` and no row, log row or position of the call stays).
    """
    from tuangou.core.bulk import insert_rows

    if not rows:
        return []
    chosen, proc = _field_and_process(model, field, process)  # type: ignore[arg-type]
    if chosen.attname in columns:
        raise TypeError(f"{chosen.attname} is written by the engine, not given")
    new = (model(**dict(zip(columns, row, strict=True))) for row in rows)  # built only if owners decide
    route, note, docs = _judge_creation(proc, action, new, actor, note, documents)
    content_type = ContentType.objects.get_for_model(model)
    named = [*columns, chosen.attname]
    keys: list[int] = []
    size = max(1, batch_size)
    with transaction.atomic():
        writer = _BulkWriter(proc, content_type.pk, action, actor, timezone.now(), note, docs)
        for i in range(0, len(rows), size):
            made = insert_rows(model, named, [(*row, route.target) for row in rows[i : i + size]])
            writer.record(route, sorted(made), fresh=True)
            keys += made
    return keys


def _judge_creation(
    proc: Process, action: str, objs: Iterable[models.Model], actor: Any, note: str, documents: Documents | None
) -> tuple[Route, str, dict[str, Any]]:
    """The checks of creating objects that take `action` from the start: the route from the
    initial state, `_judge`'s, and the owner check on each object where ownership decides."""
    route = proc.route(proc.initial_state, action)
    if route is None:
        raise Conflict(
            _("“%(action)s” is not possible at “%(state)s”.")
            % {"action": action, "state": _state_title(proc, proc.initial_state)},
            code="transition_not_allowed",
        )
    owners_decide, note, docs = _judge(proc, [route], actor, note, documents)
    if owners_decide and not all(proc.owner(obj, actor) for obj in objs):  # type: ignore[misc]
        raise Forbidden(_("You may not “%(action)s” here.") % {"action": route.title}, code="transition_forbidden")
    return route, note, docs


def _judge(
    proc: Process, routes: list[Route], actor: Any, note: str, documents: Documents | None
) -> tuple[set[str], str, dict[str, Any]]:
    """`transition`'s checks, once for many objects: the sources where each row's ownership
    still decides, the note, the documents. Raises what `transition` raises."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        raise AuthenticationFailed()
    owners_decide: set[str] = set()
    for route in routes:
        if _lane_allows(route, actor):
            continue
        if OWNER in route.by and proc.owner is not None and actor is not None and actor.is_active:
            owners_decide.add(route.source)
            continue
        raise Forbidden(_("You may not “%(action)s” here.") % {"action": route.title}, code="transition_forbidden")
    note = (note or "").strip()
    if not note and any(r.note_required for r in routes):
        raise ValidationFailed.field(
            "note", _("This is an exception to the rule: say why."), code="transition_note_required"
        )
    docs: dict[str, Any] = {}
    for route in routes:
        docs = _documents(route, proc, documents)
    return owners_decide, note, docs


def _locked_batches(
    queryset: models.QuerySet[Any],
    ids: Iterable[int] | None,
    state: str,
    sources: tuple[str, ...],
    size: int,
    lock_of: tuple[str, ...],
) -> Iterator[tuple[list[int], dict[int, str]]]:
    """`size` keys at a time in key order, and those of them at a source, locked in key order
    with their state. Given `ids`, the keys asked for; else the queryset's rows at a source,
    walked by key (not offset), the page's select taking the locks."""
    at_source = queryset.filter(**{f"{state}__in": sources}).order_by("pk").select_for_update(of=lock_of)
    if ids is not None:
        wanted = sorted(set(ids))
        for i in range(0, len(wanted), size):
            batch = wanted[i : i + size]
            yield batch, dict(at_source.filter(pk__in=batch).values_list("pk", state))
        return
    after = None
    while True:
        page = at_source if after is None else at_source.filter(pk__gt=after)
        locked = dict(page.values_list("pk", state)[:size])
        if not locked:
            return
        batch = list(locked)
        after = batch[-1]
        yield batch, locked


def _check_owners(model: type[models.Model], proc: Process, route: Route, actor: Any, pks: list[int]) -> None:
    if proc.owner is None:  # pragma: no cover - owners_decide holds only sources with an owner check
        return
    for obj in model._default_manager.filter(pk__in=pks).iterator():
        if not proc.owner(obj, actor):
            raise Forbidden(_("You may not “%(action)s” here.") % {"action": route.title}, code="transition_forbidden")


class _BulkWriter:
    """The statements that move one batch at one source: the state, the log rows, the positions
    (on PostgreSQL one statement: the guarded ``UPDATE`` and the two ``INSERT``s as data-modifying
    ``WITH`` parts, which all see the positions as they were before it)."""

    def __init__(self, proc: Process, content_type_id: int, action: str, actor: Any, at: Any, note: str, docs: Any):
        self.proc = proc
        self.content_type_id = content_type_id
        self.action = action
        self.actor_id = None if actor is None else actor.pk
        self.at = TransitionLog._meta.get_field("at").get_db_prep_save(at, connection)
        self.note = note
        self.documents = TransitionLog._meta.get_field("documents").get_db_prep_save(docs, connection)
        self.pg = connection.vendor == "postgresql"

    def _keys(self, pks: list[int]) -> tuple[str, list[Any]]:
        """A table expression `m(id)` of the keys, from one parameter."""
        if self.pg:  # one text literal: quicker to send than an array of parameters
            return "unnest(%s::bigint[]) AS m(id)", ["{" + ",".join(str(int(pk)) for pk in pks) + "}"]
        return "(SELECT value AS id FROM json_each(%s)) AS m", [json.dumps(pks)]

    def move(
        self,
        model: type[models.Model],
        column: str,
        route: Route,
        pks: list[int],
        values: Sequence[tuple[str, Any]] = (),
    ) -> list[int]:
        """Move those of `pks` still at `route`'s source, writing `values` (column, database
        value) in the same ``UPDATE``; return the keys moved, in order."""
        q = connection.ops.quote_name
        table, pk_column, column = q(model._meta.db_table), q(str(model._meta.pk.column)), q(column)  # type: ignore[union-attr]
        sets = "".join(f", {q(name)} = %s" for name, _value in values)
        if len(pks) == 1:
            where, where_params = f"{pk_column} = %s", [pks[0]]
        else:
            keys, keys_params = self._keys(pks)
            where, where_params = f"{pk_column} IN (SELECT id FROM {keys})", keys_params  # noqa: S608
        update = (
            f"UPDATE {table} SET {column} = %s{sets} WHERE {where} AND {column} = %s "  # noqa: S608
            f"RETURNING {pk_column} AS id"
        )
        update_params = [route.target, *(value for _name, value in values), *where_params, route.source]
        with connection.cursor() as cursor:
            if not self.pg:
                cursor.execute(update, update_params)
                moved = sorted(row[0] for row in cursor.fetchall())
                if moved:
                    self.record(route, moved)
                return moved
            log, log_params = self._log_insert(route, ("moved AS m", []))
            positions, positions_params = self._positions_insert(route, ("moved AS m", []), fresh=False)
            cursor.execute(
                f"WITH moved AS ({update}), logged AS ({log}), placed AS ({positions}) SELECT id FROM moved",  # noqa: S608
                [*update_params, *log_params, *positions_params],
            )
            return sorted(row[0] for row in cursor.fetchall())

    def record(self, route: Route, pks: list[int], *, fresh: bool = False) -> None:
        """The log rows and the positions of objects that have just taken `route`; `fresh`: rows
        just created with keys from the table's sequence, which can have no position yet."""
        keys = self._keys(pks)
        with connection.cursor() as cursor:
            cursor.execute(*self._log_insert(route, keys))
            cursor.execute(*self._positions_insert(route, keys, fresh=fresh))

    def _cast(self, sql: str, pg_type: str) -> str:
        return f"{sql}::{pg_type}" if self.pg else sql

    def _log_insert(self, route: Route, keys: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
        """The ``INSERT … SELECT`` of the log rows of the keys `keys` (a table expression `m(id)`
        and its parameters): when each object entered the step it leaves and how long it stayed,
        from its position (nothing is measured at the start)."""
        q = connection.ops.quote_name
        log, positions = q(TransitionLog._meta.db_table), q(ProcessPosition._meta.db_table)
        keys_sql, keys_params = keys
        cast = self._cast
        if route.source == self.proc.initial_state:
            rows, rows_params, entered, waited, at_twice = keys_sql, keys_params, "NULL", "NULL", False
        else:
            # one index look-up per key on (process, content_type, object_id): a correlated
            # subquery, never planned as a scan of the process's positions whatever the statistics
            # (OFFSET 0: evaluated once per key, not once per use of `since` below)
            fence = " OFFSET 0" if self.pg else ""
            rows = (
                f"(SELECT m.id, (SELECT p.since FROM {positions} p WHERE p.process = %s "  # noqa: S608
                f"AND p.content_type_id = %s AND p.object_id = m.id) AS since FROM {keys_sql}{fence}) m"
            )
            rows_params = [self.proc.name, self.content_type_id, *keys_params]
            entered, at_twice = "m.since", True
            if self.pg:
                seconds = "EXTRACT(EPOCH FROM (%s::timestamptz - m.since))::double precision"
            else:
                seconds = "django_timestamp_diff(%s, m.since) / 1000000.0"
            waited = f"(CASE WHEN m.since IS NULL THEN NULL WHEN {seconds} < 0 THEN 0.0 ELSE {seconds} END)"
        sql = (
            f"INSERT INTO {log} (process, content_type_id, object_id, from_state, to_state, action, "  # noqa: S608
            "actor_id, at, entered_at, waited, note, documents) "
            f"SELECT %s, %s, m.id, %s, %s, %s, {cast('%s', 'bigint')}, {cast('%s', 'timestamptz')}, "
            f"{cast(entered, 'timestamptz')}, {cast(waited, 'double precision')}, %s, %s "
            f"FROM {rows} ORDER BY m.id"
        )
        params = [
            self.proc.name,
            self.content_type_id,
            route.source,
            route.target,
            self.action,
            self.actor_id,
            self.at,
            *([self.at, self.at] if at_twice else []),
            self.note,
            self.documents,
            *rows_params,
        ]
        return sql, params

    def _positions_insert(self, route: Route, keys: tuple[str, list[Any]], *, fresh: bool) -> tuple[str, list[Any]]:
        """The upsert of the positions of the keys `keys` (an ``INSERT`` where they are `fresh`)."""
        positions = connection.ops.quote_name(ProcessPosition._meta.db_table)
        keys_sql, keys_params = keys
        upsert = (
            ""
            if fresh
            else " WHERE true ON CONFLICT (process, content_type_id, object_id) "
            "DO UPDATE SET state = excluded.state, since = excluded.since"
        )
        sql = (
            f"INSERT INTO {positions} (process, content_type_id, object_id, state, since) "  # noqa: S608
            f"SELECT %s, %s, m.id, %s, {self._cast('%s', 'timestamptz')} FROM {keys_sql}{upsert}"
        )
        return sql, [self.proc.name, self.content_type_id, route.target, self.at, *keys_params]
