"""A busy worker outlives a Redis restart (config/celery.py's BrokerConnection), with no supervisor to restart it,
and is back soon after Redis is."""

import json
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from types import SimpleNamespace
from typing import Any

import kombu.exceptions
import pytest
import redis
from celery.utils.imports import symbol_by_name
from django.conf import settings
from kombu.asynchronous.timer import Timer

from config.celery import RECONNECT_MAX_S, RECONNECT_START_S
from config.celery import app as celery_app
from engine.models import NodeRun, NodeStatus, RunStatus
from tests import workers
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import start, statuses, wait_for
from tests.eventually import eventually
from tests.fakes import Reply
from tests.private_services import RedisServer, celery_broker
from tests.workers import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_worker")]


def held_nodes(broker: redis.Redis) -> Counter[str]:
    """The node messages a worker holds unacknowledged, as "countdown" (not due yet) or "running"."""
    held: Counter[str] = Counter()
    for entry in broker.hvals("unacked"):
        headers = json.loads(entry)[0]["headers"]  # [message, exchange, routing key], as kombu stores it
        if headers["task"] == "engine.tasks.execute_node":
            held["countdown" if headers.get("eta") else "running"] += 1
    return held


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "graceful"])
def test_it_keeps_working_through_a_redis_restart(how, workspace, server, private_redis: RedisServer):
    # The outside world answers slowly, so the call is still running when Redis goes away.
    server.default = Reply(delay_s=3)
    with celery_broker(private_redis.url):
        worker = Worker(beat=True, env={"REDIS_URL": private_redis.url})
        try:
            slow = start(workspace, chain(TRIGGER, node("call", "http_request", url=server.url + "/slow")))
            # Sent with a countdown: the worker holds the message, unacknowledged, until it is due. Due
            # well after both messages are seen held below (a second or two on a loaded machine), and
            # the run's end waits for it: longer would only make the test wait longer.
            parked = start(workspace, chain(TRIGGER, node("wait", "delay", seconds=10)))
            broker = private_redis.client()
            eventually(
                lambda: (
                    statuses(slow).get("call") == NodeStatus.RUNNING
                    and held_nodes(broker) == Counter(countdown=1, running=1)
                ),
                timeout=20,
                message=lambda: f"runs {statuses(slow)} {statuses(parked)}; held {held_nodes(broker)}",
            )

            private_redis.stop(how)
            eventually(
                lambda: "Connection to broker lost" in worker.output() or worker.process.poll() is not None,
                timeout=20,
                message="the worker did not notice that Redis went away",
            )
            private_redis.start()

            try:
                fresh = wait_for(start(workspace, chain(TRIGGER, node("shape", "transform", fields={"ok": True}))))
            except AssertionError as stuck:
                state = "exited" if worker.process.poll() is not None else "is alive"
                raise AssertionError(f"{stuck}\nthe worker {state}; its log:\n{worker.output()[-4000:]}") from None
            assert fresh.status == RunStatus.SUCCEEDED
            assert worker.process.poll() is None, "the same worker process, not a restarted one"
            # The runs caught by the restart finish too: the reaper (in the worker, with --beat)
            # sends again what Redis lost.
            assert [wait_for(run, timeout=60).status for run in (slow, parked)] == [RunStatus.SUCCEEDED] * 2
            assert worker.process.poll() is None
            assert "Unrecoverable error" not in worker.output()
        finally:
            worker.stop()


