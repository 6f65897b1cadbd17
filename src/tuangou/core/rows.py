"""Plain SQL reads on hot paths: a model's columns in a ``SELECT`` and its instances from a row.

A read that runs on every request (the bearer token, a join's read, the deal page) is one
plain parametrised statement rather than ORM querysets: building the querysets and their SQL
cost more CPU than the database spent answering them (ADR 0015, 0017). This is the one way to
write such a read:

    deal = Columns.of(Deal, "d", only=("title", "stock"))   # once per process (functools.cache)
    tier = Columns.of(DealTier, "t")
    sql = f"SELECT {deal.sql}, {tier.sql} FROM … d LEFT JOIN … t ON … WHERE d.id = %s"
    …
    obj = deal.instance(row, 0)                # Model.from_db, the ORM's converters applied
    tiers = [tier.instance(r, len(deal.names)) for r in rows]   # None where the LEFT JOIN found none
    keep_prefetched(obj, "tiers", [t for t in tiers if t is not None])

Identifiers come from the models' ``_meta``, quoted; every value stays a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model


@dataclass(frozen=True)
class Columns:
    """The concrete columns of `model` under a table alias (``alias.column, …`` in the model's
    field order, the key always included; with `only`, the others are deferred and read on first
    access, as ``.only()`` does), and the converters the ORM applies to each (SQLite returns
    datetimes and Decimals as text, booleans as 0/1, JSON as a string)."""

    model: type[Model]
    names: tuple[str, ...]  # attnames, in the order of `sql`
    sql: str
    pk: int  # the key's index in `names`
    converters: tuple[tuple[int, Any, tuple[Any, ...]], ...]  # index, Col, the backend's converters

    @classmethod
    def of(cls, model: type[Model], alias: str, only: Sequence[str] = ()) -> Columns:
        """Build once per process and keep (``functools.cache`` on the caller's statement)."""
        key = model._meta.pk
        fields = [f for f in model._meta.concrete_fields if f is key or not only or f.attname in only]
        qn = connection.ops.quote_name
        converters = []
        for i, field in enumerate(fields):
            col = field.get_col(alias)
            funcs = tuple(connection.ops.get_db_converters(col) + col.get_db_converters(connection))
            if funcs:
                converters.append((i, col, funcs))
        return cls(
            model,
            tuple(f.attname for f in fields),
            ", ".join(f"{alias}.{qn(str(f.column))}" for f in fields),
            fields.index(key),  # type: ignore[arg-type]
            tuple(converters),
        )

    def values(self, row: Sequence[Any], start: int = 0) -> list[Any]:
        """``row[start:…]``'s values of these columns, converted as the ORM converts them."""
        values = list(row[start : start + len(self.names)])
        for i, col, funcs in self.converters:
            for func in funcs:
                values[i] = func(values[i], col, connection)
        return values

    def instance(self, row: Sequence[Any], start: int = 0) -> Any:
        """The model instance of ``row[start:…]``, or None when its key is NULL (a LEFT JOIN
        that found nothing)."""
        if row[start + self.pk] is None:
            return None
        return self.model.from_db(connection.alias, list(self.names), self.values(row, start))


def keep_prefetched(instance: Model, name: str, objects: list[Any]) -> None:
    """Keep `objects`, read by the caller, as ``instance.<name>.all()`` (a reverse foreign key or
    a many-to-many), as ``prefetch_related(name)`` keeps them: no further query."""
    found = getattr(instance, name).model._default_manager.all()
    found._result_cache = objects
    found._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[name] = found
