"""Batches on a real worker: a clean CSV runs to a downloadable result; rows that do not match the workflow are
refused up front; failed rows run again; a cancel stops the rest; the API and its permissions."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts import tokens
from accounts.models import AuditEntry, Role, Scope
from datasets import batches, results, store
from datasets.models import Batch
from engine.models import Run
from tests.engine.graphs import chain, node
from tests.eventually import eventually
from tests.factories import MembershipFactory, UserFactory, WorkflowFactory, WorkflowVersionFactory
from tests.fakes import Reply

pytestmark = [pytest.mark.usefixtures("celery_worker"), pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "type": "object",
    "required": ["subject", "priority"],
    "properties": {"subject": {"type": "string"}, "priority": {"type": "integer"}},
}


def published(workspace, graph, name="Triage"):
    return WorkflowVersionFactory(
        workflow=WorkflowFactory(workspace=workspace, name=name, draft=graph), graph=graph, number=1
    )


@pytest.fixture
def triage(workspace):
    """Labels a ticket {"label": SUBJECT, "urgent": priority > 1}."""
    fields = {"label": "{{ input.subject | upper }}", "urgent": "{{ input.priority > 1 }}"}
    return published(
        workspace, chain(node("start", "trigger", input_schema=SCHEMA), node("label", "transform", fields=fields))
    )


@pytest.fixture
def lookup(workspace, server):
    """Asks the recording server about each ticket: a 4xx answer fails the row."""
    workspace.http_allowlist = ["127.0.0.1"]
    workspace.save(update_fields=["http_allowlist"])
    ask = node("ask", "http_request", url=f"{server.url}/tickets/{{{{ input.subject }}}}")
    return published(workspace, chain(node("start", "trigger", input_schema=SCHEMA), ask), name="Lookup")


def csv_dataset(workspace, owner, text, name="Tickets"):
    file = SimpleUploadedFile("tickets.csv", text.encode(), "text/csv")
    return store.from_upload(workspace, store.DatasetSpec(name), file, "", owner.user)


def finished(batch, statuses=("succeeded", "failed", "cancelled")):
    return eventually(
        lambda: (found := results.progress(batch)).status in statuses and found.running == 0 and found,
        timeout=60,
        message=lambda: f"batch {batch.pk} still going: {results.progress(batch)}",
    )


def test_a_clean_csv_runs_as_a_batch_to_a_downloadable_result(workspace, owner, triage, login_as):
    rows = "\n".join(f"Ticket {n},{n % 3}" for n in range(12))
    dataset = csv_dataset(workspace, owner, f"subject,priority\n{rows}\n")
    batch = batches.start_batch(batches.BatchSpec(dataset, triage, 4, ("label",)), owner.user)
    progress = finished(batch)
    assert (progress.status, progress.total, progress.succeeded, progress.failed, progress.percent) == (
        "succeeded",
        12,
        12,
        0,
        100,
    )
    children = Run.objects.filter(parent_run_id=batch.run_id)
    assert children.count() == 12
    assert {run.version_id for run in children} == {triage.pk}
    # CSV text took the schema's types: priority is a number in each row run's input.
    assert children.get(item_index=5).input == {"subject": "Ticket 5", "priority": 2}

    client = login_as(owner)
    page = client.get(f"/datasets/batches/{batch.pk}/").content.decode()
    assert "<strong>12 / 12</strong> done (100%)" in page
    assert 'hx-trigger="every 2s"' not in page  # an ended batch stops polling
    downloaded = client.get(f"/datasets/batches/{batch.pk}/results.csv")
    assert downloaded["Content-Type"] == "text/csv; charset=utf-8"
    table = list(csv.DictReader(io.StringIO(downloaded.getvalue().decode())))
    assert [(row["row"], row["input.subject"], row["output.label"], row["status"]) for row in table[:2]] == [
        ("1", "Ticket 0", "TICKET 0", "succeeded"),
        ("2", "Ticket 1", "TICKET 1", "succeeded"),
    ]
    assert table[11]["run_id"] == str(children.get(item_index=11).pk)
    lines = client.get(f"/datasets/batches/{batch.pk}/results.jsonl").getvalue().splitlines()
    assert [json.loads(line)["output"] for line in lines][:3] == [
        {"label": "TICKET 0"},
        {"label": "TICKET 1"},
        {"label": "TICKET 2"},
    ]
    assert AuditEntry.objects.filter(action="batch.started", target_id=str(batch.pk)).exists()


def test_rows_that_do_not_match_the_workflow_refuse_the_batch_naming_row_and_field(workspace, owner, triage):
    dataset = csv_dataset(workspace, owner, "subject,priority\nRefund,1\nLogin,high\nBilling,\n")
    with pytest.raises(batches.BatchInvalid) as refused:
        batches.start_batch(batches.BatchSpec(dataset, triage), owner.user)
    assert refused.value.field == "dataset_id"
    assert [(p["row"], p["line"], p["field"]) for p in refused.value.problems] == [
        (2, 3, "priority"),
        (3, 4, "priority"),
    ]
    assert str(refused.value).startswith("2 rows do not match the workflow's input: row 2 (line 3), priority:")
    assert not Batch.objects.exists()
    assert not Run.objects.exists()


def test_retry_failed_rows_runs_only_those_again(workspace, owner, lookup, server):
    server.queue = [Reply(), Reply(status=404, body={"error": "no such ticket"}), Reply()]
    dataset = csv_dataset(workspace, owner, "subject,priority\nA,1\nB,1\nC,1\n")
    batch = batches.start_batch(batches.BatchSpec(dataset, lookup, 1, ("status",)), owner.user)
    progress = finished(batch)
    assert (progress.succeeded, progress.failed) == (2, 1)
    [failed] = [row for row in results.results(batch) if row.status == "failed"]
    assert failed.row == 2
    assert "404" in failed.error
    first_runs = {row.index: row.run_id for row in results.results(batch)}

    assert batches.retry_failed_rows(batch, owner.user)
    progress = finished(batch)
    assert (progress.succeeded, progress.failed) == (3, 0)
    again = results.results(batch)
    assert [row.output for row in again] == [{"status": 200}] * 3
    # Rows 1 and 3 kept their runs; only row 2 ran again.
    assert again[0].run_id == first_runs[0]
    assert again[2].run_id == first_runs[2]
    assert again[1].run_id != first_runs[1]
    assert sorted(request.path for request in server.received) == [
        "/tickets/A",
        "/tickets/B",
        "/tickets/B",
        "/tickets/C",
    ]
    assert not batches.retry_failed_rows(batch, owner.user)  # nothing failed any more


def test_cancel_stops_the_rows_not_yet_done(workspace, owner, lookup, server):
    server.default = Reply(delay_s=1.0)
    dataset = csv_dataset(workspace, owner, "subject,priority\n" + "".join(f"T{n},1\n" for n in range(6)))
    batch = batches.start_batch(batches.BatchSpec(dataset, lookup, 1), owner.user)
    eventually(lambda: results.progress(batch).running == 1, timeout=30, message="no row started")
    assert batches.cancel(batch, owner.user)
    progress = finished(batch, statuses=("cancelled",))
    assert progress.succeeded + progress.cancelled <= 6
    assert progress.succeeded < 6
    statuses = [row.status for row in results.results(batch)]
    assert "succeeded" not in statuses[statuses.index("cancelled") :]
    assert set(statuses) <= {"succeeded", "cancelled", "pending"}
    assert not batches.cancel(batch, owner.user)

    # Retrying runs the cancelled row and those never started; the succeeded ones keep their runs.
    server.default = Reply()
    assert batches.retry_failed_rows(batch, owner.user)
    progress = finished(batch)
    assert (progress.status, progress.succeeded) == ("succeeded", 6)
    assert len({row.run_id for row in results.results(batch)}) == 6


def token_client(member, scopes) -> Client:
    issued = tokens.issue(member.workspace, member.user, "ci", scopes, None)
    return Client(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")


def test_the_api_starts_a_batch_pages_its_results_and_downloads_them(workspace, owner, triage):
    dataset = store.from_rows(
        workspace, store.DatasetSpec("Rows"), [{"subject": f"s{n}", "priority": n} for n in range(5)], owner.user
    )
    client = token_client(owner, [Scope.RUNS_TRIGGER, Scope.DATASETS_READ])
    body = {"dataset_id": dataset.pk, "workflow_id": triage.workflow_id, "concurrency": 2, "output_fields": ["urgent"]}
    started = client.post("/api/v1/batches", body, content_type="application/json")
    assert started.status_code == 201, started.json()
    batch_id = started.json()["id"]
    assert started.json()["version"] == triage.number
    eventually(
        lambda: client.get(f"/api/v1/batches/{batch_id}").json()["progress"]["status"] == "succeeded",
        timeout=60,
        message="the batch did not finish",
    )
    progress = client.get(f"/api/v1/batches/{batch_id}").json()["progress"]
    assert (progress["done"], progress["succeeded"], progress["pending"], progress["eta_seconds"]) == (5, 5, 0, None)
    page = client.get(f"/api/v1/batches/{batch_id}/results?limit=2").json()
    assert [(item["row"], item["output"]) for item in page["items"]] == [(1, {"urgent": False}), (2, {"urgent": False})]
    assert page["items"][1]["input"] == {"subject": "s1", "priority": 1}
    assert (page["next_after"], page["has_more"]) == (2, True)
    rest = client.get(f"/api/v1/batches/{batch_id}/results?after=2").json()
    assert [item["output"]["urgent"] for item in rest["items"]] == [True, True, True]
    assert rest["has_more"] is False
    download = client.get(f"/api/v1/batches/{batch_id}/download?format=jsonl")
    assert download.status_code == 200
    assert len(download.getvalue().splitlines()) == 5
    assert client.post(f"/api/v1/batches/{batch_id}/cancel").status_code == 409
    assert client.post(f"/api/v1/batches/{batch_id}/retry").status_code == 409


def test_the_api_refuses_mismatched_rows_and_outsiders(workspace, owner, outsider, triage):
    dataset = store.from_rows(workspace, store.DatasetSpec("Rows"), [{"subject": "s"}], owner.user)
    client = token_client(owner, [Scope.RUNS_TRIGGER, Scope.DATASETS_READ])
    body = {"dataset_id": dataset.pk, "workflow_id": triage.workflow_id}
    refused = client.post("/api/v1/batches", body, content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["problems"][0] | {"message": ""} == {
        "path": "rows[0].priority",
        "row": 1,
        "line": 0,
        "field": "priority",
        "message": "",
    }
    assert client.post("/api/v1/batches", {**body, "version": 9}, content_type="application/json").json()["error"][
        "details"
    ]["problems"] == [{"path": "body.version", "message": "'Triage' has no version 9"}]
    stranger = token_client(outsider, [Scope.RUNS_TRIGGER, Scope.DATASETS_READ])
    assert stranger.post("/api/v1/batches", body, content_type="application/json").status_code == 404
    reader = token_client(owner, [Scope.DATASETS_READ])
    assert reader.post("/api/v1/batches", body, content_type="application/json").status_code == 403
    viewer = MembershipFactory(workspace=workspace, user=UserFactory(username="vera"), role=Role.VIEWER)
    watching = token_client(viewer, [Scope.RUNS_TRIGGER, Scope.DATASETS_READ])
    assert watching.post("/api/v1/batches", body, content_type="application/json").status_code == 403
    assert not Run.objects.exists()


def test_the_pages_start_a_batch_and_show_it_to_members_only(workspace, owner, outsider, triage, login_as):
    dataset = csv_dataset(workspace, owner, "subject,priority\nRefund,1\nLogin,2\n=cmd(),3\n")
    client = login_as(owner)
    form = {"version": triage.pk, "concurrency": 2, "output_fields": "label"}
    started = client.post_form(f"/datasets/{dataset.pk}/batches/", form)
    batch = Batch.objects.get()
    assert started["Location"] == f"/datasets/batches/{batch.pk}/"
    finished(batch)
    live = client.get(started["Location"], headers={"HX-Request": "true"}).content.decode()
    assert live.strip().startswith('<div id="batch-live"')
    assert '<tr data-row="3" data-status="succeeded">' in live
    assert "&quot;=CMD()&quot;" in live
    # A spreadsheet opening the download must not run model output as a formula.
    table = list(csv.reader(io.StringIO(client.get(f"/datasets/batches/{batch.pk}/results.csv").getvalue().decode())))
    assert table[3][1:3] == ["'=cmd()", "3"]
    assert table[3][3] == "'=CMD()"
    listed = client.get("/datasets/").content.decode()
    assert f'<a href="/datasets/batches/{batch.pk}/">#{batch.pk}</a>' in listed
    nothing = client.post_form(f"/datasets/batches/{batch.pk}/retry/", follow=True)
    assert "Nothing to retry" in nothing.content.decode()
    stranger = login_as(outsider)
    assert stranger.get(f"/datasets/batches/{batch.pk}/").status_code == 404
    assert stranger.get(f"/datasets/batches/{batch.pk}/results.csv").status_code == 404
    assert stranger.post_form(f"/datasets/batches/{batch.pk}/cancel/").status_code == 404
