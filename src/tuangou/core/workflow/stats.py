"""Time per step (S7: find where the flow is slow), computed by the database.

From the transition log alone: a row that moves an object *to* a step starts a visit of that
step, and the object's next row (``LEAD(at) OVER (PARTITION BY object ORDER BY at, id)``)
ends it. Per step: visits that entered, visits that left, the median and 90th percentile of
the time spent by those that left (nearest-rank, from ``ROW_NUMBER()`` and ``COUNT()``
windows), how many wait there now and how many of those are past the step's time limit.

One SQL statement, the same on SQLite (3.25+) and PostgreSQL except for the expression
that turns two timestamps into seconds; no Python loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from .declaration import Decision, Process, Start
from .models import TransitionLog


@dataclass(frozen=True)
class StepStats:
    step: str
    title: str
    lane: str
    entered: int
    left: int
    waiting: int
    overdue: int
    late: int  # visits that left after the time limit
    median: timedelta | None
    p90: timedelta | None
    mean: timedelta | None
    time_limit: timedelta | None
    is_end: bool = False

    def as_dict(self) -> dict[str, Any]:
        def secs(value: timedelta | None) -> float | None:
            return None if value is None else value.total_seconds()

        return {
            "step": self.step,
            "title": self.title,
            "lane": self.lane,
            "entered": self.entered,
            "left": self.left,
            "waiting": self.waiting,
            "overdue": self.overdue,
            "late": self.late,
            "median_seconds": secs(self.median),
            "p90_seconds": secs(self.p90),
            "mean_seconds": secs(self.mean),
            "time_limit_seconds": secs(self.time_limit),
            "is_end": self.is_end,
        }


def _seconds_between(start: str, end: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({end} - {start}))"
    if connection.vendor == "sqlite":
        return f"((julianday({end}) - julianday({start})) * 86400.0)"
    raise NotImplementedError(f"step statistics are written for SQLite and PostgreSQL, not {connection.vendor}")


def step_sql(process: Process) -> tuple[str, list[Any]]:
    """The statement and its parameters (exposed for the benchmark and EXPLAIN)."""
    table = connection.ops.quote_name(TransitionLog._meta.db_table)
    limits = [(t.name, t.time_limit.total_seconds()) for t in process.tasks if t.time_limit is not None]
    params: list[Any] = []
    if limits:
        whens = " ".join("WHEN %s THEN %s" for _ in limits)
        limit_case = f"CASE step {whens} END"
    else:
        limit_case = "NULL"
    for name, secs in limits:
        params += [name, secs]
    # the limit expression appears twice (overdue, late): parameters in order of appearance
    secs_expr = _seconds_between("entered_at", "COALESCE(left_at, %s)")
    # only identifiers and fixed expressions are formatted in; every value is a parameter
    sql = f"""
WITH visits AS (
    SELECT to_state AS step, at AS entered_at,
           LEAD(at) OVER (PARTITION BY content_type_id, object_id ORDER BY at, id) AS left_at
    FROM {table}
    WHERE process = %s
),
durations AS (
    SELECT step,
           CASE WHEN left_at IS NULL THEN 0 ELSE 1 END AS done,
           {secs_expr} AS secs
    FROM visits
),
ranked AS (
    SELECT step, secs,
           ROW_NUMBER() OVER (PARTITION BY step ORDER BY secs) AS rn,
           COUNT(*) OVER (PARTITION BY step) AS n
    FROM durations
    WHERE done = 1
),
pct AS (
    SELECT step,
           MAX(CASE WHEN rn = (n + 1) / 2 THEN secs END) AS median,
           MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN secs END) AS p90
    FROM ranked
    GROUP BY step
),
counts AS (
    SELECT step,
           COUNT(*) AS entered,
           SUM(done) AS left_count,
           SUM(1 - done) AS waiting,
           SUM(CASE WHEN done = 0 AND secs > {limit_case} THEN 1 ELSE 0 END) AS overdue,
           SUM(CASE WHEN done = 1 AND secs > {limit_case} THEN 1 ELSE 0 END) AS late,
           AVG(CASE WHEN done = 1 THEN secs END) AS mean
    FROM durations
    GROUP BY step
)
SELECT c.step, c.entered, c.left_count, c.waiting, c.overdue, c.late, p.median, p.p90, c.mean
FROM counts c LEFT JOIN pct p ON p.step = c.step
"""  # noqa: S608
    return sql, params


def _params(process: Process, now: datetime) -> list[Any]:
    _sql, limit_params = step_sql(process)
    now_param = connection.ops.adapt_datetimefield_value(now)
    return [process.name, now_param, *limit_params, *limit_params]


def step_stats(process: Process, *, now: datetime | None = None) -> list[StepStats]:
    """Every resting step of `process` (start excluded), in declaration order."""
    now = now or timezone.now()
    sql, _limit_params = step_sql(process)
    with connection.cursor() as cursor:
        cursor.execute(sql, _params(process, now))
        rows = {row[0]: row[1:] for row in cursor.fetchall()}

    def td(value: Any) -> timedelta | None:
        return None if value is None else timedelta(seconds=round(float(value), 3))

    result = []
    for node in process.iter_nodes():
        if isinstance(node, Start | Decision):
            continue
        entered, left, waiting, overdue, late, median, p90, mean = rows.get(
            node.name, (0, 0, 0, 0, 0, None, None, None)
        )
        is_end = node.name in process.final_states
        result.append(
            StepStats(
                step=node.name,
                title=str(node.title),
                lane=node.lane,
                entered=int(entered or 0),
                left=int(left or 0),
                waiting=0 if is_end else int(waiting or 0),
                overdue=0 if is_end else int(overdue or 0),
                late=int(late or 0),
                median=td(median),
                p90=td(p90),
                mean=td(mean),
                time_limit=process.time_limit(node.name),
                is_end=is_end,
            )
        )
    return result


def slowest_first(stats: list[StepStats]) -> list[StepStats]:
    """Steps ordered by 90th percentile, then median, slowest first (ends last)."""
    return sorted(
        stats,
        key=lambda s: (
            s.is_end,
            -(s.p90.total_seconds() if s.p90 else -1),
            -(s.median.total_seconds() if s.median else -1),
            s.step,
        ),
    )
