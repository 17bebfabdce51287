"""Error branches in graphs: validation knows the 'error' handle, and the canvas learns the setting from the API."""

import pytest
from django.utils import timezone

from engine import graph as graphs
from engine import runs
from engine.models import NodeRun, RunEvent
from tests.engine.graphs import TRIGGER, edge, graph, node
from tests.eventually import eventually


def with_error_edge(**settings: str) -> dict:
    call = node("call", "http_request", url="https://example.com", **settings)
    return graph(
        TRIGGER, call, node("handled", "transform"), edges=[edge("start", "call"), edge("call", "handled", "error")]
    )


def test_an_error_edge_needs_the_node_to_continue_on_failure():
    problems = graphs.validate(with_error_edge())
    assert [(p.path, p.code) for p in problems] == [("edges.1.source_handle", "error_handle_off")]
    assert "set its on failure to continue" in problems[0].message


def test_an_error_edge_is_valid_on_a_node_that_continues():
    assert graphs.validate(with_error_edge(on_failure="continue")) == []


def test_it_refuses_an_unknown_on_failure_setting():
    problems = graphs.validate(with_error_edge(on_failure="retry_forever"))
    assert [(p.path, p.code) for p in problems] == [("nodes.1.on_failure", "schema")]


def test_a_trigger_has_no_error_handle():
    data = graph(TRIGGER, node("after", "transform"), edges=[edge("start", "after", "error")])
    assert [(p.path, p.code) for p in graphs.validate(data)] == [("edges.0.source_handle", "unknown_handle")]


def test_a_node_that_continues_lists_error_among_its_outputs():
    data = graph(TRIGGER, node("check", "condition", expression="true", on_failure="continue"))
    parsed = graphs.Graph.model_validate(data)
    kind = graphs.registry.get("condition")
    assert kind is not None
    assert graphs.output_handles(parsed.node("check"), kind) == ("true", "false", "error")
    assert parsed.node("start").on_failure == "fail_run"


def test_the_api_describes_the_setting_for_the_designer(owner, login_as):
    client = login_as(owner)
    kinds = {t["kind"]: t for t in client.get("/api/v1/node-types").json()}
    assert kinds["http_request"]["on_failure"] == {
        "choices": ["fail_run", "continue"],
        "default": "fail_run",
        "handle": "error",
    }
    assert kinds["trigger"]["on_failure"] is None
    schema = client.get("/api/v1/graph-schema").json()
    on_failure = schema["$defs"]["GraphNode"]["properties"]["on_failure"]
    assert on_failure["enum"] == ["fail_run", "continue"]
    assert on_failure["default"] == "fail_run"


def test_a_trigger_set_to_continue_still_has_no_error_handle():
    data = graph(
        node("start", "trigger", on_failure="continue"),
        node("after", "transform"),
        edges=[edge("start", "after", "error")],
    )
    assert [(p.path, p.code) for p in graphs.validate(data)] == [("edges.0.source_handle", "unknown_handle")]


def lease_expired(node_run_id: int) -> bool:
    return NodeRun.objects.get(pk=node_run_id).lease_expires_at < timezone.now()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("without_worker")
def test_a_node_whose_worker_died_too_often_continues_through_its_error_handle(workspace, settings):
    settings.ENGINE_CRASH_RETRIES = 0
    data = graph(
        TRIGGER,
        node("call", "transform", on_failure="continue"),
        node("ok", "transform"),
        node("handled", "transform"),
        edges=[edge("start", "call"), edge("call", "ok"), edge("call", "handled", "error")],
    )
    run = runs.start_run(runs.RunSource(workspace_id=workspace.pk, graph=data), {}, runs.Options())
    assert NodeRun.objects.get(run=run, node_id="start").status == "succeeded", "done at the start"
    call = runs.claim(NodeRun.objects.get(run=run, node_id="call").pk, "dying-worker", lease_s=0.01)
    assert call is not None
    eventually(lambda: lease_expired(call.pk))
    assert runs.crash(call)
    crashed = NodeRun.objects.get(pk=call.pk)
    assert (crashed.status, crashed.handle) == ("succeeded", "error")
    assert crashed.output == {"code": "worker_lost", "message": crashed.error["message"], "attempt": 1}
    kinds = list(RunEvent.objects.filter(run=run, node_id="call").values_list("type", flat=True))
    assert kinds == ["node.queued", "node.running", "node.crashed", "node.succeeded"]
    assert NodeRun.objects.get(run=run, node_id="ok").status == "skipped"
    handled = NodeRun.objects.get(run=run, node_id="handled")
    assert (handled.status, handled.wake_at is not None) == ("pending", True)
    run.refresh_from_db()
    assert run.status == "running"
