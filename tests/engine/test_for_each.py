"""for_each on a real worker: concurrency from the recorded events, and a worker killed in the middle of a loop."""

from collections import Counter
from typing import Any

import pytest

from builder.models import Workflow
from engine.models import CostEntry, NodeRun, NodeStatus, Run, RunEvent
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for
from tests.eventually import eventually
from tests.factories import ProviderConfigFactory, WorkflowFactory, WorkflowVersionFactory
from tests.fake_openai import FakeOpenAI
from tests.fakes import RecordingServer, Reply
from tests.workers import Worker


def published(workspace, graph: dict[str, Any]) -> Workflow:
    workflow = WorkflowFactory(workspace=workspace, name="Item", draft=graph)
    WorkflowVersionFactory(workflow=workflow, graph=graph, number=1)
    return workflow


def in_flight(run: Run, node_id: str) -> int:
    """The most children of the node that ran at once, from the parent's child.started and child.ended events."""
    running = most = 0
    for type in RunEvent.objects.filter(run=run, node_id=node_id).order_by("seq").values_list("type", flat=True):
        running += {"child.started": 1, "child.ended": -1}.get(type, 0)
        most = max(most, running)
    return most


@pytest.mark.usefixtures("celery_worker")
def test_100_items_run_10_at_a_time_and_their_results_keep_item_order(workspace):
    child = published(workspace, chain(TRIGGER, node("shout", "transform", fields={"upper": "{{ input.n | upper }}"})))
    loop = node("each", "for_each", workflow_id=child.pk, items="input.names", input={"n": "{{ item }}{{ index }}"})
    run = wait_for(start(workspace, chain(TRIGGER, loop), {"names": ["n"] * 100}), timeout=120)
    assert run.status == "succeeded"
    output = node_run(run, "each").output
    assert output["results"] == [{"upper": f"N{i}"} for i in range(100)]
    assert output["counts"] == {"total": 100, "succeeded": 100, "failed": 0, "cancelled": 0}
    indexes = list(Run.objects.filter(parent_run=run).values_list("item_index", flat=True))
    assert sorted(indexes) == list(range(100))
    assert in_flight(run, "each") <= 10
    ended = RunEvent.objects.filter(run=run, type="child.ended")
    assert ended.count() == 100


@pytest.fixture
def receiver():
    fake = RecordingServer()
    yield fake
    fake.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("without_worker")
def test_a_worker_killed_mid_loop_leaves_every_item_ended_once(workspace, server, receiver, price):
    server.default = Reply(delay_s=1.5)
    fake = FakeOpenAI(tokens_in=1000, tokens_out=500)
    ProviderConfigFactory(workspace=workspace, name="fake", base_url=fake.url, api_key="sk-test")
    workspace.http_allowlist = ["127.0.0.1"]
    workspace.save(update_fields=["http_allowlist"])
    child = published(
        workspace,
        chain(
            TRIGGER,
            node("lookup", "http_request", url=server.url + "/lookup?item={{ input.n }}"),
            node("draft", "generate", provider="fake", model="gpt-test", prompt="item {{ input.n }}"),
            node("post", "http_request", method="POST", url=receiver.url + "/items", body={"n": "{{ input.n }}"}),
        ),
    )
    loop = node("each", "for_each", workflow_id=child.pk, items="input.items", input={"n": "{{ item }}"})
    first = Worker(beat=True, lease_s=2)
    try:
        run = start(workspace, chain(TRIGGER, loop), {"items": list(range(50))})
        lookups = NodeRun.objects.filter(run__parent_run=run, node_id="lookup", status=NodeStatus.RUNNING)
        eventually(lambda: Run.objects.filter(parent_run=run, status="succeeded").count() >= 3, timeout=60)
        eventually(lambda: lookups.count() >= 5, timeout=30, message="no item was looking up when the kill came")
    finally:
        first.kill()
    # A POST in flight when its worker died has an unknown outcome and may be sent again, with the same key
    # (docs/engine.md: at-least-once with a stable key); a POST first sent after the kill must not repeat.
    sent_before_kill = {request.headers["Idempotency-Key"] for request in receiver.requests("/items")}
    second = Worker(beat=True, lease_s=2)
    try:
        run = wait_for(run, timeout=180)
    except AssertionError as stuck:
        raise AssertionError(f"{stuck}\nsecond worker's log:\n{second.output()[-4000:]}") from None
    finally:
        second.stop()
        fake.close()
    assert run.status == "succeeded"
    output = node_run(run, "each").output
    assert output["counts"]["succeeded"] == 50
    items = Counter(Run.objects.filter(parent_run=run).values_list("item_index", flat=True))
    assert items == Counter(range(50)), "an item has two child runs"
    ended = Counter(RunEvent.objects.filter(run=run, type="child.ended").values_list("payload__index", flat=True))
    assert ended == Counter(range(50)), "an item ended twice"
    keys = Counter(request.headers["Idempotency-Key"] for request in receiver.requests("/items"))
    assert len(keys) == 50
    repeated = {key for key, count in keys.items() if count > 1}
    assert repeated <= sent_before_kill, "a POST was sent twice after the kill"
    assert max(keys.values()) <= 2, "a POST was sent more than twice"
    bills = Counter(CostEntry.objects.filter(run__parent_run=run).values_list("run_id", "node_id", "attempt", "call"))
    assert max(bills.values()) == 1
    assert {run_id for run_id, *_ in bills} == set(Run.objects.filter(parent_run=run).values_list("pk", flat=True))
    assert RunEvent.objects.filter(run__parent_run=run, type="node.crashed").exists(), "the kill hit no item"
