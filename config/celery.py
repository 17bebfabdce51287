"""The Celery application; tasks live in each app's tasks.py and take ids only."""

import os
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any

from celery import Celery
from celery.app.amqp import AMQP
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_init, worker_ready
from celery.worker.consumer import Consumer
from kombu import Connection

from config import (
    startup_heap,
    tracing,
    worker_beats,  # noqa: F401  (connects the worker's heartbeat to its start and stop)
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


# Celery's consumer reconnects with kombu's default backoff (2 s, then 4, 6 ... up to 30 s): a
# worker that lost Redis for a 2.4 s restart tried at 0 and 2 s, then 6 s, and took nothing for
# 3.6 s after Redis was back. A refused connect costs next to nothing, so it tries every half
# second at first, and at least every 2 s however long the outage.
RECONNECT_START_S = 0.5
RECONNECT_MAX_S = 2.0


class BrokerConnection(Connection):
    """kombu's Connection, with collect() also letting go of the default channel, and a quicker reconnect.

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

    def _ensure_connection(
        self,
        errback: Any = None,
        max_retries: int | None = None,
        interval_start: float = RECONNECT_START_S,
        interval_step: float = RECONNECT_START_S,
        interval_max: float = RECONNECT_MAX_S,
        callback: Any = None,
        reraise_as_library_errors: bool = True,
        timeout: int | None = None,
    ) -> Any:
        """kombu's, with a quicker backoff by default (RECONNECT_START_S): values passed in still win.

        kombu annotates the intervals as int; its retry_over_time sleeps fractions too.
        """
        retry: Any = (interval_start, interval_step, interval_max, callback, reraise_as_library_errors, timeout)
        return super()._ensure_connection(errback, max_retries, *retry)


class BrokerAMQP(AMQP):
    Connection = BrokerConnection


class WorkerConsumer(Consumer):
    """Celery's consumer without mingle and gossip, whatever the command line says (app.conf.worker_consumer).

    Mingle asks the other workers for their revoked task ids and waits a second for answers,
    at start and again after every reconnect to Redis: a second in which a worker back from
    a Redis restart takes nothing. Gossip follows the other workers' events for elections and
    heartbeats. The engine uses neither: nothing is revoked (a run is cancelled in the
    database), and a dead worker is found by its lease holders' beats (engine/holders.py).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs | {"without_mingle": True, "without_gossip": True})


class CelerySettings(Mapping[str, Any]):
    """Django's CELERY_ settings, read from django.conf.settings once, when Celery first loads its configuration.

    Celery looks its options up again on every publish (seven of them) and in every task. Given
    Django's settings object itself, each lookup tries three spellings of the name against it,
    every miss a raised AttributeError through the lazy settings object: a sixth of a node
    message's publishing CPU in the web process (docs/benchmarks.md, "API trigger throughput").
    The values are the same; what changes is that a setting changed in Django's settings after
    Celery loaded its configuration is not seen, as with any other option Celery caches. Tests
    and code that change Celery's options at run time change `app.conf`, as before.
    """

    PREFIX = "CELERY_"

    @cached_property
    def read(self) -> dict[str, Any]:
        from django.conf import settings

        return {name: getattr(settings, name) for name in dir(settings) if name.startswith(self.PREFIX)}

    def __getitem__(self, name: str) -> Any:
        return self.read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.read)

    def __len__(self) -> int:
        return len(self.read)


app = Celery("switchyard", amqp=BrokerAMQP)
app.config_from_object(CelerySettings(), namespace="CELERY")
app.conf.worker_consumer = f"{__name__}:WorkerConsumer"
app.autodiscover_tasks()


@worker_init.connect
def start_tracing(**_: Any) -> None:
    """Traces from the worker when OTEL_* variables ask for them (config/tracing.py)."""
    tracing.configure()


@worker_init.connect
@worker_ready.connect
@worker_process_init.connect
def freeze_startup_heap(**_: Any) -> None:
    """The worker's full collections skip what it loaded at start (config/startup_heap.py).

    A full collection holds the GIL, and every node thread of the worker with it. Frozen before
    the pool starts (worker_init): a prefork child then inherits the frozen heap, and neither its
    collections nor its own freeze touch, and so copy, the pages it shares with the parent. Again
    once the worker consumes (worker_ready), and in each prefork child once forked, for what was
    loaded since.
    """
    startup_heap.freeze()


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
