"""Runs on a real Celery worker process over PostgreSQL and Redis."""

import time
from datetime import datetime

import pytest

from engine.models import NodeRun, RunEvent
from tests.engine.graphs import TRIGGER, chain, edge, graph, node
from tests.engine.running import history, start, statuses, wait_for
from tests.engine.running import node as node_run
from tests.fakes import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


def test_it_runs_a_chain_and_records_the_answer(workspace):
    data = chain(
        TRIGGER,
        node("shape", "transform", fields={"greeting": "Hello {{ input.name }}", "n": "{{ input.count }}"}),
        node("answer", "reply", answer="{{ nodes.shape.greeting }} ({{ nodes.shape.n + 1 }})"),
    )
    run = wait_for(start(workspace, data, {"name": "Ada", "count": 2}))
    assert run.status == "succeeded"
    assert run.output == {"answer": "Hello Ada (3)"}
    assert node_run(run, "shape").output == {"greeting": "Hello Ada", "n": 2}
    types = list(RunEvent.objects.filter(run=run).order_by("seq").values_list("type", flat=True))
    assert types[0] == "run.queued"
    assert types[-1] == "run.succeeded"
    seqs = list(RunEvent.objects.filter(run=run).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_it_records_the_state_history_of_a_retried_node(workspace, server):
    server.then(Reply(status=503))
    retry = {"max_attempts": 3, "initial_delay_s": 0.2, "jitter": 0}
    data = chain(TRIGGER, node("call", "http_request", url=server.url + "/flaky", retry=retry))
    run = wait_for(start(workspace, data))
    assert run.status == "succeeded"
    assert history(run, "call") == ["pending", "running", "failed", "running", "succeeded"]
    assert node_run(run, "call").attempt == 2
    assert len(server.requests("/flaky")) == 2


def test_it_fails_the_run_when_retries_run_out(workspace, server):
    server.default = Reply(status=500)
    retry = {"max_attempts": 2, "initial_delay_s": 0.1, "jitter": 0}
    data = chain(
        TRIGGER, node("call", "http_request", url=server.url + "/down", retry=retry), node("after", "transform")
    )
    run = wait_for(start(workspace, data))
    assert run.status == "failed"
    assert history(run, "call") == ["pending", "running", "failed", "running", "failed"]
    assert node_run(run, "call").error["code"] == "http_500"
    assert statuses(run)["after"] == "cancelled"
    assert "call" in run.error


def test_it_does_not_retry_a_non_retryable_error(workspace, server):
    server.default = Reply(status=404)
    retry = {"max_attempts": 5, "initial_delay_s": 0.1}
    run = wait_for(
        start(workspace, chain(TRIGGER, node("call", "http_request", url=server.url + "/gone", retry=retry)))
    )
    assert run.status == "failed"
    assert node_run(run, "call").attempt == 1
    assert len(server.requests()) == 1


def test_it_takes_one_branch_and_skips_the_other(workspace):
    data = graph(
        TRIGGER,
        node("route", "condition", expression="input.priority == 'high'"),
        node("fast", "transform", fields={"lane": "fast"}),
        node("slow", "transform", fields={"lane": "slow"}),
        node("after_slow", "transform"),
        node("join", "reply", answer="{{ nodes.fast.lane }}"),
        edges=[
            edge("start", "route"),
            edge("route", "fast", "true"),
            edge("route", "slow", "false"),
            edge("slow", "after_slow"),
            edge("fast", "join"),
            edge("after_slow", "join"),
        ],
    )
    run = wait_for(start(workspace, data, {"priority": "high"}))
    assert run.status == "succeeded"
    assert statuses(run) == {
        "start": "succeeded",
        "route": "succeeded",
        "fast": "succeeded",
        "slow": "skipped",
        "after_slow": "skipped",
        "join": "succeeded",
    }
    assert node_run(run, "route").handle == "true"
    assert run.output == {"answer": "fast"}


def test_it_routes_a_switch_to_the_matching_case_or_default(workspace):
    data = graph(
        TRIGGER,
        node("pick", "switch", value="input.kind", cases=["billing", "bug"]),
        node("billing", "reply", answer="billing"),
        node("bug", "reply", answer="bug"),
        node("other", "reply", answer="other"),
        edges=[
            edge("start", "pick"),
            edge("pick", "billing", "billing"),
            edge("pick", "bug", "bug"),
            edge("pick", "other", "default"),
        ],
    )
    assert wait_for(start(workspace, data, {"kind": "bug"})).output == {"answer": "bug"}
    assert wait_for(start(workspace, data, {"kind": "praise"})).output == {"answer": "other"}


def test_a_join_waits_for_every_active_branch(workspace, server):
    server.default = Reply(delay_s=0.5)
    data = graph(
        TRIGGER,
        node("quick", "transform", fields={"v": 1}),
        node("slow", "http_request", url=server.url + "/slow"),
        node("join", "transform", fields={"quick": "{{ nodes.quick.v }}", "slow": "{{ nodes.slow.status }}"}),
        edges=[edge("start", "quick"), edge("start", "slow"), edge("quick", "join"), edge("slow", "join")],
    )
    run = wait_for(start(workspace, data))
    assert node_run(run, "join").output == {"quick": 1, "slow": 200}
    assert node_run(run, "join").started_at >= node_run(run, "slow").finished_at


def test_a_wide_fan_out_records_every_transition_once_in_order(workspace):
    branches = [f"b{i}" for i in range(30)]
    leaves = [f"leaf{i}" for i in range(10)]
    data = graph(
        TRIGGER,
        *(node(name, "transform", fields={"n": i}) for i, name in enumerate(branches + leaves)),
        node("join", "transform", fields={"first": "{{ nodes.b0.n }}", "last": "{{ nodes.b29.n }}"}),
        edges=[edge("start", name) for name in branches + leaves] + [edge(name, "join") for name in branches],
    )

    run = wait_for(start(workspace, data))

    assert run.status == "succeeded"
    assert node_run(run, "join").output == {"first": 0, "last": 29}
    events = list(RunEvent.objects.filter(run=run).order_by("seq").values_list("seq", "type", "node_id"))
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1)) == list(range(1, run.last_seq + 1))
    for name in [*branches, *leaves, "join"]:
        assert [kind for _, kind, node_id in events if node_id == name] == [
            "node.queued",
            "node.running",
            "node.succeeded",
        ]
    seq = {(kind, node_id): seq for seq, kind, node_id in events}
    assert seq[("node.queued", "join")] > max(seq[("node.succeeded", name)] for name in branches)
    assert [kind for _, kind, _ in events].count("run.running") == 1
    assert events[-1][1] == "run.succeeded"


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
    assert 1.0 <= elapsed < 1.8, f"two 1-second branches took {elapsed:.2f} s"


