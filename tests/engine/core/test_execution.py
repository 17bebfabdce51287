"""The engine's scheduling, in-process: chains, branches, joins, retries, timeouts, the cache, by event history."""

from engine.models import RunEvent
from tests.engine.graphs import TRIGGER, chain, edge, graph, node
from tests.engine.running import history, start, statuses, wait_for
from tests.engine.running import node as node_run
from tests.fakes import Reply


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


def test_it_enforces_a_node_timeout(workspace, server):
    # The server answers long after wait_for would give up: only the node's timeout can end this run.
    server.default = Reply(delay_s=60)
    data = chain(TRIGGER, node("call", "http_request", url=server.url + "/hang", timeout_s=0.5))
    run = wait_for(start(workspace, data))
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
