"""The Celery application for the scaled mode (workers and beat with Redis as broker).

Tasks are not declared here: each domain's `tasks.py` registers jobs with `core.jobs.job`, and
`core.jobs` hands them to Celery or to the embedded runner. The beat schedule is built from the
same registry, so the embedded clock and Celery beat run the same periodic jobs.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tuangou.config.settings.local")

app = Celery("tuangou")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.on_after_finalize.connect
def _setup_periodic(sender: Celery, **_: object) -> None:
    from tuangou.core import jobs

    jobs.autodiscover()
    sender.conf.beat_schedule = jobs.beat_schedule()