def test_a_wide_fan_out_goes_in_sixteen_messages_whose_nodes_run_side_by_side(workspace, server):
    server.default = Reply(delay_s=1.0)
    calls = [node(f"c{i}", "http_request", url=f"{server.url}/c{i}") for i in range(40)]
    data = graph(
        TRIGGER, *calls, node("join", "transform"),
        edges=[edge("start", f"c{i}") for i in range(40)] + [edge(f"c{i}", "join") for i in range(40)],
    )  # fmt: skip

    run = wait_for(start(workspace, data), timeout=30)

    assert run.status == "succeeded"
    # Each task claims its nodes under one lease owner: the trigger's task took one call
    # itself, and the other 39 went in 16 messages, not 39.
    spans = NodeRun.objects.filter(run=run, node_id__startswith="c").values_list(
        "lease_owner", "started_at", "finished_at"
    )
    by_task: dict[str, list[tuple[datetime, datetime]]] = {}
    for owner, started, finished in spans:
        by_task.setdefault(owner, []).append((started, finished))
    assert len(by_task) == 17
    assert sorted(len(task) for task in by_task.values()) == [1] + [2] * 9 + [3] * 7
    # The calls of one message were in flight together: each started before any of them ended.
    for task in by_task.values():
        assert max(started for started, _ in task) < min(finished for _, finished in task)


def test_a_node_times_out_while_the_others_of_its_message_finish(workspace, server):
    server.default = Reply(delay_s=3)
    quick = [node(f"q{i}", "transform", fields={"n": i}) for i in range(39)]
    hang = node("hang", "http_request", url=server.url + "/hang", timeout_s=0.5)
    data = graph(TRIGGER, *quick, hang, edges=[edge("start", f"q{i}") for i in range(39)] + [edge("start", "hang")])
    began = time.monotonic()

    run = wait_for(start(workspace, data))

    assert time.monotonic() - began < 2.5
    assert run.status == "failed"
    assert node_run(run, "hang").error["code"] == "timeout"
    assert set(statuses(run).values()) <= {"succeeded", "failed", "cancelled"}


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
    assert 1.0 <= elapsed < 1.8, f"two 1-second delays took {elapsed:.2f} s"
    assert history(run, "a") == ["pending", "running", "waiting", "running", "succeeded"]


def test_it_enforces_a_node_timeout(workspace, server):
    server.default = Reply(delay_s=3)
    data = chain(TRIGGER, node("call", "http_request", url=server.url + "/hang", timeout_s=0.5))
    began = time.monotonic()
    run = wait_for(start(workspace, data))
    assert time.monotonic() - began < 2.5
    assert run.status == "failed"
    assert node_run(run, "call").error["code"] == "timeout"


def test_it_caches_results_when_asked(workspace):
    cached = node("shape", "transform", fields={"v": "{{ input.v }}"}, cache={"enabled": True, "ttl_s": 60})
    data = chain(TRIGGER, cached, node("answer", "reply", answer="{{ nodes.shape.v }}"))
    first = wait_for(start(workspace, data, {"v": 7}))
    second = wait_for(start(workspace, data, {"v": 7}))
    other = wait_for(start(workspace, data, {"v": 8}))
    assert node_run(first, "shape").cache_hit is False
    assert node_run(second, "shape").cache_hit is True
    assert node_run(other, "shape").cache_hit is False
    assert second.output == {"answer": 7}
    assert RunEvent.objects.filter(run=second, type="node.succeeded", payload__cache_hit=True).count() == 1


def test_it_fails_a_node_whose_expression_breaks_at_run_time(workspace):
    data = chain(TRIGGER, node("shape", "transform", fields={"v": "{{ input.n / 0 }}"}))
    run = wait_for(start(workspace, data, {"n": 1}))
    assert run.status == "failed"
    assert node_run(run, "shape").error["code"] == "expression_error"
