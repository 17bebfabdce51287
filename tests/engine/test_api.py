"""Starting and following runs over the REST API with a signed-in session."""

import pytest

from engine.models import Run
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import wait_for
from tests.factories import WorkflowFactory, WorkflowVersionFactory

# Every test here may start a run: in-process, it has gone as far as it can when the API answers.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_process")]

GRAPH = chain(
    node(
        "start",
        "trigger",
        input_schema={"type": "object", "required": ["body"], "properties": {"body": {"type": "string"}}},
    ),
    node("answer", "reply", answer="Re: {{ input.body }}"),
)


@pytest.fixture
def workflow(owner):
    flow = WorkflowFactory(workspace=owner.workspace, name="Triage", draft=GRAPH)
    WorkflowVersionFactory(workflow=flow, number=1, graph=GRAPH)
    return flow


def test_it_starts_a_run_and_follows_it_to_the_end(owner, workflow, login_as):
    client = login_as(owner)
    response = client.post_json(f"/api/v1/workflows/{workflow.pk}/runs", {"input": {"body": "help"}})
    assert response.status_code == 202
    started = response.json()
    assert (started["workflow_name"], started["version_number"], started["trigger_kind"]) == ("Triage", 1, "api")
    wait_for(Run.objects.get(pk=started["id"]))

    run = client.get(f"/api/v1/runs/{started['id']}").json()
    assert run["status"] == "succeeded"
    assert run["output"] == {"answer": "Re: help"}
    assert {n["node_id"]: n["status"] for n in run["nodes"]} == {"start": "succeeded", "answer": "succeeded"}

    events = client.get(f"/api/v1/runs/{started['id']}/events?after=0&limit=3").json()
    assert [e["seq"] for e in events["events"]] == [1, 2, 3]
    assert events["has_more"] is True
    rest = client.get(f"/api/v1/runs/{started['id']}/events?after={events['next_after']}").json()
    assert rest["events"][0]["seq"] == 4
    assert rest["events"][-1]["type"] == "run.succeeded"
    assert rest["has_more"] is False


def test_it_names_the_input_field_that_does_not_match_the_trigger_schema(owner, workflow, login_as):
    response = login_as(owner).post_json(f"/api/v1/workflows/{workflow.pk}/runs", {"input": {"body": 5}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "run_rejected"
    assert error["details"]["problems"] == [
        {"path": "input.body", "code": "bad_input", "message": "5 is not of type 'string'"}
    ]
    assert not Run.objects.exists()


def test_it_asks_to_publish_before_running_a_workflow_without_versions(owner, login_as):
    flow = WorkflowFactory(workspace=owner.workspace, draft=GRAPH)
    response = login_as(owner).post_json(f"/api/v1/workflows/{flow.pk}/runs", {"input": {"body": "x"}})
    assert response.status_code == 409
    assert "publish one, or pass draft=true" in response.json()["error"]["message"]


def test_it_runs_the_draft_as_a_test_run(owner, login_as):
    flow = WorkflowFactory(workspace=owner.workspace, draft=GRAPH)
    response = login_as(owner).post_json(f"/api/v1/workflows/{flow.pk}/runs", {"input": {"body": "x"}, "draft": True})
    assert response.status_code == 202
    assert (response.json()["is_test"], response.json()["version_number"]) == (True, None)


def test_it_lists_every_graph_problem_when_the_draft_is_invalid(owner, login_as):
    flow = WorkflowFactory(workspace=owner.workspace, draft=chain(TRIGGER, node("x", "teleport")))
    response = login_as(owner).post_json(f"/api/v1/workflows/{flow.pk}/runs", {"draft": True})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["problems"] == [
        {"path": "nodes.1.type", "code": "unknown_type", "message": "There is no node type 'teleport'"}
    ]


def test_it_hides_other_workspaces_workflows_and_runs(owner, outsider, workflow, login_as):
    client = login_as(outsider)
    assert client.post_json(f"/api/v1/workflows/{workflow.pk}/runs", {"input": {"body": "x"}}).status_code == 404
    run = Run.objects.create(workspace=owner.workspace, graph=GRAPH)
    assert client.get(f"/api/v1/runs/{run.pk}").status_code == 404
    assert client.get(f"/api/v1/runs/{run.pk}/events").status_code == 404
    assert client.post_json(f"/api/v1/runs/{run.pk}/cancel").status_code == 404


def test_it_lets_viewers_read_but_not_start_runs(owner, workflow, login_as):
    from tests.factories import MembershipFactory

    viewer = MembershipFactory(workspace=owner.workspace, role="viewer")
    response = login_as(viewer).post_json(f"/api/v1/workflows/{workflow.pk}/runs", {"input": {"body": "x"}})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_it_refuses_to_cancel_or_retry_an_ended_run_with_409(owner, login_as):
    run = Run.objects.create(workspace=owner.workspace, graph=GRAPH, status="succeeded")
    client = login_as(owner)
    assert client.post_json(f"/api/v1/runs/{run.pk}/cancel").status_code == 409
    assert client.post_json(f"/api/v1/runs/{run.pk}/retry").status_code == 409


def test_it_refuses_a_session_write_without_csrf(owner, workflow, login_as):
    response = login_as(owner).post(f"/api/v1/workflows/{workflow.pk}/runs", {}, content_type="application/json")
    assert response.status_code in (401, 403)
    assert not Run.objects.exists()


def test_it_describes_node_types_for_the_canvas(owner, login_as):
    kinds = {t["kind"]: t for t in login_as(owner).get("/api/v1/node-types").json()}
    assert {"trigger", "condition", "switch", "transform", "http_request", "reply", "escalate", "delay"} <= set(kinds)
    assert kinds["condition"]["outputs"] == ["true", "false"]
    assert kinds["trigger"]["inputs"] == []
    assert kinds["reply"]["side_effect"] is True
    assert "expression" in kinds["condition"]["params_schema"]["properties"]
