"""The designer page: who may open it, and what it hands the canvas."""

import json

import pytest

from accounts.models import Role
from tests.factories import MembershipFactory, UserFactory, WorkflowFactory


@pytest.fixture
def viewer(workspace):
    return MembershipFactory(workspace=workspace, user=UserFactory(username="vera"), role=Role.VIEWER)


def boot_of(response) -> dict:
    page = response.content.decode()
    return json.loads(page.split('<script id="designer-boot" type="application/json">', 1)[1].split("</script>", 1)[0])


def test_it_mounts_the_canvas_with_the_draft_and_node_types(login_as, owner):
    flow = WorkflowFactory(workspace=owner.workspace, name="Triage", sample_input={"subject": "hi"})
    response = login_as(owner).get(f"/workflows/{flow.pk}/")
    assert response.status_code == 200
    assert b"<workflow-designer" in response.content
    boot = boot_of(response)
    assert boot["workflow"] == {"id": flow.pk, "name": "Triage", "revision": flow.draft_revision}
    assert boot["graph"] == flow.draft
    assert boot["sample_input"] == {"subject": "hi"}
    assert "trigger" in {kind["kind"] for kind in boot["node_types"]}
    assert boot["problems"] == [{"path": "nodes", "code": "no_trigger", "message": boot["problems"][0]["message"]}]
    providers = login_as(owner).get(boot["providers_url"]).json()
    assert providers[0]["label"] == "built-in (offline)"
    assert b'data-can-edit="true"' in response.content


def test_it_opens_read_only_for_a_viewer(login_as, owner, viewer):
    flow = WorkflowFactory(workspace=owner.workspace)
    response = login_as(viewer).get(f"/workflows/{flow.pk}/")
    assert response.status_code == 200
    assert b'data-can-edit="false"' in response.content


def test_it_hides_the_workflow_from_an_outsider(login_as, owner, outsider):
    flow = WorkflowFactory(workspace=owner.workspace)
    assert login_as(outsider).get(f"/workflows/{flow.pk}/").status_code == 404
