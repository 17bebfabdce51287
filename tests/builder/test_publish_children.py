"""Publishing a workflow with the called workflows whose drafts changed: page, API, all or nothing."""

import pytest

from accounts.models import AuditEntry
from builder.models import Workflow, WorkflowVersion
from builder.versions import publish_version
from tests.engine.graphs import TRIGGER, chain, node
from tests.factories import MembershipFactory, WorkflowFactory


def reply(text: str) -> dict:
    return chain(TRIGGER, node("answer", "reply", answer=text))


def calling(*called: Workflow, pinned: int | None = None) -> dict:
    calls = [node(f"call{i}", "subworkflow", workflow_id=w.pk, version=pinned) for i, w in enumerate(called)]
    return chain(TRIGGER, *calls)


def published(workspace, name: str, graph: dict) -> Workflow:
    flow = WorkflowFactory(workspace=workspace, name=name, draft=graph)
    publish_version(flow, "", by=None)
    return flow


def numbers(flow: Workflow) -> list[int]:
    return list(flow.versions.order_by("number").values_list("number", flat=True))


@pytest.fixture
def family(owner):
    """Parent → Middle → Leaf, each published once; then Middle's and Leaf's drafts change."""
    leaf = published(owner.workspace, "Leaf", reply("v1"))
    middle = published(owner.workspace, "Middle", calling(leaf))
    parent = WorkflowFactory(workspace=owner.workspace, name="Parent", draft=calling(middle))
    leaf.draft = reply("v2")
    leaf.save()
    middle.draft = chain(*calling(leaf)["nodes"], node("tail", "reply", answer="new"))
    middle.save()
    return parent, middle, leaf


def url(flow: Workflow) -> str:
    return f"/workflows/{flow.pk}/versions/"


def test_the_page_lists_changed_children_ticked(owner, login_as, family):
    parent, middle, leaf = family
    unchanged = published(owner.workspace, "Unchanged", reply("same"))
    parent.draft = calling(middle, unchanged)
    parent.save()
    page = login_as(owner).get(url(parent)).content.decode()
    assert 'id="changed-children"' in page
    assert f'name="children" value="{leaf.pk}" checked' in page
    assert f'name="children" value="{middle.pk}" checked' in page
    assert f'value="{unchanged.pk}"' not in page


def test_it_publishes_the_children_first_then_the_parent(owner, login_as, family):
    parent, middle, leaf = family
    response = login_as(owner).post_form(url(parent), {"note": "all", "children": [str(leaf.pk), str(middle.pk)]})
    assert response.status_code == 302
    assert (numbers(leaf), numbers(middle), numbers(parent)) == ([1, 2], [1, 2], [1])
    order = WorkflowVersion.objects.filter(number__gt=1).union(parent.versions.all()).order_by("created_at", "pk")
    assert [v.workflow_id for v in order] == [leaf.pk, middle.pk, parent.pk]
    assert leaf.versions.get(number=2).graph == reply("v2")
    assert AuditEntry.objects.filter(action="workflow.published", workspace=owner.workspace).count() == 5


def test_unticked_children_stay_as_they_are(owner, login_as, family):
    parent, middle, leaf = family
    assert login_as(owner).post_form(url(parent), {"note": "alone"}).status_code == 302
    assert (numbers(leaf), numbers(middle), numbers(parent)) == ([1], [1], [1])


def test_a_never_published_child_is_offered_and_published_with_its_parent(owner, login_as):
    child = WorkflowFactory(workspace=owner.workspace, name="Fresh", draft=reply("hi"))
    parent = WorkflowFactory(workspace=owner.workspace, name="Caller", draft=calling(child))
    client = login_as(owner)
    page = client.get(url(parent)).content.decode()
    assert 'id="publish-form"' in page
    assert "never published" in page
    assert client.post_form(url(parent), {"children": [str(child.pk)]}).status_code == 302
    assert (numbers(child), numbers(parent)) == ([1], [1])


