"""Schedules that start a batch on a dataset: each fire starts one batch of the latest version over its rows."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from accounts import tokens
from accounts.models import AuditEntry, Scope
from builder import schedules
from builder.schedules import Spec
from datasets import store
from datasets.models import Batch
from engine.models import Run
from tests.engine.graphs import chain, node
from tests.factories import WorkflowFactory, WorkflowVersionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 2, 10, 30, tzinfo=UTC)
SCHEMA = {"type": "object", "required": ["subject"], "properties": {"subject": {"type": "string"}}}
GRAPH = chain(node("start", "trigger", input_schema=SCHEMA), node("label", "transform", fields={"l": "x"}))


@pytest.fixture
def workflow(workspace):
    found = WorkflowFactory(workspace=workspace, name="Nightly", draft=GRAPH)
    WorkflowVersionFactory(workflow=found, number=1, graph=GRAPH)
    return found


@pytest.fixture
def dataset(workspace, owner):
    rows = [{"subject": f"Doc {n}"} for n in range(4)]
    return store.from_rows(workspace, store.DatasetSpec("Documents"), rows, owner.user)


def test_each_fire_starts_a_batch_over_the_dataset(workflow, dataset, owner):
    spec = Spec("0 * * * *", dataset_id=dataset.pk, batch_concurrency=3)
    schedule = schedules.create(workflow, spec, by=owner.user, now=T0)
    [firing] = schedules.fire_due(T0.replace(hour=11, second=10))
    batch = Batch.objects.get()
    assert (firing.run_id, firing.error) == (batch.run_id, "")
    assert (batch.dataset_id, batch.version.number, batch.concurrency, batch.row_count) == (dataset.pk, 1, 3, 4)
    run = Run.objects.get(pk=batch.run_id)
    assert run.trigger_kind == "schedule"
    assert run.input == {"items": [{"subject": f"Doc {n}"} for n in range(4)]}
    schedule.refresh_from_db()
    assert schedule.last_fired_at == T0.replace(hour=11, minute=0)
    assert schedules.fire_due(T0.replace(hour=11, minute=1)) == []


def test_a_fire_whose_rows_no_longer_match_is_recorded_and_skipped(workflow, workspace, owner):
    bad = store.from_rows(workspace, store.DatasetSpec("Bad"), [{"subject": 1}], owner.user)
    schedules.create(workflow, Spec("0 * * * *", dataset_id=bad.pk), by=owner.user, now=T0)
    [firing] = schedules.fire_due(T0.replace(hour=11, second=10))
    assert firing.error.startswith("1 row does not match the workflow's input: row 1, subject:")
    assert not Batch.objects.exists()
    assert not Run.objects.exists()
    entry = AuditEntry.objects.get(action="schedule.fire_failed")
    assert entry.details["problems"][0]["field"] == "subject"


def test_the_api_takes_a_dataset_of_the_workspace_only(workflow, dataset, owner):
    issued = tokens.issue(owner.workspace, owner.user, "ci", [Scope.WORKFLOWS_WRITE], None)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    url = f"/api/v1/workflows/{workflow.pk}/schedules"
    created = client.post(url, {"cron": "@daily", "dataset_id": dataset.pk}, content_type="application/json")
    assert created.status_code == 201, created.json()
    assert (created.json()["dataset_id"], created.json()["batch_concurrency"]) == (dataset.pk, 10)
    theirs = store.from_rows(WorkspaceFactory(), store.DatasetSpec("Theirs"), [{"subject": "s"}], None)
    refused = client.post(url, {"cron": "@daily", "dataset_id": theirs.pk}, content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["problems"][0]["path"] == "dataset_id"
    changed = client.patch(
        f"/api/v1/schedules/{created.json()['id']}", {"batch_concurrency": 50}, content_type="application/json"
    )
    assert changed.json()["batch_concurrency"] == 50


def test_the_schedules_page_adds_a_batch_schedule(workflow, dataset, owner, login_as):
    client = login_as(owner)
    page = client.get(f"/workflows/{workflow.pk}/schedules/").content.decode()
    assert f'<option value="{dataset.pk}">Documents</option>' in page
    form = {"cron": "@daily", "timezone": "UTC", "input": "{}", "dataset": dataset.pk, "batch_concurrency": 4}
    added = client.post_form(f"/workflows/{workflow.pk}/schedules/", form)
    assert added.status_code == 302
    schedule = workflow.schedules.get()
    assert (schedule.dataset_id, schedule.batch_concurrency) == (dataset.pk, 4)
    assert "batch over" in client.get(f"/workflows/{workflow.pk}/schedules/").content.decode()
