"""A message lost with Redis is sent again as soon as the reaper sees Redis came back without its data,
not after ENGINE_REDISPATCH_SECONDS (issue 19, part 5)."""

import signal

import pytest

from engine.models import NodeRun
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import start, wait_for
from tests.private_services import RedisServer, celery_broker
from tests.workers import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_worker")]


def test_a_message_lost_with_redis_is_sent_again_at_once(workspace, private_redis: RedisServer):
    from engine.dispatch import BROKER_MARK

    with celery_broker(private_redis.url):
        # The broker as a reaper left it: marked, so that a Redis that loses its keys can be told.
        private_redis.client().set(BROKER_MARK, "1")
        run = start(workspace, chain(TRIGGER, node("shape", "transform", fields={"ok": True})))
        assert private_redis.client().llen("celery") == 1, "the first node's message waits in Redis"
        assert NodeRun.objects.get(run=run, node_id="shape").dispatched_at is not None
        private_redis.stop(signal.SIGKILL)
        private_redis.start()
        assert private_redis.client().llen("celery") == 0, "the message went with Redis"

        # Without noticing the loss, the reaper would send the node again only after an hour.
        worker = Worker(beat=True, env={"REDIS_URL": private_redis.url, "ENGINE_REDISPATCH_SECONDS": "3600"})
        try:
            finished = wait_for(run, timeout=20)
        finally:
            worker.stop()
    assert finished.status == "succeeded", worker.output()[-3000:]
