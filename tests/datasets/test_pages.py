"""Dataset pages: the list and its upload and paste form, a dataset's rows, building one from runs."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from datasets import store
from datasets.models import Batch, Dataset
from tests.factories import MembershipFactory, RunFactory, UserFactory, WorkflowFactory, WorkflowVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tickets(workspace, owner):
    rows = [{"subject": f"<b>Ticket {n}</b>", "tags": ["a"]} for n in range(60)]
    return store.from_rows(workspace, store.DatasetSpec("Tickets"), rows, owner.user)


def test_it_uploads_a_csv_and_shows_its_rows(owner, login_as):
    client = login_as(owner)
    assert "Datasets" in client.get("/datasets/").content.decode()
    file = SimpleUploadedFile("t.csv", b"subject,priority\nRefund,high\n", "text/csv")
    created = client.post_form("/datasets/", {"name": "Uploaded", "file": file})
    dataset = Dataset.objects.get(name="Uploaded")
    assert created.status_code == 302
    assert created["Location"] == f"/datasets/{dataset.pk}/"
    page = client.get(created["Location"]).content.decode()
    assert "<td>Refund</td><td>high</td>" in page


def test_it_creates_a_dataset_from_pasted_json_lines(owner, login_as):
    client = login_as(owner)
    text = '{"subject": "Refund"}\n{"subject": "Login"}\n'
    created = client.post_form("/datasets/", {"name": "Pasted", "text": text, "paste_format": "jsonl"})
    assert created.status_code == 302
    assert Dataset.objects.get(name="Pasted").row_count == 2


def test_it_shows_the_malformed_lines_and_keeps_nothing(owner, login_as):
    client = login_as(owner)
    page = client.post_form("/datasets/", {"name": "Bad", "text": "a,b\n1,2\n3\n4,5,6\n", "paste_format": "csv"})
    assert page.status_code == 422
    body = page.content.decode()
    assert "2 rows are malformed, nothing was imported: line 3: 1 fields where the header has 2; line 4:" in body
    assert not Dataset.objects.exists()
    neither = client.post_form("/datasets/", {"name": "Empty"})
    assert "upload a file or paste rows" in neither.content.decode()


def test_it_pages_rows_escaping_them(owner, tickets, login_as):
    client = login_as(owner)
    page = client.get(f"/datasets/{tickets.pk}/").content.decode()
    assert "&lt;b&gt;Ticket 0&lt;/b&gt;" in page
    assert "<b>Ticket" not in page
    assert "Page 1 of 2" in page
    fragment = client.get(f"/datasets/{tickets.pk}/?page=2", headers={"HX-Request": "true"}).content.decode()
    assert fragment.strip().startswith('<div id="rows">')
    assert "Ticket 59" in fragment
    assert "Ticket 0&lt;" not in fragment
    assert "[&quot;a&quot;]" in fragment


def test_it_builds_a_dataset_from_ticked_runs(owner, workspace, login_as):
    workflow = WorkflowFactory(workspace=workspace, name="Triage")
    runs = [RunFactory(workspace=workspace, workflow_id=workflow.pk, input={"n": n}) for n in range(3)]
    client = login_as(owner)
    listed = client.get(f"/datasets/from-runs/?workflow={workflow.pk}", headers={"HX-Request": "true"})
    assert all(f'value="{run.pk}"' in listed.content.decode() for run in runs)
    chosen = {"workflow": workflow.pk, "runs": [runs[0].pk, runs[2].pk], "name": "Picked"}
    created = client.post_form("/datasets/from-runs/", chosen)
    assert created.status_code == 302
    dataset = Dataset.objects.get(name="Picked")
    assert [row.data for row in dataset.rows.order_by("position")] == [{"n": 0}, {"n": 2}]


def test_it_deletes_after_the_name_is_typed(owner, tickets, login_as):
    client = login_as(owner)
    refused = client.post_form(f"/datasets/{tickets.pk}/delete/", {"confirm": "tickets"})
    assert refused.status_code == 422
    assert Dataset.objects.exists()
    deleted = client.post_form(f"/datasets/{tickets.pk}/delete/", {"confirm": "Tickets"})
    assert deleted.status_code == 302
    assert not Dataset.objects.exists()


def test_viewers_read_but_cannot_change_and_outsiders_see_nothing(workspace, tickets, outsider, login_as):
    viewer = MembershipFactory(workspace=workspace, user=UserFactory(username="vera"), role=Role.VIEWER)
    client = login_as(viewer)
    page = client.get(f"/datasets/{tickets.pk}/").content.decode()
    assert "Ticket 0" in page
    assert "Delete this dataset" not in page
    assert "New dataset" not in client.get("/datasets/").content.decode()
    assert client.post_form(f"/datasets/{tickets.pk}/delete/", {"confirm": "Tickets"}).status_code == 403
    assert client.post_form("/datasets/", {"name": "Mine", "text": "a\n1\n"}).status_code == 403
    stranger = login_as(outsider)
    assert stranger.get(f"/datasets/{tickets.pk}/").status_code == 404
    assert "Tickets" not in stranger.get("/datasets/").content.decode()
    assert Dataset.objects.count() == 1


@pytest.fixture
def triage(workspace):
    schema = {"type": "object", "required": ["subject"], "properties": {"subject": {"type": "integer"}}}
    graph = {"schema_version": 1, "nodes": [{"id": "start", "type": "trigger", "params": {"input_schema": schema}}]}
    return WorkflowVersionFactory(
        workflow=WorkflowFactory(workspace=workspace, name="Triage", draft=graph), graph=graph, number=1
    )


def test_the_dataset_page_names_the_rows_a_batch_would_refuse(owner, tickets, triage, login_as):
    client = login_as(owner)
    page = client.get(f"/datasets/{tickets.pk}/").content.decode()
    assert "Triage · v1" in page
    refused = client.post_form(f"/datasets/{tickets.pk}/batches/", {"version": triage.pk, "concurrency": 5})
    assert refused.status_code == 422
    assert "60 rows do not match the workflow&#x27;s input: row 1, subject: &#x27;&lt;b&gt;Ticket 0" in (
        refused.content.decode()
    )
    assert not Batch.objects.exists()
    bad_fields = {"version": triage.pk, "concurrency": 5, "output_fields": "label, <script>"}
    assert "is not a field path" in client.post_form(f"/datasets/{tickets.pk}/batches/", bad_fields).content.decode()


def test_only_editors_start_batches(workspace, tickets, triage, outsider, login_as):
    viewer = MembershipFactory(workspace=workspace, user=UserFactory(username="vera"), role=Role.VIEWER)
    client = login_as(viewer)
    assert "Run on this dataset" not in client.get(f"/datasets/{tickets.pk}/").content.decode()
    started = client.post_form(f"/datasets/{tickets.pk}/batches/", {"version": triage.pk, "concurrency": 5})
    assert started.status_code == 403
    stranger = login_as(outsider)
    assert stranger.post_form(f"/datasets/{tickets.pk}/batches/", {"version": triage.pk}).status_code == 404
    assert not Batch.objects.exists()
