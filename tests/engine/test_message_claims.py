"""The nodes of one task message (a share of a fan-out) claimed by one script and read for by one query."""

import pytest

from engine import runner, runs
from engine.models import NodeRun, NodeStatus, RunEvent
from engine.registry import NodeResult
from tests.engine.graphs import TRIGGER, edge, graph, node
from tests.engine.refused_writes import SKIP, refusing
from tests.engine.running import start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_worker")]


def node_run(run, node_id: str) -> NodeRun:
    return NodeRun.objects.get(run=run, node_id=node_id)


def succeed(run, *node_ids: str, output=None) -> None:
    """Claim and succeed the nodes, as a worker would, without running their code."""
    for claim in runs.claim_all([node_run(run, node_id).pk for node_id in node_ids], "test", 30):
        assert runs.succeed(claim, NodeResult(output=output if output is not None else {"from": claim.node_id}))


def fan_out(workspace, *branches: str):
    data = graph(TRIGGER, *(node(b, "transform", fields={"n": 1}) for b in branches),
                 edges=[edge("start", b) for b in branches])  # fmt: skip
    return start(workspace, data)


def test_the_nodes_of_a_message_are_claimed_together_each_with_its_own_events(workspace):
    run = fan_out(workspace, "a", "b", "c")  # its trigger done at the start, its branches ready
    ids = [node_run(run, node_id).pk for node_id in ("c", "a", "b")]
    last_seq = max(RunEvent.objects.filter(run=run).values_list("seq", flat=True))

    claimed = runs.claim_all(ids, "worker-1", 30)

    assert [claim.node_id for claim in claimed] == ["c", "a", "b"], "in the message's order"
    assert {(claim.lease_owner, claim.attempt, claim.status) for claim in claimed} == {("worker-1", 1, "running")}
    assert all(claim.facts is not None and claim.facts.workspace_id == workspace.pk for claim in claimed)
    running = RunEvent.objects.filter(run=run, seq__gt=last_seq).order_by("seq")
    assert [(event.seq, event.type, event.node_id) for event in running] == [
        (last_seq + 1, "node.running", "c"),
        (last_seq + 2, "run.running", ""),
        (last_seq + 3, "node.running", "a"),
        (last_seq + 4, "node.running", "b"),
    ]
    assert runs.claim_all(ids, "worker-2", 30) == [], "a node sent twice is claimed once"
    assert runs.claim_all([], "worker-2", 30) == []


def test_a_message_leaves_out_what_is_not_ready_and_claims_nodes_of_several_runs(workspace):
    steps = graph(TRIGGER, node("a", "transform"), node("b", "transform"), edges=[edge("start", "a"), edge("a", "b")])
    first, second = start(workspace, steps), start(workspace, steps)
    waiting = node_run(first, "b").pk  # pending until "a" succeeds

    claimed = runs.claim_all([waiting, node_run(second, "a").pk, node_run(first, "a").pk], "worker", 30)

    assert [(claim.run_id, claim.node_id) for claim in claimed] == [(second.pk, "a"), (first.pk, "a")]
    for run in (first, second):
        run.refresh_from_db()
        assert run.status == "running"
        kinds = list(RunEvent.objects.filter(run=run).order_by("seq").values_list("type", flat=True))
        assert kinds[-2:] == ["node.running", "run.running"]
    assert node_run(first, "b").status == NodeStatus.PENDING


def test_each_node_of_a_message_reads_only_what_runs_before_it(workspace):
    # A cached node's key covers what it read: had it read the other branch's output with its
    # own (one read serves the whole message), it would miss its cache when it runs alone.
    cache = {"enabled": True, "ttl_s": 600}
    data = graph(
        TRIGGER,
        node("x", "transform", fields={"n": 1}),
        node("y", "transform", fields={"n": 2}),
        node("p", "transform", fields={"n": "{{ nodes.x.n }}"}, cache=cache),
        node("q", "transform", fields={"n": "{{ nodes.y.n }}"}),
        edges=[edge("start", "x"), edge("start", "y"), edge("x", "p"), edge("y", "q")],
    )
    together, alone = start(workspace, data), start(workspace, data)
    for run in (together, alone):
        succeed(run, "x", output={"n": 1})
        succeed(run, "y", output={"n": 2})

    runner.execute([node_run(together, "p").pk, node_run(together, "q").pk])
    runner.execute([node_run(alone, "p").pk])

    assert (node_run(together, "p").output, node_run(together, "q").output) == ({"n": 1}, {"n": 2})
    hits = (
        RunEvent.objects.filter(node_id="p", type="node.succeeded").order_by("run_id").values_list("payload", flat=True)
    )
    assert [payload["cache_hit"] for payload in hits] == [False, True]


@pytest.fixture
def skipped_renewal_of_b():
    """Renewing the lease of node "b" matches no row, as when the reaper has taken it over meanwhile."""
    renewal = "OLD.status = 'running' AND NEW.status = 'running' AND NEW.node_id = 'b'"
    with refusing("skip_renewal_of_b", renewal, SKIP):
        yield


@pytest.mark.usefixtures("skipped_renewal_of_b")
def test_a_node_whose_turn_comes_late_renews_its_lease_first_or_is_left(workspace, settings):
    # Every claim's turn comes a heartbeat late or more: each renews its lease before it starts.
    settings.ENGINE_HEARTBEAT_S = 0
    run = fan_out(workspace, "a", "b")

    runner.execute([node_run(run, "a").pk, node_run(run, "b").pk])

    a, b = node_run(run, "a"), node_run(run, "b")
    assert a.status == NodeStatus.SUCCEEDED
    assert (b.status, b.output) == (NodeStatus.RUNNING, None), "no longer ours: left for whoever holds it"
