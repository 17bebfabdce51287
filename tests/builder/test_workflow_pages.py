"""The workflow list page: search, create from a template, rename, duplicate, archive, import, export."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditEntry
from builder import demo, transfer
from builder.models import Workflow
from engine.models import RunStatus
from tests.engine.graphs import TRIGGER, chain, node
from tests.factories import MembershipFactory, RunFactory, WorkflowFactory, WorkflowVersionFactory

GOOD = chain(TRIGGER, node("answer", "reply", answer="hi"))
LIST = "/workflows/"


@pytest.fixture
def flow(owner):
    return WorkflowFactory(workspace=owner.workspace, name="Ticket triage", description="support inbox", draft=GOOD)


def names(response) -> list[str]:
    return [w.name for w in response.context["workflows"]]


def upload(content: bytes, name: str = "flow.json") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/json")


def test_it_lists_the_published_version_and_the_last_runs_status(owner, login_as, flow):
    WorkflowVersionFactory(workflow=flow, number=1)
    WorkflowVersionFactory(workflow=flow, number=2)
    RunFactory(workspace=owner.workspace, workflow_id=flow.pk, status=RunStatus.SUCCEEDED)
    RunFactory(workspace=owner.workspace, workflow_id=flow.pk, status=RunStatus.FAILED)
    page = login_as(owner).get(LIST).content.decode()
    row = page.split(f'id="workflow-{flow.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "v2" in row
    assert 'class="status status-failed"' in row


def test_it_searches_by_name_or_description_and_htmx_gets_only_the_table(owner, login_as, flow):
    WorkflowFactory(workspace=owner.workspace, name="Invoices")
    client = login_as(owner)
    assert names(client.get(LIST, {"q": "TRIAGE"})) == ["Ticket triage"]
    assert names(client.get(LIST, {"q": "inbox"})) == ["Ticket triage"]
    fragment = client.get(LIST, {"q": "invoice"}, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<div id="workflow-table">')
    assert "Invoices" in fragment
    assert "Ticket triage" not in fragment


def test_it_creates_a_workflow_from_the_support_triage_template(owner, login_as):
    response = login_as(owner).post_form(f"{LIST}new/", {"name": "Tickets", "template": "support-triage"})
    workflow = Workflow.objects.get(name="Tickets")
    assert response.status_code == 302
    assert response["Location"] == f"/workflows/{workflow.pk}/"
    assert workflow.draft == demo.SUPPORT_TRIAGE
    assert workflow.draft is not demo.SUPPORT_TRIAGE
    assert workflow.sample_input == demo.SAMPLE_TICKET
    assert workflow.workspace == owner.workspace


def test_it_creates_a_blank_workflow_and_refuses_an_unknown_template(owner, login_as):
    client = login_as(owner)
    client.post_form(f"{LIST}new/", {"name": "Empty", "template": "blank"})
    assert Workflow.objects.get(name="Empty").draft == {"schema_version": 1, "nodes": [], "edges": []}
    refused = client.post_form(f"{LIST}new/", {"name": "Odd", "template": "nope"})
    assert refused.status_code == 422
    assert "template:" in refused.content.decode()
    assert not Workflow.objects.filter(name="Odd").exists()


def test_it_renames_through_htmx_and_keeps_the_search(owner, login_as, flow):
    response = login_as(owner).post_form(
        f"{LIST}{flow.pk}/rename/?q=triage", {"name": "Refund triage"}, headers={"HX-Request": "true"}
    )
    fragment = response.content.decode()
    assert response.status_code == 200
    assert fragment.lstrip().startswith('<div id="workflow-table">')
    assert "Renamed Ticket triage to Refund triage." in fragment
    assert f'action="/workflows/{flow.pk}/rename/?q=triage"' in fragment
    flow.refresh_from_db()
    assert flow.name == "Refund triage"


def test_it_refuses_an_empty_name(owner, login_as, flow):
    response = login_as(owner).post_form(f"{LIST}{flow.pk}/rename/", {"name": ""})
    assert response.status_code == 422
    flow.refresh_from_db()
    assert flow.name == "Ticket triage"


def test_it_duplicates_the_draft_but_not_the_versions(owner, login_as, flow):
    WorkflowVersionFactory(workflow=flow, number=1)
    response = login_as(owner).post_form(f"{LIST}{flow.pk}/duplicate/")
    assert response.status_code == 302
    copy = Workflow.objects.get(name="Copy of Ticket triage")
    assert copy.draft == flow.draft
    assert copy.versions.count() == 0


def test_it_archives_hides_shows_archived_and_unarchives(owner, login_as, flow):
    client = login_as(owner)
    client.post_form(f"{LIST}{flow.pk}/archive/", {"archived": "1"})
    flow.refresh_from_db()
    assert flow.archived_at is not None
    assert names(client.get(LIST)) == []
    assert names(client.get(LIST, {"archived": "1"})) == ["Ticket triage"]
    client.post_form(f"{LIST}{flow.pk}/archive/", {"archived": "0"})
    flow.refresh_from_db()
    assert flow.archived_at is None
    assert list(
        AuditEntry.objects.filter(action__startswith="workflow.").values_list("action", flat=True).order_by("pk")
    ) == [
        "workflow.archived",
        "workflow.unarchived",
    ]


def test_a_viewer_reads_but_cannot_change(owner, login_as, flow):
    viewer = login_as(MembershipFactory(workspace=owner.workspace, role="viewer"))
    page = viewer.get(LIST)
    assert names(page) == ["Ticket triage"]
    assert "Create workflow" not in page.content.decode()
    assert viewer.post_form(f"{LIST}{flow.pk}/rename/", {"name": "X"}).status_code == 403
    assert viewer.post_form(f"{LIST}new/", {"name": "X", "template": "blank"}).status_code == 403
    assert viewer.post_form(f"{LIST}{flow.pk}/archive/").status_code == 403
    flow.refresh_from_db()
    assert (flow.name, flow.archived_at) == ("Ticket triage", None)


def test_an_outsider_gets_404_for_every_action(outsider, login_as, flow):
    client = login_as(outsider)
    for action in ("rename", "duplicate", "archive"):
        assert client.post_form(f"{LIST}{flow.pk}/{action}/", {"name": "Mine"}).status_code == 404
    assert client.get(f"{LIST}{flow.pk}/export/").status_code == 404
    assert names(client.get(LIST)) == []
    assert Workflow.objects.count() == 1


def test_writes_without_the_csrf_token_are_refused(owner, login_as, flow):
    client = login_as(owner)
    assert client.post(f"{LIST}{flow.pk}/rename/", {"name": "Sneaky"}).status_code == 403
    assert client.post(f"{LIST}new/", {"name": "Sneaky", "template": "blank"}).status_code == 403
    flow.refresh_from_db()
    assert flow.name == "Ticket triage"


def test_it_exports_the_draft_or_a_version_as_a_file(owner, login_as, flow):
    old = chain(TRIGGER, node("answer", "reply", answer="old"))
    WorkflowVersionFactory(workflow=flow, number=1, graph=old)
    client = login_as(owner)
    draft = client.get(f"{LIST}{flow.pk}/export/")
    assert draft["Content-Disposition"] == 'attachment; filename="ticket-triage-draft.json"'
    assert json.loads(draft.content)["graph"] == GOOD
    version = client.get(f"{LIST}{flow.pk}/export/", {"version": "1"})
    assert json.loads(version.content) == {
        "format": "switchyard-workflow",
        "format_version": 1,
        "name": "Ticket triage",
        "description": "support inbox",
        "graph": old,
    }
    assert client.get(f"{LIST}{flow.pk}/export/", {"version": "9"}).status_code == 404


def test_an_exported_file_imports_as_a_new_workflow(owner, login_as, flow):
    client = login_as(owner)
    exported = client.get(f"{LIST}{flow.pk}/export/").content
    response = client.post_form(f"{LIST}import/", {"file": upload(exported)})
    assert response.status_code == 302
    imported = Workflow.objects.exclude(pk=flow.pk).get()
    assert (imported.name, imported.draft, imported.workspace) == ("Ticket triage", GOOD, owner.workspace)


def test_a_malformed_file_shows_every_problem_with_its_path_and_changes_nothing(owner, login_as, flow):
    graph = chain(TRIGGER, node("x", "python_exec", code="import os"), {"id": "y", "type": "reply"})
    graph["edges"].append({"id": "bad"})
    doc = {"format": "something-else", "name": "", "graph": graph}
    response = login_as(owner).post_form(f"{LIST}import/", {"file": upload(json.dumps(doc).encode())})
    assert response.status_code == 422
    paths = [p.path for p in response.context["import_problems"]]
    assert "format" in paths
    assert "name" in paths
    assert any(path.startswith("graph.edges.") for path in paths)
    assert "Nothing was changed." in response.content.decode()
    assert list(Workflow.objects.all()) == [flow]
    assert not AuditEntry.objects.filter(action__startswith="workflow.").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{not json", "not JSON"), (b"[1, 2]", "JSON object"), (b"\xff\xfe", "not JSON")],
)
def test_a_file_that_is_not_a_document_is_refused(owner, login_as, content, message):
    response = login_as(owner).post_form(f"{LIST}import/", {"file": upload(content)})
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Workflow.objects.exists()


def test_an_oversized_file_is_refused_before_it_is_read(owner, login_as):
    response = login_as(owner).post_form(f"{LIST}import/", {"file": upload(b" " * (transfer.MAX_FILE_BYTES + 1))})
    assert response.status_code == 422
    assert "file: the file is over" in response.content.decode()
    assert not Workflow.objects.exists()


def test_a_teammate_renames_and_duplicates(teammate, login_as, flow):
    client = login_as(teammate)
    client.post_form(f"{LIST}{flow.pk}/rename/", {"name": "Shared triage"})
    client.post_form(f"{LIST}{flow.pk}/duplicate/")
    assert sorted(Workflow.objects.values_list("name", flat=True)) == ["Copy of Shared triage", "Shared triage"]


def test_an_unknown_node_type_is_refused_with_its_path(owner, login_as):
    doc = {"name": "Evil", "graph": chain(TRIGGER, node("x", "python_exec", code="import os"))}
    response = login_as(owner).post_form(f"{LIST}import/", {"file": upload(json.dumps(doc).encode())})
    assert response.status_code == 422
    assert [(p.path, p.code) for p in response.context["import_problems"]] == [("graph.nodes.1.type", "unknown_type")]
    assert not Workflow.objects.exists()
