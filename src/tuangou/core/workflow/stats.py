"""Time per step (S7: find where the flow is slow), computed by the database.

A row of the transition log that moves an object *to* a step starts a visit of that step;
the object's next row (``from_state`` = that step) ends it, and the engine writes on it when
the visit began (``entered_at``) and how long it lasted (``waited``). `ProcessPosition` holds,
per object, the step it is at now and since when. Per step:

- left = rows *from* the step; waiting now = positions at the step; entered = left + waiting;
- overdue now = positions at the step since before ``now − time limit``;
- late = visits that left after the time limit;
- median and 90th percentile (nearest rank) of the time spent by visits that left: on
  PostgreSQL ``percentile_disc`` (an ordered-set aggregate: one in-memory sort per step), on
  SQLite ``ROW_NUMBER()`` and ``COUNT()`` windows — the same ranks, checked by the same test
  on both.

One SQL statement; no Python loop over rows. It reads the log's step index once and the
positions once. (The first version found each visit's end at query time with ``LEAD(at) OVER
(PARTITION BY object ORDER BY at)``: over a million rows that is two full sorts and took
several seconds: see docs/adr/0005-workflow-engine.md.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .declaration import Decision, Process, Start
from .models import ProcessPosition, TransitionLog


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


def _steps(process: Process) -> list[str]:
    return [n.name for n in process.iter_nodes() if not isinstance(n, Start | Decision)]


def step_sql(process: Process, now: datetime) -> tuple[str, list[Any]]:
    """The statement and its parameters (exposed for the benchmark and EXPLAIN)."""
    log = connection.ops.quote_name(TransitionLog._meta.db_table)
    positions = connection.ops.quote_name(ProcessPosition._meta.db_table)
    limits = [(name, process.time_limit(name)) for name in _steps(process)]
    limited = [(name, limit) for name, limit in limits if limit is not None]
    seconds_params: list[Any] = []
    cutoff_params: list[Any] = []
    for name, limit in limited:
        seconds_params += [name, limit.total_seconds()]
        cutoff_params += [name, connection.ops.adapt_datetimefield_value(now - limit)]
    whens = " ".join("WHEN %s THEN %s" for _ in limited)

    def case(column: str) -> str:
        return f"CASE {column} {whens} END" if limited else "NULL"

    aggregates = f"""COUNT(*) AS n,
           SUM(CASE WHEN waited > {case("from_state")} THEN 1 ELSE 0 END) AS late,
           AVG(waited) AS mean"""
    if connection.vendor == "postgresql":
        # an ordered-set aggregate: one in-memory sort per step, four times faster than windows
        left_steps = f"""left_steps AS (
    SELECT step, n, late, mean, pct[1] AS median, pct[2] AS p90
    FROM (
        SELECT from_state AS step, {aggregates},
               percentile_disc(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY waited) AS pct
        FROM {log}
        WHERE process = %s AND waited IS NOT NULL
        GROUP BY from_state
    ) AS grouped
)"""  # noqa: S608
        left_params = [*seconds_params, process.name]
    else:
        # nearest rank from ROW_NUMBER() and COUNT() windows (SQLite has no percentile)
        left_steps = f"""ranked AS (
    SELECT from_state, waited,
           ROW_NUMBER() OVER (PARTITION BY from_state ORDER BY waited) AS rn,
           COUNT(*) OVER (PARTITION BY from_state) AS total
    FROM {log}
    WHERE process = %s AND waited IS NOT NULL
),
left_steps AS (
    SELECT from_state AS step, {aggregates},
           MAX(CASE WHEN rn = (total + 1) / 2 THEN waited END) AS median,
           MAX(CASE WHEN rn = (9 * total + 9) / 10 THEN waited END) AS p90
    FROM ranked
    GROUP BY from_state
)"""  # noqa: S608
        left_params = [process.name, *seconds_params]
    # only identifiers and fixed expressions are formatted in; every value is a parameter
    sql = f"""
WITH {left_steps},
here AS (
    SELECT state AS step,
           COUNT(*) AS waiting,
           SUM(CASE WHEN since < {case("state")} THEN 1 ELSE 0 END) AS overdue
    FROM {positions}
    WHERE process = %s
    GROUP BY state
),
steps AS (SELECT step FROM left_steps UNION SELECT step FROM here)
SELECT s.step,
       COALESCE(l.n, 0) + COALESCE(h.waiting, 0),
       COALESCE(l.n, 0),
       COALESCE(h.waiting, 0),
       COALESCE(h.overdue, 0),
       COALESCE(l.late, 0), l.median, l.p90, l.mean
FROM steps s
LEFT JOIN left_steps l ON l.step = s.step
LEFT JOIN here h ON h.step = s.step
"""  # noqa: S608
    return sql, [*left_params, *cutoff_params, process.name]


def step_stats(process: Process, *, now: datetime | None = None) -> list[StepStats]:
    """Every resting step of `process` (start excluded), in declaration order."""
    now = now or timezone.now()
    sql, params = step_sql(process, now)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # for this transaction only: compiling the plan (JIT) costs more than it saves on a
            # query that is mostly index scans, and the window's rows stay in memory
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
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
