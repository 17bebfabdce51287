"""Runs on a real Celery worker process over PostgreSQL and Redis: messages, parallel branches, timers.

The engine's scheduling itself is tested in-process, in tests/engine/core.
"""

from datetime import datetime

import pytest

from engine.models import NodeRun, RunEvent
from tests.engine.graphs import TRIGGER, edge, graph, node
from tests.engine.running import history, start, statuses, wait_for
from tests.engine.running import node as node_run
from tests.eventually import eventually
from tests.fakes import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


def test_independent_branches_run_in_parallel(workspace, server):
    server.default = Reply(delay_s=1.0)
    data = graph(
        TRIGGER,
        node("left", "http_request", url=server.url + "/left"),
        node("right", "http_request", url=server.url + "/right"),
        node("join", "transform"),
        edges=[edge("start", "left"), edge("start", "right"), edge("left", "join"), edge("right", "join")],
    )
    run = wait_for(start(workspace, data))
    assert run.status == "succeeded"
    elapsed = (run.finished_at - run.started_at).total_seconds()
    assert elapsed >= 1.0, f"two 1-second branches took {elapsed:.2f} s"
    left, right = node_run(run, "left"), node_run(run, "right")
    # Side by side: each started before the other finished, however slow the machine.
    assert left.started_at < right.finished_at
    assert right.started_at < left.finished_at


def test_a_wide_fan_out_goes_in_sixteen_messages_whose_nodes_run_side_by_side(workspace, server):
    server.default = Reply(delay_s=1.0)
    calls = [node(f"c{i}", "http_request", url=f"{server.url}/c{i}") for i in range(40)]
    data = graph(
        TRIGGER, *calls, node("join", "transform"),
        edges=[edge("start", f"c{i}") for i in range(40)] + [edge(f"c{i}", "join") for i in range(40)],
    )  # fmt: skip

    run = wait_for(start(workspace, data), timeout=30)

    assert run.status == "succeeded"
    # Each task claims its nodes under one lease owner: the start (its trigger done there) sent the
    # 40 calls in 16 messages, not 40.
    spans = NodeRun.objects.filter(run=run, node_id__startswith="c").values_list(
        "lease_owner", "started_at", "finished_at"
    )
    by_task: dict[str, list[tuple[datetime, datetime]]] = {}
    for owner, started, finished in spans:
        by_task.setdefault(owner, []).append((started, finished))
    assert len(by_task) == 16
    assert sorted(len(task) for task in by_task.values()) == [2] * 8 + [3] * 8
    # The calls of one message were in flight together: each started before any of them ended.
    for task in by_task.values():
        assert max(started for started, _ in task) < min(finished for _, finished in task)


def test_a_node_times_out_while_the_others_of_its_message_finish(workspace, server):
    # The server answers long after wait_for would give up: only the node's timeout can end this run.
    server.default = Reply(delay_s=60)
    quick = [node(f"q{i}", "transform", fields={"n": i}) for i in range(39)]
    hang = node("hang", "http_request", url=server.url + "/hang", timeout_s=0.5)
    data = graph(TRIGGER, *quick, hang, edges=[edge("start", f"q{i}") for i in range(39)] + [edge("start", "hang")])

    run = wait_for(start(workspace, data))

    assert run.status == "failed"
    assert node_run(run, "hang").error["code"] == "timeout"
    # A quick node still running when the run failed is not cancelled: it records its own end
    # after the run's, so every node ends, but not necessarily before the run does.
    ended = {"succeeded", "failed", "cancelled"}
    eventually(lambda: set(statuses(run).values()) <= ended, message=lambda: f"nodes: {statuses(run)}")


def test_two_delays_wait_side_by_side_without_holding_workers(workspace):
    data = graph(
        TRIGGER,
        node("a", "delay", seconds=1),
        node("b", "delay", seconds=1),
        node("join", "transform"),
        edges=[edge("start", "a"), edge("start", "b"), edge("a", "join"), edge("b", "join")],
    )
    run = start(workspace, data)
    wait_for(run, {"waiting"}, timeout=5)
    assert history(run, "a")[:3] == ["pending", "running", "waiting"]
    run = wait_for(run)
    elapsed = (run.finished_at - run.started_at).total_seconds()
    assert run.status == "succeeded"
    assert elapsed >= 1.0, f"two 1-second delays took {elapsed:.2f} s"
    assert history(run, "a") == ["pending", "running", "waiting", "running", "succeeded"]
    # Side by side: both were waiting before either woke, however slow the machine.
    events = list(
        RunEvent.objects.filter(run=run, node_id__in=["a", "b"]).order_by("seq").values_list("type", flat=True)
    )
    assert events.index("node.succeeded") > max(i for i, kind in enumerate(events) if kind == "node.waiting")
