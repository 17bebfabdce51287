"""Child runs in the runs list, the runs API and the run page: hidden unless asked, linked both ways."""

import pytest

from engine.models import Run
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import wait_for
from tests.factories import WorkflowFactory, WorkflowVersionFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_process")]


@pytest.fixture
def parent(owner):
    """A finished run of a for_each over three items, one of which failed."""
    item = chain(TRIGGER, node("div", "transform", fields={"q": "{{ 12 / input.d }}"}))
    child = WorkflowFactory(workspace=owner.workspace, name="Divide", draft=item)
    WorkflowVersionFactory(workflow=child, number=1, graph=item)
    loop = node("each", "for_each", workflow_id=child.pk, items="input.items", on_item_failure="continue")
    graph = chain(TRIGGER, loop)
    flow = WorkflowFactory(workspace=owner.workspace, name="Loop", draft=graph)
    WorkflowVersionFactory(workflow=flow, number=1, graph=graph)
    from builder.versions import run_latest
    from engine.runs import Options

    return wait_for(run_latest(flow, {"items": [{"d": 1}, {"d": 0}, {"d": 3}]}, Options()))


def test_run_lists_hide_child_runs_unless_asked(owner, parent, login_as):
    client = login_as(owner)
    listed = [item["id"] for item in client.get("/api/v1/runs").json()["items"]]
    assert listed == [parent.pk]
    everything = client.get("/api/v1/runs?include_children=true").json()["items"]
    assert len(everything) == 4
    kids = client.get(f"/api/v1/runs?parent={parent.pk}").json()["items"]
    assert sorted(kid["item_index"] for kid in kids) == [0, 1, 2]
    assert {kid["parent_run_id"] for kid in kids} == {parent.pk}
    page = client.get("/runs/")
    assert f'data-run-id="{parent.pk}"' in page.content.decode() or f"/runs/{parent.pk}/" in page.content.decode()
    assert not any(f"/runs/{kid['id']}/" in page.content.decode() for kid in kids)


def test_the_run_api_links_parent_and_children(owner, parent, login_as):
    client = login_as(owner)
    shown = client.get(f"/api/v1/runs/{parent.pk}").json()
    [each] = shown["child_nodes"]
    assert (each["node_id"], each["total"], each["succeeded"], each["failed"], each["state"]) == (
        "each",
        3,
        2,
        1,
        "closed",
    )
    assert each["runs_url"] == f"/api/v1/runs?parent={parent.pk}"
    kid = Run.objects.get(parent_run=parent, item_index=1)
    shown = client.get(f"/api/v1/runs/{kid.pk}").json()
    assert (shown["parent_run_id"], shown["parent_node_id"], shown["item_index"], shown["root_run_id"]) == (
        parent.pk,
        "each",
        1,
        parent.pk,
    )


def test_the_run_page_shows_item_runs_and_the_child_a_breadcrumb(owner, parent, login_as):
    client = login_as(owner)
    page = client.get(f"/runs/{parent.pk}/").content.decode()
    assert 'data-child-counts="each">3 / 3 · 1 failed' in page
    for kid in Run.objects.filter(parent_run=parent):
        assert f'href="/runs/{kid.pk}/"' in page
    assert 'hx-trigger="every 2s"' not in page, "an ended run's item table does not poll"
    fragment = client.get(f"/runs/{parent.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<section class="card" id="child-runs"')
    assert "<run-view" not in fragment
    kid = Run.objects.get(parent_run=parent, item_index=2)
    page = client.get(f"/runs/{kid.pk}/").content.decode()
    assert f'data-parent-run="{parent.pk}"' in page
    assert f'href="/runs/{parent.pk}/"' in page
    assert "item 2" in page


def test_validating_and_publishing_a_call_loop_over_the_api_names_it(owner, login_as):
    noop = chain(TRIGGER, node("noop", "transform", fields={}))
    first = WorkflowFactory(workspace=owner.workspace, name="First", draft=noop)
    WorkflowVersionFactory(workflow=first, number=1, graph=noop)
    calls_first = chain(TRIGGER, node("call", "subworkflow", workflow_id=first.pk))
    second = WorkflowFactory(workspace=owner.workspace, name="Second", draft=calls_first)
    WorkflowVersionFactory(workflow=second, number=1, graph=calls_first)
    first.draft = chain(TRIGGER, node("back", "subworkflow", workflow_id=second.pk))
    first.save()
    client = login_as(owner)
    problems = client.post_json(f"/api/v1/workflows/{first.pk}/validate", {}).json()
    assert [(p["path"], p["code"]) for p in problems] == [("nodes.1.params.workflow_id", "recursive_call")]
    refused = client.post_json(f"/api/v1/workflows/{first.pk}/publish", {"note": ""})
    assert refused.status_code == 422
    [problem] = refused.json()["error"]["details"]["problems"]
    assert problem["code"] == "recursive_call"
    assert problem["message"].startswith("'First' → 'Second' → 'First'")
    assert first.versions.count() == 1
