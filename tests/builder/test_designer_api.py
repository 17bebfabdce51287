"""The designer's endpoints: pin the sample input of test runs; run the draft from one node."""

import pytest

from accounts.models import Role
from builder.versions import run_draft
from engine.models import Run
from engine.runs import Options
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import history, statuses, wait_for
from tests.factories import MembershipFactory, UserFactory, WorkflowFactory
from tests.fakes import Reply


@pytest.fixture
def viewer(workspace):
    return MembershipFactory(workspace=workspace, user=UserFactory(username="vera"), role=Role.VIEWER)


def put_json(client, url, data):
    return client.put(url, data, content_type="application/json", headers={"X-CSRFToken": client.csrf_token()})


def test_it_pins_the_sample_input(login_as, owner):
    flow = WorkflowFactory(workspace=owner.workspace)
    response = put_json(login_as(owner), f"/api/v1/workflows/{flow.pk}/sample-input", {"input": {"subject": "Refund"}})
    assert response.status_code == 200
    flow.refresh_from_db()
    assert flow.sample_input == {"subject": "Refund"}


def test_it_names_the_field_of_a_bad_sample_input(login_as, owner):
    flow = WorkflowFactory(workspace=owner.workspace)
    response = put_json(login_as(owner), f"/api/v1/workflows/{flow.pk}/sample-input", {"input": ["not", "an object"]})
    assert response.status_code == 422
    assert "input" in str(response.json()["error"])


def test_it_lets_a_viewer_not_pin(login_as, owner, viewer):
    flow = WorkflowFactory(workspace=owner.workspace)
    response = put_json(login_as(viewer), f"/api/v1/workflows/{flow.pk}/sample-input", {"input": {"a": 1}})
    assert response.status_code == 403
    flow.refresh_from_db()
    assert flow.sample_input == {}


def test_it_lets_a_viewer_open_but_not_save_the_draft(login_as, owner, viewer):
    flow = WorkflowFactory(workspace=owner.workspace)
    client = login_as(viewer)
    assert client.get(f"/api/v1/workflows/{flow.pk}").status_code == 200
    saved = put_json(client, f"/api/v1/workflows/{flow.pk}/draft", {"graph": chain(TRIGGER), "revision": 1})
    assert saved.status_code == 403
    flow.refresh_from_db()
    assert flow.draft_revision == 1


def test_it_hides_pinning_and_running_from_an_outsider(login_as, owner, outsider):
    flow = WorkflowFactory(workspace=owner.workspace)
    client = login_as(outsider)
    assert put_json(client, f"/api/v1/workflows/{flow.pk}/sample-input", {"input": {}}).status_code == 404
    response = client.post_json(f"/api/v1/workflows/{flow.pk}/test-runs/from-node", {"node_id": "x", "run_id": 1})
    assert response.status_code == 404


def test_it_refuses_to_run_from_a_node_without_upstream_results(login_as, owner):
    draft = chain(TRIGGER, node("shape", "transform", fields={"x": 1}), node("answer", "reply", answer="hi"))
    flow = WorkflowFactory(workspace=owner.workspace, draft=draft)
    other = WorkflowFactory(workspace=owner.workspace, draft=flow.draft)
    earlier = run_draft(other, {}, Options())
    client = login_as(owner)
    response = client.post_json(
        f"/api/v1/workflows/{flow.pk}/test-runs/from-node", {"node_id": "answer", "run_id": earlier.pk}
    )
    assert response.status_code == 422
    assert "run_id" in response.json()["error"]["message"]
    own = run_draft(flow, {}, Options())  # queued: its trigger is done at the start, the transform has no result yet
    url = f"/api/v1/workflows/{flow.pk}/test-runs/from-node"
    response = client.post_json(url, {"node_id": "answer", "run_id": own.pk})
    assert response.status_code == 422
    assert "shape" in response.json()["error"]["message"]
    response = client.post_json(url, {"node_id": "nope", "run_id": own.pk})
    assert response.status_code == 422
    assert "node_id" in response.json()["error"]["message"]


@pytest.mark.usefixtures("celery_worker")
def test_it_runs_from_a_node_reusing_the_upstream_outputs(login_as, owner, server):
    server.then(Reply(body={"status": "open"}))
    owner.workspace.http_allowlist = ["127.0.0.1"]
    owner.workspace.save()
    draft = chain(
        TRIGGER,
        node("call", "http_request", url=server.url + "/ticket"),
        node("shape", "transform", fields={"x": 1}),
        node("answer", "reply", answer="first"),
    )
    flow = WorkflowFactory(workspace=owner.workspace, draft=draft)
    first = wait_for(run_draft(flow, {"subject": "hi"}, Options()))
    assert first.status == "succeeded"
    draft["nodes"][3]["params"]["answer"] = "second"
    flow.draft = draft
    flow.save()

    response = login_as(owner).post_json(
        f"/api/v1/workflows/{flow.pk}/test-runs/from-node", {"node_id": "shape", "run_id": first.pk}
    )
    assert response.status_code == 202
    run = wait_for(Run.objects.get(pk=response.json()["id"]))
    assert run.status == "succeeded"
    assert run.is_test
    assert run.trigger_kind == "test"
    assert "second" in str(run.output)
    assert len(server.requests("/ticket")) == 1, "the upstream HTTP call ran again"
    assert statuses(run) == {"start": "succeeded", "call": "succeeded", "shape": "succeeded", "answer": "succeeded"}
    assert history(run, "call") == ["succeeded"]
    assert history(run, "shape") == ["pending", "running", "succeeded"]
