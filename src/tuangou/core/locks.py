"""Transaction-scoped locks on a name, not on a row (PostgreSQL advisory locks).

Some rules are about a *range* of rows that do not exist yet: a settlement statement closes a
merchant's verifications up to its cut-off, and a verification still in flight must either
commit before the cut-off is taken or take its time after it (ADR 0014). No row stands for
that range, so the two sides meet on a named lock instead: the many side (verifications,
undos) holds it shared, and they never wait for each other; the one side (drafting a
statement) holds it exclusive, so it waits until every verification in flight has committed,
and the next ones wait for the drafting.

The lock ends with the transaction (``pg_advisory_xact_lock``); call inside ``atomic()``.
On SQLite there is nothing to take: a write transaction starts ``IMMEDIATE`` (settings), so
writers already run one at a time.
"""

from __future__ import annotations

import zlib

from django.db import connection


def _namespace(name: str) -> int:
    """A stable signed 32-bit number for `name` (the first key of the two-key lock)."""
    value = zlib.crc32(name.encode())
    return value - 2**32 if value >= 2**31 else value


def xact_lock(name: str, key: int, *, shared: bool = False) -> None:
    """Hold the lock (`name`, `key`) until the transaction ends; shared holders do not wait for
    each other, an exclusive holder waits for all and all wait for it."""
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise RuntimeError("xact_lock needs a transaction (transaction.atomic())")
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [_namespace(name), int(key)])
