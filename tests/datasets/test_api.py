"""The datasets API: create from rows, a file or runs; list, read, page, delete; permissions and token scopes."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts import tokens
from accounts.models import Role, Scope
from datasets import store
from datasets.models import Dataset
from engine.models import RunStatus
from tests.factories import MembershipFactory, RunFactory, UserFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


def token_client(member, scopes) -> Client:
    issued = tokens.issue(member.workspace, member.user, "ci", scopes, None)
    return Client(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")


@pytest.fixture
def writer(owner):
    return token_client(owner, [Scope.DATASETS_READ, Scope.DATASETS_WRITE])


@pytest.fixture
def tickets(workspace, owner):
    rows = [{"subject": f"Ticket {n}", "priority": n % 3} for n in range(7)]
    return store.from_rows(workspace, store.DatasetSpec("Tickets"), rows, owner.user)


def test_it_creates_reads_pages_and_deletes_a_dataset(writer):
    rows = [{"subject": f"Ticket {n}"} for n in range(5)]
    created = writer.post("/api/v1/datasets", {"name": "Tickets", "rows": rows}, content_type="application/json")
    assert created.status_code == 201, created.json()
    dataset = created.json()
    assert (dataset["name"], dataset["source"], dataset["row_count"], dataset["columns"]) == (
        "Tickets",
        "rows",
        5,
        ["subject"],
    )
    assert [found["id"] for found in writer.get("/api/v1/datasets").json()] == [dataset["id"]]
    assert writer.get(f"/api/v1/datasets/{dataset['id']}").json() == dataset
    first = writer.get(f"/api/v1/datasets/{dataset['id']}/rows?limit=2").json()
    assert [row["data"]["subject"] for row in first["items"]] == ["Ticket 0", "Ticket 1"]
    assert (first["next_after"], first["has_more"]) == (1, True)
    last = writer.get(f"/api/v1/datasets/{dataset['id']}/rows?after=3&limit=2").json()
    assert [row["position"] for row in last["items"]] == [4]
    assert last["has_more"] is False
    assert writer.delete(f"/api/v1/datasets/{dataset['id']}").status_code == 204
    assert not Dataset.objects.exists()


def test_it_uploads_a_csv_over_multipart(writer):
    file = SimpleUploadedFile("tickets.csv", b"subject,priority\nRefund,high\nLogin,low\n", "text/csv")
    created = writer.post("/api/v1/datasets/upload", {"file": file, "name": "Uploaded"})
    assert created.status_code == 201, created.json()
    assert created.json()["row_count"] == 2
    rows = writer.get(f"/api/v1/datasets/{created.json()['id']}/rows").json()["items"]
    assert [(row["line"], row["data"]) for row in rows] == [
        (2, {"subject": "Refund", "priority": "high"}),
        (3, {"subject": "Login", "priority": "low"}),
    ]


def test_it_answers_422_naming_each_malformed_line(writer):
    data = b"subject,priority\nRefund,high\nLogin\nBilling,low,extra\n"
    file = SimpleUploadedFile("tickets.csv", data, "text/csv")
    refused = writer.post("/api/v1/datasets/upload", {"file": file, "name": "Bad"})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith("body.file: 2 rows are malformed, nothing was imported: line 3:")
    assert error["details"]["problems"] == [
        {"path": "body.file", "line": 3, "message": "1 fields where the header has 2"},
        {"path": "body.file", "line": 4, "message": "3 fields where the header has 2"},
    ]
    assert not Dataset.objects.exists()


def test_it_answers_422_for_rows_that_are_not_objects_and_for_a_missing_name(writer):
    refused = writer.post("/api/v1/datasets", {"name": "Rows", "rows": [1]}, content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["problems"] == [
        {"path": "body.rows[0]", "message": "must be a JSON object, not a number"}
    ]
    unnamed = writer.post("/api/v1/datasets", {"rows": [{"a": 1}]}, content_type="application/json")
    assert unnamed.status_code == 422
    assert unnamed.json()["error"]["details"]["problems"][0]["path"] == "body.name"


def test_it_builds_a_dataset_from_a_workflows_runs(workspace, writer):
    workflow = WorkflowFactory(workspace=workspace)
    older = RunFactory(workspace=workspace, workflow_id=workflow.pk, input={"subject": "old"})
    newer = RunFactory(workspace=workspace, workflow_id=workflow.pk, input={"subject": "new"}, status=RunStatus.FAILED)
    RunFactory(workspace=workspace, workflow_id=workflow.pk, input={"subject": "test"}, is_test=True)
    RunFactory(workspace=workspace, input={"subject": "another workflow"})
    body = {"name": "From runs", "workflow_id": workflow.pk}
    created = writer.post("/api/v1/datasets/from-runs", body, content_type="application/json")
    assert created.status_code == 201, created.json()
    rows = writer.get(f"/api/v1/datasets/{created.json()['id']}/rows").json()["items"]
    assert [row["data"] for row in rows] == [{"subject": "old"}, {"subject": "new"}]
    chosen = {"name": "Chosen", "workflow_id": workflow.pk, "run_ids": [newer.pk]}
    assert writer.post("/api/v1/datasets/from-runs", chosen, content_type="application/json").json()["row_count"] == 1
    stranger = RunFactory(input={"secret": 1})
    probing = {"name": "Probe", "workflow_id": workflow.pk, "run_ids": [older.pk, stranger.pk]}
    refused = writer.post("/api/v1/datasets/from-runs", probing, content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["problems"][0]["path"] == "body.run_ids"


def test_another_workspaces_dataset_is_missing(tickets, outsider, workspace):
    client = token_client(outsider, [Scope.DATASETS_READ, Scope.DATASETS_WRITE])
    assert client.get(f"/api/v1/datasets/{tickets.pk}").status_code == 404
    assert client.get(f"/api/v1/datasets/{tickets.pk}/rows").status_code == 404
    assert client.delete(f"/api/v1/datasets/{tickets.pk}").status_code == 404
    assert client.get("/api/v1/datasets").json() == []
    theirs = WorkflowFactory(workspace=workspace)
    body = {"name": "Theirs", "workflow_id": theirs.pk}
    assert client.post("/api/v1/datasets/from-runs", body, content_type="application/json").status_code == 404
    assert Dataset.objects.get() == tickets


def test_a_viewer_reads_but_cannot_write(tickets, workspace):
    viewer = MembershipFactory(workspace=workspace, user=UserFactory(username="vera"), role=Role.VIEWER)
    client = token_client(viewer, [Scope.DATASETS_READ, Scope.DATASETS_WRITE])
    assert client.get(f"/api/v1/datasets/{tickets.pk}/rows").status_code == 200
    assert client.delete(f"/api/v1/datasets/{tickets.pk}").status_code == 403
    body = {"name": "Mine", "rows": [{"a": 1}]}
    assert client.post("/api/v1/datasets", body, content_type="application/json").status_code == 403
    assert Dataset.objects.get() == tickets


def test_tokens_need_the_datasets_scopes(tickets, owner):
    reader = token_client(owner, [Scope.DATASETS_READ])
    other = token_client(owner, [Scope.KNOWLEDGE_READ, Scope.RUNS_READ])
    assert reader.get(f"/api/v1/datasets/{tickets.pk}").status_code == 200
    assert other.get(f"/api/v1/datasets/{tickets.pk}").status_code == 403
    refused = reader.delete(f"/api/v1/datasets/{tickets.pk}")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "This API token lacks the datasets:write scope"
    assert Dataset.objects.filter(pk=tickets.pk).exists()


def test_it_refuses_a_file_over_the_upload_cap_while_it_streams_in(writer, settings):
    settings.MAX_UPLOAD_FILE_BYTES = 1000
    data = b"subject\n" + b"".join(b"Ticket %d\n" % n for n in range(600))
    refused = writer.post("/api/v1/datasets/upload", {"file": SimpleUploadedFile("big.csv", data), "name": "Big"})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == f"body.file: the file is {len(data):,} bytes, over the limit of 1,000"
    assert not Dataset.objects.exists()
