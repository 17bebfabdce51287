"""A killed worker's taken but unacknowledged messages are sent again as soon as its death is seen
(engine.held_messages), not after ENGINE_REDISPATCH_SECONDS, nor after Redis's visibility timeout (issue 19, part 5)."""

import json

import pytest

from engine import held_messages, holders
from engine.dispatch import BROKER_MARK
from engine.models import NodeRun, NodeStatus, RunStatus
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import start, statuses, wait_for
from tests.eventually import eventually
from tests.private_services import RedisServer, celery_broker
from tests.workers import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_worker")]


def parked(private_redis: RedisServer) -> int:
    """How many node messages a worker holds for a countdown in the private broker (kombu's `unacked` hash)."""
    held = [json.loads(entry)[0]["headers"] for entry in private_redis.client().hvals("unacked")]
    return sum(headers["task"] == "engine.tasks.execute_node" and bool(headers.get("eta")) for headers in held)


def test_a_killed_workers_held_message_is_sent_again_when_its_death_is_seen(workspace, private_redis: RedisServer):
    env = {"REDIS_URL": private_redis.url, "ENGINE_REDISPATCH_SECONDS": "3600", "ENGINE_WORKER_SILENCE_SECONDS": "1"}
    with celery_broker(private_redis.url):
        # The broker as a reaper left it: marked, so that the reaper does not take it for a Redis that lost its data.
        private_redis.client().set(BROKER_MARK, "1")
        first = Worker(env=env)
        try:
            # The wake-up is sent with a countdown: the worker holds it, taken and unacknowledged, until it is due.
            run = start(workspace, chain(TRIGGER, node("wait", "delay", seconds=4)))
            beating = private_redis.client()
            eventually(
                lambda: (
                    statuses(run).get("wait") == NodeStatus.WAITING
                    and parked(private_redis) == 1
                    and any(f":{first.process.pid}:" in str(name) for name in beating.zrange(holders.KEY, 0, -1))
                ),
                timeout=20,
                message=lambda: f"nodes {statuses(run)}; held {private_redis.client().hlen('unacked')}",
            )
            # The trigger's own message is acknowledged after its task returns, which can be just after the worker
            # took the wake-up: wait for that acknowledgement, then only the wake-up is held.
            waiting = NodeRun.objects.get(run=run, node_id="wait").pk
            eventually(
                lambda: held_messages.held_node_ids() == {waiting},
                timeout=10,
                message=lambda: f"held {held_messages.held_node_ids()}, the wake-up is {waiting}",
            )
        finally:
            first.kill()

        # Its message stays in Redis's unacked set for the visibility timeout (two hours), the reaper
        # (on beat here) would send the node again only after an hour: the second worker, seeing the
        # first dead, sends it again at once.
        second = Worker(beat=True, env=env)
        try:
            finished = wait_for(run, timeout=30)
            log = second.output()
        finally:
            second.stop()
    assert finished.status == RunStatus.SUCCEEDED, log[-3000:]
    assert "whose messages a dead worker may have held" in log
