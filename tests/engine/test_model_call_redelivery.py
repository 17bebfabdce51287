"""A model call's node delivered twice by Redis, on a real worker: one call, one cost row."""

from decimal import Decimal

import pytest

from engine.models import CostEntry, NodeRun
from engine.tasks import execute_node
from tests.engine.graphs import TRIGGER, chain, generate
from tests.engine.running import start, wait_for
from tests.eventually import eventually

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_bills_one_row_per_attempt_when_the_task_is_delivered_twice(workspace, provider, price, fake, celery_worker):
    fake.latency_s = 1.0
    run = start(workspace, chain(TRIGGER, generate()), {"body": "hi"})
    eventually(lambda: NodeRun.objects.filter(run=run, node_id="draft", status="running").exists())
    drafted = NodeRun.objects.get(run=run, node_id="draft")

    execute_node.delay(drafted.pk)
    wait_for(run)
    execute_node.delay(drafted.pk)
    celery_worker.settle()  # the late copy has run, and found nothing to claim

    assert run.status == "succeeded"
    assert CostEntry.objects.filter(run=run).count() == 1
    assert len(fake.chat_requests()) == 1
    run.refresh_from_db()
    assert run.cost == Decimal("0.007500")
