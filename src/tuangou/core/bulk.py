"""Many new rows of one table at once, the quickest way the database allows (the one vendor switch).

PostgreSQL: the new keys are drawn from the table's own sequence first (one query), then the
rows go in with ``COPY … FROM STDIN`` (psycopg 3), several times quicker than ``INSERT`` for
thousands of rows and with no model instance per row. Elsewhere (SQLite: development and the
tests): ``bulk_create``, which returns the keys with ``INSERT … RETURNING``.

Either way the rows are written in the caller's transaction, all or none: a duplicate key
raises ``IntegrityError`` and nothing of the call stays.

`insert_one`: one new row written on every request (an order, an audit row, an SMS in the
outbox) in one plain ``INSERT … RETURNING``, without the rest of ``save()``'s work.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import NotSupportedError, connection, connections, models, router
from django.db.models import signals
from django.db.models.fields import NOT_PROVIDED
from django.utils import timezone


def _prepare(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """How a value of `field` is handed to COPY: JSON is encoded here, anything else psycopg
    adapts as it is (str, int, bool, Decimal, date, aware datetime, None)."""
    if isinstance(field, models.JSONField):
        encoder = field.encoder

        def encode(value: Any) -> Any:
            return None if value is None else json.dumps(value, cls=encoder)

        return encode
    return None


def _defaults(
    model: type[models.Model], columns: Sequence[str]
) -> tuple[list[models.Field[Any, Any]], tuple[Any, ...]]:
    """The fields left out of `columns` and their values for every row: ``auto_now``/
    ``auto_now_add`` now, else what a new instance holds (a database default: left out)."""
    given = set(columns)
    now = timezone.now()
    fields: list[models.Field[Any, Any]] = []
    values: list[Any] = []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.attname in given or field.db_default is not NOT_PROVIDED:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value: Any = now
        else:  # the default, else "" for text, else None: what a new model instance holds
            value = field.get_default()
        prepare = _prepare(field)
        fields.append(field)
        values.append(prepare(value) if prepare else value)
    return fields, tuple(values)


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[int]:
    """Insert `rows` (the values of `columns`, field attnames such as ``order_id``, in that
    order) as new rows of `model`; return their primary keys in the order given.

    Fields left out take their default (computed once for all the rows; ``auto_now_add``: now).
    Values are written as given, not through each field's ``get_db_prep_save`` (JSON fields are
    encoded), so give them as the column stores them (money already a 2-place Decimal). No
    signal is sent and no ``save()`` runs, as with ``bulk_create``.
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objs = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        made = model._default_manager.bulk_create(objs)
        keys = [obj.pk for obj in made]
        if None in keys:  # pragma: no cover - SQLite ≥ 3.35 returns the keys
            raise NotSupportedError("insert_rows needs INSERT … RETURNING (PostgreSQL, SQLite ≥ 3.35)")
        return keys
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    fields = [by_attname[c] for c in columns]
    rest, defaults = _defaults(model, columns)
    pk = meta.pk
    if pk is None:  # pragma: no cover - every concrete model has one
        raise TypeError(f"{model.__name__} has no primary key")
    q = connection.ops.quote_name
    names = ", ".join(q(str(f.column)) for f in [pk, *fields, *rest])
    prepares = [(i, p) for i, p in enumerate(_prepare(f) for f in fields) if p is not None]
    with connection.cursor() as cursor:
        # keys from the table's sequence (an identity column has one too), in increasing order
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s) ORDER BY 1",
            [q(meta.db_table), pk.column, len(rows)],
        )
        keys = [int(row[0]) for row in cursor.fetchall()]
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(  # type: ignore[attr-defined]
                f"COPY {q(meta.db_table)} ({names}) FROM STDIN"
            ) as copy,
        ):
            for key, row in zip(keys, rows, strict=True):
                if prepares:
                    row = list(row)
                    for i, prepare in prepares:
                        row[i] = prepare(row[i])
                copy.write_row((key, *row, *defaults))
    return keys


