"""The Versions tab: publish with a note, history with pinned runs, read-only view, restore, diff."""

import json

import pytest

from builder.models import Workflow, WorkflowVersion
from tests.engine.graphs import TRIGGER, chain, node
from tests.factories import MembershipFactory, RunFactory, WorkflowFactory, WorkflowVersionFactory

GOOD = chain(TRIGGER, node("answer", "reply", answer="hi"))
OLD = chain(TRIGGER, node("answer", "reply", answer="old"))


@pytest.fixture
def flow(owner):
    return WorkflowFactory(workspace=owner.workspace, name="Triage", draft=GOOD)


def url(flow: Workflow, rest: str = "") -> str:
    return f"/workflows/{flow.pk}/versions/{rest}"


def test_it_publishes_the_draft_as_a_version_with_a_note(owner, login_as, flow):
    response = login_as(owner).post_form(url(flow), {"note": "first cut"})
    assert response.status_code == 302
    version = WorkflowVersion.objects.get(workflow=flow)
    assert (version.number, version.note, version.graph, version.created_by) == (1, "first cut", GOOD, owner.user)


def test_problems_block_publishing_and_are_listed_with_their_paths(owner, login_as):
    broken = WorkflowFactory(workspace=owner.workspace, draft=chain(TRIGGER, node("answer", "reply")))
    client = login_as(owner)
    page = client.get(url(broken)).content.decode()
    assert "<code>nodes.1.params" in page
    assert 'id="publish-form"' not in page
    refused = client.post_form(url(broken), {"note": "anyway"})
    assert refused.status_code == 422
    assert not WorkflowVersion.objects.exists()


def test_the_history_shows_number_note_author_and_runs_pinned_to_each_version(owner, login_as, flow):
    v1 = WorkflowVersionFactory(workflow=flow, number=1, note="first", created_by=owner.user)
    WorkflowVersionFactory(workflow=flow, number=2, note="second")
    RunFactory.create_batch(2, workspace=owner.workspace, workflow_id=flow.pk, version_id=v1.pk, version_number=1)
    response = login_as(owner).get(url(flow))
    history = {v.number: (v.note, v.runs) for v in response.context["history"]}
    assert history == {2: ("second", 0), 1: ("first", 2)}
    row = response.content.decode().split('id="version-1"', 1)[1].split("</tr>", 1)[0]
    assert "olivia" in row
    assert "2 runs" in row


def test_a_version_opens_read_only_with_its_graph(owner, login_as, flow):
    WorkflowVersionFactory(workflow=flow, number=1, graph=OLD)
    page = login_as(owner).get(url(flow, "1/")).content.decode()
    assert '<graph-view data-graph="version-graph"' in page
    graph = page.split('id="version-graph" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(graph) == OLD


def test_restore_asks_first_then_replaces_the_draft_and_bumps_its_revision(owner, login_as, flow):
    WorkflowVersionFactory(workflow=flow, number=1, graph=OLD)
    client = login_as(owner)
    confirm = client.get(url(flow, "1/restore/"))
    assert "Restore v1 as the draft" in confirm.content.decode()
    flow.refresh_from_db()
    assert (flow.draft, flow.draft_revision) == (GOOD, 1)
    assert client.post_form(url(flow, "1/restore/")).status_code == 302
    flow.refresh_from_db()
    assert (flow.draft, flow.draft_revision) == (OLD, 2)


def test_a_designer_holding_the_old_revision_gets_409_after_a_restore(owner, login_as, flow):
    WorkflowVersionFactory(workflow=flow, number=1, graph=OLD)
    client = login_as(owner)
    client.post_form(url(flow, "1/restore/"))
    stale = client.put(
        f"/api/v1/workflows/{flow.pk}/draft",
        {"graph": GOOD, "revision": 1},
        content_type="application/json",
        headers={"X-CSRFToken": client.csrf_token()},
    )
    assert stale.status_code == 409
    flow.refresh_from_db()
    assert flow.draft == OLD


def test_a_teammate_publishes_and_restores(teammate, login_as, flow):
    WorkflowVersionFactory(workflow=flow, number=1, graph=OLD)
    client = login_as(teammate)
    assert client.post_form(url(flow), {"note": "second"}).status_code == 302
    assert client.post_form(url(flow, "1/restore/")).status_code == 302
    flow.refresh_from_db()
    assert (flow.draft, flow.versions.get(number=2).graph) == (OLD, GOOD)


def test_a_viewer_reads_versions_but_cannot_publish_or_restore(owner, login_as, flow):
    WorkflowVersionFactory(workflow=flow, number=1, graph=OLD)
    viewer = login_as(MembershipFactory(workspace=owner.workspace, role="viewer"))
    assert viewer.get(url(flow)).status_code == 200
    assert viewer.get(url(flow, "1/")).status_code == 200
    assert viewer.post_form(url(flow), {"note": "x"}).status_code == 403
    assert viewer.get(url(flow, "1/restore/")).status_code == 403
    assert viewer.post_form(url(flow, "1/restore/")).status_code == 403
    flow.refresh_from_db()
    assert (flow.draft, flow.versions.count()) == (GOOD, 1)


def test_an_outsider_gets_404_everywhere(outsider, login_as, flow):
    WorkflowVersionFactory(workflow=flow, number=1, graph=OLD)
    client = login_as(outsider)
    for path in ("", "1/", "1/restore/", "diff/?before=1&after=draft"):
        assert client.get(url(flow, path)).status_code == 404
    assert client.post_form(url(flow), {"note": "x"}).status_code == 404
    assert client.post_form(url(flow, "1/restore/")).status_code == 404
    assert flow.versions.count() == 1


def test_publish_and_restore_need_the_csrf_token(owner, login_as, flow):
    WorkflowVersionFactory(workflow=flow, number=1, graph=OLD)
    client = login_as(owner)
    assert client.post(url(flow), {"note": "x"}).status_code == 403
    assert client.post(url(flow, "1/restore/")).status_code == 403
    flow.refresh_from_db()
    assert (flow.draft_revision, flow.versions.count()) == (1, 1)


def test_a_missing_version_is_404(owner, login_as, flow):
    client = login_as(owner)
    assert client.get(url(flow, "7/")).status_code == 404
    assert client.post_form(url(flow, "7/restore/")).status_code == 404


def test_the_diff_page_embeds_both_sides(owner, login_as, flow):
    WorkflowVersionFactory(workflow=flow, number=1, graph=OLD)
    page = login_as(owner).get(url(flow, "diff/"), {"before": "v1", "after": "draft"}).content.decode()
    assert 'data-before-name="v1" data-after-name="the draft"' in page
    before = page.split('id="diff-before" type="application/json">', 1)[1].split("</script>", 1)[0]
    after = page.split('id="diff-after" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert (json.loads(before), json.loads(after)) == (OLD, GOOD)


@pytest.mark.parametrize("query", [{"before": "3", "after": "draft"}, {"before": "x"}, {}])
def test_the_diff_page_names_a_bad_side(owner, login_as, flow, query):
    WorkflowVersionFactory(workflow=flow, number=1, graph=OLD)
    response = login_as(owner).get(url(flow, "diff/"), query)
    assert response.status_code == 422
    assert "<graph-view" not in response.content.decode()
