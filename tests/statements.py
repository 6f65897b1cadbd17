"""The SQL statements run inside a block, through `connection.execute_wrapper` (unlike
CaptureQueriesContext, it survives the test client's request_started resetting
connection.queries)."""

from __future__ import annotations

from typing import Any

from django.db import connection


class Statements:
    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.sql.append(sql)
        return execute(sql, params, many, context)

    def __enter__(self) -> Statements:
        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._wrapper.__exit__(*exc)

    def on(self, table: str) -> list[str]:
        """Those that name `table`."""
        return [sql for sql in self.sql if table in sql]
