"""The Celery application; tasks live in each app's tasks.py and take ids only."""

import os
from typing import Any

from celery import Celery
from celery.app.amqp import AMQP
from celery.signals import task_postrun, task_prerun, worker_init
from kombu import Connection

from config import (
    tracing,
    worker_beats,  # noqa: F401  (connects the worker's heartbeat to its start and stop)
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class BrokerConnection(Connection):
    """kombu's Connection, with collect() also letting go of the default channel.

    On a lost broker connection Celery 5.7's consumer calls collect() and then close(). kombu
    5.7's collect() detaches the transport (its client becomes None) but keeps the default
    channel, so close() closes that channel a second time. A Redis channel that holds
    unacknowledged messages (a task with a countdown, one still running) then tries to put
    them back through the detached transport, raises AttributeError ("'NoneType' object has
    no attribute 'hostname'") instead of a connection error, and the worker exits as on an
    unrecoverable error. Forgetting the channel loses nothing: its messages cannot be put
    back while Redis is away anyway, and stay in Redis's unacked set for redelivery. No newer
    kombu or Celery fixes this yet; without this class tests/config/test_celery.py fails.
    """

    def collect(self, socket_timeout: float | None = None) -> None:
        super().collect(socket_timeout)
        self._default_channel = None


class BrokerAMQP(AMQP):
    Connection = BrokerConnection


app = Celery("switchyard", amqp=BrokerAMQP)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def start_tracing(**_: Any) -> None:
    """Traces from the worker when OTEL_* variables ask for them (config/tracing.py)."""
    tracing.configure()


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
