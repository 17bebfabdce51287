"""Extract into sub-workflow: the graph surgery, the new workflow, and the selections it refuses."""

import pytest

from accounts.models import Role
from builder import calls
from builder.models import Workflow
from builder.versions import publish_version, run_latest
from engine.runs import Options
from tests.engine.graphs import TRIGGER, chain, edge, graph, node
from tests.engine.running import wait_for
from tests.factories import MembershipFactory, UserFactory, WorkflowFactory

SCHEMA = {"type": "object", "properties": {"subject": {"type": "string"}}, "required": ["subject"]}
TICKET = chain(
    node("start", "trigger", input_schema=SCHEMA),
    node("clean", "transform", fields={"text": "{{ input.subject | lower }}"}),
    node("tag", "transform", fields={"label": "{{ nodes.clean.text }}-tagged", "who": "{{ nodes.start.subject }}"}),
    node("answer", "reply", answer="{{ nodes.tag.label }}"),
)


def extract(client, flow, node_ids, name="Tagging", graph=None):
    body = {"graph": graph or flow.draft, "node_ids": node_ids, "name": name}
    return client.post_json(f"/api/v1/workflows/{flow.pk}/extract", body)


@pytest.fixture
def flow(owner):
    return WorkflowFactory(workspace=owner.workspace, name="Tickets", draft=TICKET)


def test_it_moves_the_selection_into_a_published_workflow_and_calls_it_in_their_place(login_as, owner, flow):
    response = extract(login_as(owner), flow, ["clean", "tag"])
    assert response.status_code == 201, response.json()
    body = response.json()
    called = Workflow.objects.get(pk=body["workflow_id"])
    assert (called.name, called.workspace_id, body["version"], body["problems"]) == (
        "Tagging",
        flow.workspace_id,
        1,
        [],
    )
    assert body["designer_url"] == f"/workflows/{called.pk}/"
    child = called.versions.get().graph
    trigger = child["nodes"][0]
    assert trigger["params"]["input_schema"]["required"] == ["start", "subject"]
    by_id = {n["id"]: n for n in child["nodes"]}
    assert by_id["clean"]["params"] == {"fields": {"text": "{{ input.subject | lower }}"}}
    assert by_id["tag"]["params"]["fields"]["who"] == "{{ input.start.subject }}"
    assert by_id["outputs"]["params"] == {"fields": {"tag": "{{ nodes.tag }}"}}
    caller = body["graph"]
    assert [n["id"] for n in caller["nodes"]] == ["start", "answer", "subworkflow"]
    sub = caller["nodes"][2]
    assert (sub["type"], sub["label"], body["node_id"]) == ("subworkflow", "Tagging", "subworkflow")
    assert sub["params"] == {
        "workflow_id": called.pk,
        "version": None,
        "input": {"subject": "{{ input.subject }}", "start": "{{ nodes.start }}"},
    }
    assert {(e["source"], e["target"]) for e in caller["edges"]} == {
        ("start", "subworkflow"),
        ("subworkflow", "answer"),
    }
    assert caller["nodes"][1]["params"] == {"answer": "{{ nodes.subworkflow.tag.label }}"}
    flow.refresh_from_db()
    assert flow.draft == TICKET, "the caller's draft is the designer's to save"
    assert calls.problems(flow, caller) == []


@pytest.mark.usefixtures("in_process")
@pytest.mark.django_db(transaction=True)
def test_the_extracted_graph_answers_as_the_original_did(login_as, owner):
    flow = WorkflowFactory(workspace=owner.workspace, name="Tickets", draft=TICKET)
    caller = extract(login_as(owner), flow, ["clean", "tag"]).json()["graph"]
    flow.draft = caller
    flow.save(update_fields=["draft"])
    publish_version(flow, "extracted", by=owner.user)
    run = wait_for(run_latest(flow, {"subject": "Refund"}, Options()), timeout=60)
    assert (run.status, run.output) == ("succeeded", {"answer": "refund-tagged"})


def test_a_selection_read_by_nothing_after_it_has_no_outputs_node(login_as, owner):
    data = chain(TRIGGER, node("a", "transform", fields={"x": "1"}), node("b", "reply", answer="done"))
    flow = WorkflowFactory(workspace=owner.workspace, draft=data)
    body = extract(login_as(owner), flow, ["a"]).json()
    child = Workflow.objects.get(pk=body["workflow_id"]).draft
    assert [n["id"] for n in child["nodes"]] == ["start", "a"]
    assert body["graph"]["nodes"][-1]["params"]["input"] == {}


@pytest.mark.parametrize(
    ("node_ids", "message"),
    [
        ([], "select the nodes to extract"),
        (["nope"], "the graph has no node 'nope'"),
        (["start", "clean"], "'start' is the trigger"),
        (["clean", "answer"], "'clean' is not connected to 'answer' inside the selection"),
    ],
)
def test_it_refuses_a_selection_it_cannot_extract_and_creates_nothing(login_as, owner, flow, node_ids, message):
    response = extract(login_as(owner), flow, node_ids)
    assert response.status_code == 422
    [problem] = response.json()["error"]["details"]["problems"]
    assert problem["path"] == "node_ids"
    assert message in problem["message"]
    assert list(Workflow.objects.values_list("pk", flat=True)) == [flow.pk]


def test_it_refuses_a_branch_that_leaves_the_selection(login_as, owner):
    data = graph(
        TRIGGER,
        node("check", "condition", expression="input.urgent"),
        node("yes", "reply", answer="urgent"),
        node("no", "reply", answer="later"),
        edges=[edge("start", "check"), edge("check", "yes", "true"), edge("check", "no", "false")],
    )
    flow = WorkflowFactory(workspace=owner.workspace, draft=data)
    response = extract(login_as(owner), flow, ["check", "yes"])
    assert response.status_code == 422
    assert "'check' leaves the selection through its 'false' output" in response.json()["error"]["message"]


def test_it_refuses_a_selection_that_reads_the_whole_input(login_as, owner):
    data = chain(TRIGGER, node("a", "transform", fields={"all": "{{ input }}"}))
    flow = WorkflowFactory(workspace=owner.workspace, draft=data)
    response = extract(login_as(owner), flow, ["a"])
    assert response.status_code == 422
    assert "whole trigger input" in response.json()["error"]["details"]["problems"][0]["message"]


def test_it_keeps_the_new_workflow_unpublished_when_the_selection_does_not_validate(login_as, owner):
    data = chain(TRIGGER, node("a", "http_request"), node("b", "reply", answer="{{ nodes.a.status }}"))
    flow = WorkflowFactory(workspace=owner.workspace, draft=data)
    body = extract(login_as(owner), flow, ["a"]).json()
    assert body["version"] is None
    assert body["problems"]
    assert not Workflow.objects.get(pk=body["workflow_id"]).versions.exists()


def test_it_lets_neither_a_viewer_nor_an_outsider_extract(login_as, owner, outsider, workspace, flow):
    viewer = MembershipFactory(workspace=workspace, user=UserFactory(username="vera"), role=Role.VIEWER)
    assert extract(login_as(viewer), flow, ["clean"]).status_code == 403
    assert extract(login_as(outsider), flow, ["clean"]).status_code == 404
    assert list(Workflow.objects.values_list("pk", flat=True)) == [flow.pk]
