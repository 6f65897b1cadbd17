"""Time per step over a million logged transitions (PRODUCT.md 2.11, issue 3).

Generates `transitions` rows of the S1 sales-order process in SQL (objects walking the main
path, a fifth of them stopped part-way so that some wait), then times
`core.workflow.stats.step_stats` — one statement: an aggregate with ``percentile_disc`` over the
log's step index, and the objects' current positions — against the baseline of one plain
``COUNT(*)`` over the same rows, in the same run.
"""

from __future__ import annotations

import json
from typing import Any

from bench.registry import Row, benchmark
from bench.stack import Stack

CODE = r"""
import json, math, statistics, time
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from tuangou.core.workflow.models import TransitionLog
from tuangou.core.workflow.stats import step_stats
from tuangou.salesdesk.process import SALES_ORDER

TARGET = %(target)d
main = []
state = SALES_ORDER.initial_state
for action in ["receive", "take", "register", "place_written", "dispatch", "sign", "collect",
               "write_off", "file", "record_performance"]:
    route = SALES_ORDER.route(state, action)
    main.append((state, route.target, action))
    state = route.target
objects = math.ceil(TARGET / 8.5)  # four in five walk all 10 steps, one in five 0 or 5
ct = ContentType.objects.get_for_model(TransitionLog).id
values = ", ".join(f"({k}, '{a}', '{b}', '{c}')" for k, (a, b, c) in enumerate(main))
with connection.cursor() as cur:
    cur.execute("TRUNCATE core_transitionlog, core_processposition")
    # step k of object o happens at base(o) + 2h·k + jitter(o, k); a row also carries when the
    # previous step was entered and how long it lasted, as the engine writes them
    at = "(timestamptz '2026-01-01 00:00+08' + o * interval '13 seconds' + ({k}) * interval '2 hours'" \
         " + (abs(hashtext(o || '.' || ({k}))) %% 6000000) * interval '1 millisecond')"
    cur.execute(
        f'''
        INSERT INTO core_transitionlog
            (process, content_type_id, object_id, from_state, to_state, action, actor_id, at,
             entered_at, waited, note, documents)
        SELECT 'sales_order', {ct}, o, s.f, s.t, s.a, NULL, {at.format(k="s.k")},
               CASE WHEN s.k = 0 THEN NULL ELSE {at.format(k="s.k - 1")} END,
               CASE WHEN s.k = 0 THEN NULL
                    ELSE date_part('epoch', {at.format(k="s.k")} - {at.format(k="s.k - 1")}) END,
               '', '{{}}'::jsonb
        FROM generate_series(1, {objects}) AS o
        CROSS JOIN (VALUES {values}) AS s(k, f, t, a)
        WHERE s.k < CASE WHEN o %% 5 = 0 THEN o %% 10 ELSE 10 END
        '''
    )
    # where each object is now, and since when (the engine keeps this row per object)
    cur.execute(
        '''
        INSERT INTO core_processposition (process, content_type_id, object_id, state, since)
        SELECT DISTINCT ON (object_id) process, content_type_id, object_id, to_state, at
        FROM core_transitionlog WHERE process = 'sales_order'
        ORDER BY object_id, at DESC, id DESC
        '''
    )
    cur.execute("VACUUM ANALYZE core_processposition")
    # what autovacuum does to an append-only table (PostgreSQL 13+ vacuums on inserts too):
    # statistics, and the visibility map that lets the statistics read the indexes only
    cur.execute("VACUUM ANALYZE core_transitionlog")
    cur.execute("SELECT count(*) FROM core_transitionlog")
    rows = cur.fetchone()[0]

def timed(fn, n=5):
    fn()  # warm the cache
    runs = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)

def count():
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM core_transitionlog WHERE process = %%s", ["sales_order"])
        cur.fetchone()

def plain():
    # the hand-written aggregate a DBA would run for the same figures (issue 8's baseline)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT from_state, count(*), avg(waited), "
            "percentile_disc(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY waited) "
            "FROM core_transitionlog WHERE process = %%s AND waited IS NOT NULL GROUP BY from_state",
            ["sales_order"],
        )
        cur.fetchall()

stats = step_stats(SALES_ORDER)
print(json.dumps({
    "rows": rows,
    "objects": objects,
    "stats_s": timed(lambda: step_stats(SALES_ORDER)),
    "count_s": timed(count),
    "plain_s": timed(plain),
    "steps": [s.as_dict() for s in stats][:3],
}))
"""


def measure(stack: Stack, transitions: int) -> dict[str, Any]:
    out = stack.python(CODE % {"target": transitions})
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


@benchmark("step_times", "time per step (median, p90, waiting, overdue) over a million transitions")
def run(stack: Stack, sizes: dict[str, Any]) -> list[Row]:
    got = measure(stack, sizes["transitions"])
    ms = got["stats_s"] * 1000
    return [
        Row(
            "step_times",
            f"step_stats over {got['rows']:,} rows",
            ms,
            "COUNT(*) of the same rows",
            got["count_s"] * 1000,
            "ms",
            target="well under 1000 ms",
            higher_is_better=False,
            met=ms < 1000,
            extra=got,
        ),
        Row(
            "step_times",
            "step_stats against the plain SQL aggregate",
            ms,
            "percentile_disc … GROUP BY step",
            got["plain_s"] * 1000,
            "ms",
            target="≤ 2 × plain SQL",
            higher_is_better=False,
            met=ms <= 2 * got["plain_s"] * 1000,
        ),
    ]
