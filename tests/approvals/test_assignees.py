"""Approval assignees: only members of the workspace who may review, and labels that name no outsider."""

import time

import pytest

from accounts.models import Role
from approvals.models import Assignee
from approvals.nodes import Approval, ApprovalParams
from engine.errors import NonRetryableError
from engine.registry import NodeContext
from engine.runs import RunRejected
from tests.approvals.flows import start, triage
from tests.factories import ApprovalRequestFactory, MembershipFactory, RunFactory, UserFactory, WorkflowFactory

ASSIGNEE = "nodes.2.params.assignees.users"


@pytest.fixture
def reviewer(workspace):
    return MembershipFactory(workspace=workspace, user=UserFactory(username="rita"), role=Role.REVIEWER)


def problems_of(member, login_as, graph) -> list[dict[str, str]]:
    workflow = WorkflowFactory(workspace=member.workspace, draft=graph)
    return login_as(member).post_json(f"/api/v1/workflows/{workflow.pk}/validate", {"graph": graph}).json()


def test_it_reports_assignees_who_are_not_reviewing_members(owner, teammate, outsider, reviewer, login_as):
    graph = triage(assignees={"users": [reviewer.user_id, outsider.user_id, teammate.user_id, 987654321]})
    found = {p["path"]: p for p in problems_of(owner, login_as, graph) if p["code"] == "not_in_workspace"}
    assert sorted(found) == [f"{ASSIGNEE}.1", f"{ASSIGNEE}.2", f"{ASSIGNEE}.3"]
    # An outsider and an id nobody has read the same, so assignee ids cannot probe for accounts.
    assert found[f"{ASSIGNEE}.1"]["message"].replace(str(outsider.user_id), "N") == found[f"{ASSIGNEE}.3"][
        "message"
    ].replace("987654321", "N")
    assert "oscar" not in str(found)


def test_it_refuses_to_publish_a_graph_naming_an_outsider(owner, outsider, login_as):
    workflow = WorkflowFactory(workspace=owner.workspace, draft=triage(assignees={"users": [outsider.user_id]}))
    response = login_as(owner).post_json(f"/api/v1/workflows/{workflow.pk}/publish", {"note": "try"})
    assert response.status_code == 422
    problems = response.json()["error"]["details"]["problems"]
    assert [(p["path"], p["code"]) for p in problems] == [(f"{ASSIGNEE}.0", "not_in_workspace")]
    assert workflow.versions.count() == 0


def test_it_shows_the_problem_when_saving_the_draft(owner, outsider, login_as):
    workflow = WorkflowFactory(workspace=owner.workspace)
    client = login_as(owner)
    response = client.put(
        f"/api/v1/workflows/{workflow.pk}/draft",
        {"graph": triage(assignees={"users": [outsider.user_id]}), "revision": workflow.draft_revision},
        content_type="application/json",
        headers={"X-CSRFToken": client.csrf_token()},
    )
    assert response.status_code == 200
    assert f"{ASSIGNEE}.0" in [p["path"] for p in response.json()["problems"]]


def test_it_refuses_to_start_a_run_naming_an_outsider(owner, outsider):
    with pytest.raises(RunRejected) as rejected:
        start(owner.workspace, triage(assignees={"users": [outsider.user_id]}))
    assert [p["path"] for p in rejected.value.problems] == [f"{ASSIGNEE}.0"]


def test_it_accepts_a_reviewing_member(owner, reviewer, login_as):
    graph = triage(assignees={"users": [reviewer.user_id, owner.user_id]})
    assert [p for p in problems_of(owner, login_as, graph) if p["code"] == "not_in_workspace"] == []


def test_it_fails_the_node_when_an_assignee_left_before_it_asks(owner, reviewer):
    """Membership can change between publishing and the node running: the node checks again."""
    run = RunFactory(workspace=owner.workspace)
    reviewer.delete()
    params = ApprovalParams.model_validate({"assignees": {"users": [reviewer.user_id]}, "decisions": ["approve"]})
    ctx = NodeContext(
        run_id=run.pk,
        workspace_id=owner.workspace_id,
        node_id="review",
        attempt=1,
        params=params,
        scope={},
        deadline=time.monotonic() + 30,
    )
    with pytest.raises(NonRetryableError) as failed:
        Approval().run(ctx)
    assert str(failed.value).startswith("assignees.users.0: ")
    assert failed.value.code == "bad_assignee"


def test_it_labels_assignees_without_naming_non_members(owner, outsider, reviewer, login_as):
    approval = ApprovalRequestFactory(workspace=owner.workspace)
    Assignee.objects.create(request=approval, user=reviewer.user)
    Assignee.objects.create(request=approval, user=outsider.user)
    Assignee.objects.create(request=approval, role=Role.OWNER)
    client = login_as(owner)

    answer = client.get(f"/api/v1/approvals/{approval.pk}").json()
    assert answer["assignees"] == ["rita", "someone no longer in this workspace", "every owner"]
    page = client.get(f"/inbox/{approval.pk}/").content.decode()
    assert "rita" in page
    assert "oscar" not in page
