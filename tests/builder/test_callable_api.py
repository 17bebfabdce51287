"""GET /workflows/{id}/callable: what the designer's workflow picker of subworkflow and for_each nodes lists."""

from django.utils import timezone

from builder.versions import publish_version
from tests.engine.graphs import chain, node
from tests.factories import WorkflowFactory

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


def published(workspace, name, schema=None, times=1):
    flow = WorkflowFactory(workspace=workspace, name=name)
    flow.draft = chain(node("start", "trigger", **({"input_schema": schema} if schema else {})))
    flow.save()
    for _ in range(times):
        publish_version(flow, "", by=None)
    return flow


def test_it_lists_the_other_published_workflows_with_their_input_schema(login_as, owner, outsider):
    parent = published(owner.workspace, "Parent")
    child = published(owner.workspace, "Classify one", SCHEMA, times=2)
    WorkflowFactory(workspace=owner.workspace, name="Never published")
    archived = published(owner.workspace, "Old")
    archived.archived_at = timezone.now()
    archived.save()
    published(outsider.workspace, "Elsewhere")

    answer = login_as(owner).get(f"/api/v1/workflows/{parent.pk}/callable")

    assert answer.status_code == 200
    assert answer.json() == [
        {
            "id": child.pk,
            "name": "Classify one",
            "latest_version": 2,
            "versions": [2, 1],
            "input_schema": SCHEMA,
            "designer_url": f"/workflows/{child.pk}/",
        }
    ]


def test_it_hides_another_workspace_s_workflows(login_as, owner, outsider):
    parent = published(owner.workspace, "Parent")
    assert login_as(outsider).get(f"/api/v1/workflows/{parent.pk}/callable").status_code == 404