def test_an_invalid_child_draft_blocks_everything(owner, login_as, family):
    parent, middle, leaf = family
    leaf.draft = chain(TRIGGER, node("answer", "reply"))
    leaf.save()
    response = login_as(owner).post_form(url(parent), {"children": [str(leaf.pk), str(middle.pk)]})
    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="publish-refused"' in page
    assert ">Leaf</a> <code>nodes.1.params" in page
    assert f'value="{leaf.pk}" checked' in page  # the boxes as they were sent
    assert (numbers(leaf), numbers(middle), numbers(parent)) == ([1], [1], [])
    assert AuditEntry.objects.filter(action="workflow.published").count() == 2  # the fixture's own


def test_only_children_called_as_latest_are_offered(owner, login_as):
    child = published(owner.workspace, "Pinned", reply("v1"))
    child.draft = reply("v2")
    child.save()
    parent = WorkflowFactory(workspace=owner.workspace, name="Caller", draft=calling(child, pinned=1))
    client = login_as(owner)
    assert 'id="changed-children"' not in client.get(url(parent)).content.decode()
    refused = client.post_form(url(parent), {"children": [str(child.pk)]})
    assert refused.status_code == 422
    assert "children: " in refused.content.decode()
    assert (numbers(child), numbers(parent)) == ([1], [])


def test_the_api_publishes_children_on_request_and_lists_them(owner, login_as, family):
    parent, middle, leaf = family
    response = login_as(owner).post_json(f"/api/v1/workflows/{parent.pk}/publish", {"publish_children": True})
    assert response.status_code == 201
    body = response.json()
    assert body["number"] == 1
    assert [(p["workflow"], p["number"]) for p in body["published"]] == [("Leaf", 2), ("Middle", 2), ("Parent", 1)]
    assert (numbers(leaf), numbers(middle)) == ([1, 2], [1, 2])


def test_the_api_takes_a_list_of_ids(owner, login_as, family):
    parent, middle, leaf = family
    response = login_as(owner).post_json(f"/api/v1/workflows/{parent.pk}/publish", {"publish_children": [leaf.pk]})
    assert response.status_code == 201
    assert [p["workflow_id"] for p in response.json()["published"]] == [leaf.pk, parent.pk]
    assert numbers(middle) == [1]


def test_the_api_refuses_an_invalid_child_naming_it(owner, login_as, family):
    parent, middle, leaf = family
    leaf.draft = chain(TRIGGER, node("answer", "reply"))
    leaf.save()
    client = login_as(owner)
    response = client.post_json(f"/api/v1/workflows/{parent.pk}/publish", {"publish_children": True})
    assert response.status_code == 422
    problems = response.json()["error"]["details"]["problems"]
    assert {(p["workflow"], p["path"]) for p in problems} == {("Leaf", "nodes.1.params.answer")}
    assert (numbers(leaf), numbers(middle), numbers(parent)) == ([1], [1], [])


def test_the_api_refuses_an_id_that_is_not_a_changed_child(owner, login_as, outsider, family):
    parent = family[0]
    elsewhere = WorkflowFactory(workspace=outsider.workspace, name="Elsewhere", draft=reply("x"))
    client = login_as(owner)
    response = client.post_json(f"/api/v1/workflows/{parent.pk}/publish", {"publish_children": [elsewhere.pk]})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("publish_children: ")
    assert (numbers(elsewhere), numbers(parent)) == ([], [])


def test_a_viewer_cannot_publish(owner, login_as, family):
    parent, middle, leaf = family
    viewer = login_as(MembershipFactory(workspace=owner.workspace, role="viewer"))
    assert viewer.post_form(url(parent), {"children": [str(leaf.pk)]}).status_code == 403
    assert viewer.post_json(f"/api/v1/workflows/{parent.pk}/publish", {"publish_children": True}).status_code == 403
    assert (numbers(leaf), numbers(middle), numbers(parent)) == ([1], [1], [])


def test_a_child_in_another_workspace_is_never_touched(owner, outsider, login_as):
    foreign = WorkflowFactory(workspace=outsider.workspace, name="Foreign", draft=reply("theirs"))
    parent = WorkflowFactory(workspace=owner.workspace, name="Caller", draft=calling(foreign))
    client = login_as(owner)
    assert 'id="changed-children"' not in client.get(url(parent)).content.decode()
    response = client.post_json(f"/api/v1/workflows/{parent.pk}/publish", {"publish_children": True})
    assert response.status_code == 422
    assert numbers(foreign) == []
