"""The Celery application for the scaled mode (workers and beat with Redis as broker).

Tasks are not declared here: each domain's `tasks.py` registers jobs with `core.jobs.job`, and
`core.jobs` hands them to Celery or to the embedded runner. The beat schedule is built from the
same registry, so the embedded clock and Celery beat run the same periodic jobs.

A worker keeps its database connection between tasks as a web process keeps it between
requests (ADR 0003 addendum): Celery's Django fixup would close every connection before and
after each task (unless ``DB_REUSE_MAX`` is set), so that each SMS delivery opened a new
PostgreSQL connection, a server process of its own. Instead `close_old_connections` runs around
each task, as Django runs it around each request: a connection past ``CONN_MAX_AGE``, broken, or
left inside a transaction is closed; a healthy one is kept.
"""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tuangou.config.settings.local")

app = Celery("tuangou")
app.config_from_object("django.conf:settings", namespace="CELERY")
# the fixup closes the connections every 2 × DB_REUSE_MAX tasks; `_tidy_connections` does instead
# what Django does per request
app.conf.CELERY_DB_REUSE_MAX = 2**62
# Celery looks a setting up on Django's settings at every read (those the project does not set
# through a missed attribute each time); read them all once, as Django's settings do not change
# while a process runs: ~15 % of the CPU of publishing a job (ADR 0003 addendum)
_read = {key: app.conf[key] for key in list(app.conf.keys())}  # the first read loads the configuration
app.conf.update(_read)  # into the loaded one (`app.conf` was a pending one before)


@app.on_after_finalize.connect
def _setup_periodic(sender: Celery, **_: object) -> None:
    from tuangou.core import jobs

    jobs.autodiscover()
    sender.conf.beat_schedule = jobs.beat_schedule()


@task_prerun.connect
@task_postrun.connect
def _tidy_connections(sender: Any = None, **_: object) -> None:
    """Before and after a task in a worker: the connections Django would close around a request
    (not in a task run eagerly inside the caller's transaction, as the fixup spares it too)."""
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()