def insert_one(obj: models.Model) -> None:
    """Write the new instance `obj` with one plain ``INSERT … RETURNING`` and set its key: each
    field's value as ``save()`` prepares it (``pre_save``: ``auto_now_add``; then
    ``get_db_prep_save``), after the ``pre_save`` signal (the workflow engine's check that a new
    row starts at its process's start). None of the rest of ``save()``: no ``post_save``, no
    parent tables, no update of an existing row. About a third less CPU than ``save()`` for the
    rows written on every request (ADR 0016, 0017)."""
    alias, _fields, sql, params = insert_values(obj)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        obj.pk = cursor.fetchone()[0]
    obj._state.adding = False
    obj._state.db = alias


def insert_values(obj: models.Model) -> tuple[str, list[models.Field[Any, Any]], str, list[Any]]:
    """What `insert_one` writes for `obj`, without writing it: the database alias, the fields
    (every concrete field but the key), the ``INSERT … RETURNING`` and the fields' values as
    ``save()`` prepares them, after the ``pre_save`` signal. For a statement that writes the row
    as one part of more (a data-modifying ``WITH``, `orders.services`)."""
    model = type(obj)
    alias = router.db_for_write(model, instance=obj)
    conn = connections[alias]
    signals.pre_save.send(sender=model, instance=obj, raw=False, using=alias, update_fields=None)
    fields, sql = _insert_sql(model, alias)
    return alias, fields, sql, [f.get_db_prep_save(f.pre_save(obj, True), conn) for f in fields]


def insert_select(obj: models.Model, source: str, given: tuple[tuple[str, str], ...]) -> tuple[str, list[Any]]:
    """`insert_values` of the new `obj` as an ``INSERT … SELECT … FROM source`` (PostgreSQL; one
    row for each row of `source`, none if it has none), for a part of a data-modifying ``WITH``
    (`orders.services`). `given`: (column, SQL) for some columns (the key, a column of `source`)
    instead of the object's value. Returns the statement and its parameters."""
    alias, _fields, _sql, values = insert_values(obj)
    sql, taken = _insert_select_sql(type(obj), alias, source, given)
    return sql, [values[i] for i in taken]


@functools.cache
def _insert_select_sql(
    model: type[models.Model], alias: str, source: str, given: tuple[tuple[str, str], ...]
) -> tuple[str, list[int]]:
    """`insert_select`'s statement, and the indexes of the values it takes (of `insert_values`).
    Each parameter is cast to its column's type (not inferred in a ``SELECT``); text columns to
    text, so that a value too long still fails as it would in ``VALUES``."""
    conn = connections[alias]
    q = conn.ops.quote_name
    fields, _sql = _insert_sql(model, alias)  # the fields `insert_values` gives values for
    named = dict(given)
    names = [q(column) for column in named]
    exprs = list(named.values())
    taken = []
    for i, field in enumerate(fields):
        if field.column in named:
            continue
        names.append(q(str(field.column)))
        if field.get_internal_type() in ("CharField", "TextField", "SlugField", "EmailField"):
            cast = "text"
        else:
            cast = str(field.rel_db_type(conn) if field.is_relation else field.db_type(conn))
        exprs.append(f"%s::{cast}")
        taken.append(i)
    returning = _sql[_sql.rindex(" RETURNING ") :]  # the key, as `insert_one` returns it
    sql = (
        f"INSERT INTO {q(model._meta.db_table)} ({', '.join(names)}) SELECT {', '.join(exprs)} "  # noqa: S608
        f"FROM {source}{returning}"
    )
    return sql, taken


@functools.cache
def _insert_sql(model: type[models.Model], alias: str) -> tuple[list[models.Field[Any, Any]], str]:
    q = connections[alias].ops.quote_name
    pk = model._meta.pk
    if pk is None:  # pragma: no cover - every concrete model has one
        raise TypeError(f"{model.__name__} has no primary key")
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(q(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    return fields, f"INSERT INTO {q(model._meta.db_table)} ({columns}) VALUES ({marks}) RETURNING {q(str(pk.column))}"  # noqa: S608