def test_a_prefork_worker_runs_on_a_node_that_was_running_when_redis_restarted(workspace, server, private_redis):
    """A task whose message can no longer be acknowledged goes on: its node's outcome is the database's, not Redis's.

    Celery would terminate it (worker_cancel_long_running_tasks_on_connection_loss): on a
    prefork worker, as deployed, the child process running the node gets SIGTERM, the node
    waits out its lease, and the reaper runs it again, repeating its effect.
    """
    server.default = Reply(delay_s=3)
    with celery_broker(private_redis.url):
        worker = Worker(pool="prefork", concurrency=2, beat=True, env={"REDIS_URL": private_redis.url})
        try:
            post = node("call", "http_request", method="POST", url=server.url + "/slow")
            run = start(workspace, chain(TRIGGER, post))
            eventually(lambda: len(server.requests()) == 1, timeout=20, message="the POST was not sent")

            private_redis.stop(signal.SIGTERM)
            eventually(
                lambda: "Connection to broker lost" in worker.output(),
                timeout=20,
                message="the worker did not notice that Redis went away",
            )
            private_redis.start()

            assert wait_for(run, timeout=60).status == RunStatus.SUCCEEDED
            assert NodeRun.objects.get(run=run, node_id="call").attempt == 1
            assert len(server.requests()) == 1
        finally:
            worker.stop()


def test_a_worker_tries_its_broker_again_within_half_a_second_then_every_two_seconds_at_most():
    """kombu's default waits 2 s, then 4, 6 ...: a worker would come back up to 4 s after a 2 s Redis restart."""
    with socket.socket() as probe:  # a port nothing listens on: every connect is refused
        probe.bind(("127.0.0.1", 0))
        refused = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
        waits: list[float] = []
        with pytest.raises(kombu.exceptions.OperationalError):
            celery_app.connection_for_read(refused).ensure_connection(lambda _, wait: waits.append(wait), 2)
    assert waits == [RECONNECT_START_S, 2 * RECONNECT_START_S]
    assert RECONNECT_START_S <= RECONNECT_MAX_S <= 2


def test_the_worker_neither_mingles_nor_gossips_whatever_its_command_line():
    """Mingle would hold every start and every reconnect for a second; gossip serves nothing the engine uses."""
    consumer_class = symbol_by_name(celery_app.conf.worker_consumer)
    controller = SimpleNamespace(use_eventloop=False)  # what Celery's consumer reads of its WorkController
    consumer = consumer_class(lambda *_: None, app=celery_app, hostname="t@h", timer=Timer(), controller=controller)
    enabled = {step.name.rpartition(".")[2]: step.enabled for step in consumer.blueprint.steps.values()}
    assert (enabled["Mingle"], enabled["Gossip"], enabled["Tasks"]) == (False, False, True)


def test_a_worker_starts_without_importing_the_mcp_sdk():
    """A restarted worker takes no node until it has imported everything: the SDK, rarely used, waits for first use."""
    loads = "import sys, django; django.setup(); from config.celery import app; app.loader.import_default_modules(); "
    environment = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": workers.test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }
    check = loads + "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith(('mcp.', 'mcp_types'))))"
    found = subprocess.run(
        [sys.executable, "-c", check], cwd=workers.ROOT, env=environment, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip().splitlines()[-1] == "[]"


def test_a_broker_channel_sends_every_command_through_one_client_and_its_messages_arrive(private_redis):
    with celery_broker(private_redis.url), celery_app.connection_for_write() as connection:
        channel: Any = connection.default_channel  # the Redis transport's channel (the stubs know only the base)
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second  # kombu's own channel builds a redis-py client for each
        with celery_app.producer_or_acquire() as producer:
            for _ in range(2):
                celery_app.send_task("engine.tasks.reap", queue="one-client", producer=producer)
    assert private_redis.client().llen("one-client") == 2


def test_celery_takes_its_options_from_django_settings():
    """Read once into a plain mapping (config.celery.CelerySettings); the namespaced names still reach Celery."""
    assert celery_app.conf.task_acks_late is settings.CELERY_TASK_ACKS_LATE is True
    assert celery_app.conf.worker_prefetch_multiplier == settings.CELERY_WORKER_PREFETCH_MULTIPLIER
    assert celery_app.conf.broker_transport_options == settings.CELERY_BROKER_TRANSPORT_OPTIONS
    # Celery's Django fixup keeps the worker's database connections by this name (else it closes them per task).
    assert celery_app.conf.get("CELERY_DB_REUSE_MAX") == settings.CELERY_DB_REUSE_MAX
    assert celery_app.conf.task_default_queue == "celery"  # unset options keep Celery's defaults
