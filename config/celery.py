"""The Celery application; tasks live in each app's tasks.py and take ids only."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("switchyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def apply_conn_max_age(**_: Any) -> None:
    """Close this thread's connections that are broken or older than CONN_MAX_AGE, as Django does per request.

    With CONN_MAX_AGE=0 a task connects afresh, as with Celery's own handling; a worker with
    DB_CONN_MAX_AGE=60 reuses its connection instead of paying a connect (a server process
    forked by PostgreSQL) for every task.
    """
    from django.db import close_old_connections

    close_old_connections()
