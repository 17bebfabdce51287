"""A run's start records its trigger done and queues the nodes after it (runs.trigger_done_at_start)."""

from engine import dispatch
from engine.models import NodeRun, RunEvent
from tests.engine.graphs import TRIGGER, edge, graph, node
from tests.engine.running import start, wait_for


def kinds(run) -> list[tuple[str, str]]:
    return list(RunEvent.objects.filter(run=run).order_by("seq").values_list("type", "node_id"))


def test_a_run_starts_queued_with_its_trigger_done_and_the_nodes_after_it_read_its_output_as_the_input(workspace):
    # "join" follows the trigger and "a": it waits for "a", as any node waits for all of its inputs.
    data = graph(
        TRIGGER,
        node("a", "transform", fields={"x": "{{ nodes.start.x }}", "same": "{{ input.x }}"}),
        node("b", "transform", fields={"nested": "{{ nodes.start.deep.list }}"}),
        node("join", "transform", fields={"from_a": "{{ nodes.a.x }}", "from_start": "{{ nodes.start.x }}"}),
        edges=[edge("start", "a"), edge("start", "b"), edge("start", "join"), edge("a", "join")],
    )
    given = {"x": "ünïcode", "deep": {"list": [1, 2.5, None]}}

    # Its node messages held, as the API's trigger holds them until it has answered: the run as its start left it.
    dispatch.hold()
    try:
        run = start(workspace, data, given)
        run.refresh_from_db()
        assert (run.status, run.started_at) == ("queued", None), "queued until a worker claims a node"
        nodes = {n.node_id: n for n in NodeRun.objects.filter(run=run)}
        trigger = nodes["start"]
        assert (trigger.status, trigger.attempt, trigger.output) == ("succeeded", 1, given)
        assert trigger.started_at == trigger.finished_at is not None
        assert {node_id for node_id, n in nodes.items() if n.wake_at is not None} == {"a", "b"}
        assert (nodes["join"].status, nodes["join"].wake_at) == ("pending", None)
        assert kinds(run) == [
            ("run.queued", ""),
            ("node.succeeded", "start"),
            ("node.queued", "a"),
            ("node.queued", "b"),
        ]
    finally:
        dispatch.release()

    run = wait_for(run)

    assert run.status == "succeeded", run.error
    assert run.started_at is not None
    outputs = dict(NodeRun.objects.filter(run=run).values_list("node_id", "output"))
    assert outputs["a"] == {"x": "ünïcode", "same": "ünïcode"}
    assert outputs["b"] == {"nested": [1, 2.5, None]}
    assert outputs["join"] == {"from_a": "ünïcode", "from_start": "ünïcode"}
    assert ("node.running", "start") not in kinds(run), "the trigger did not run on a worker"
    assert ("run.running", "") in kinds(run)


def test_a_lone_trigger_still_runs_as_a_node(workspace):
    run = wait_for(start(workspace, graph(TRIGGER), {"n": 1}))

    assert run.status == "succeeded", run.error
    assert NodeRun.objects.get(run=run, node_id="start").output == {"n": 1}
    assert kinds(run) == [
        ("run.queued", ""),
        ("node.queued", "start"),
        ("node.running", "start"),
        ("run.running", ""),
        ("node.succeeded", "start"),
        ("run.succeeded", ""),
    ]
