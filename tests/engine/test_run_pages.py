"""The runs list: filters, cursor paging, the live rows fragment; and re-runs over the API."""

from datetime import timedelta

import pytest
from django.utils import timezone

from engine.models import Run
from monitoring.filters import PAGE
from tests.factories import RunFactory, WorkflowFactory, WorkflowVersionFactory

GRAPH = {"schema_version": 1, "nodes": [{"id": "start", "type": "trigger"}], "edges": []}


def row_ids(response) -> list[int]:
    html = response.content.decode()
    return [int(chunk.split('"', 1)[0]) for chunk in html.split('data-run-id="')[1:]]


@pytest.fixture
def runs(owner, outsider):
    made = [
        RunFactory(
            workspace=owner.workspace,
            workflow_id=1,
            workflow_name="Triage",
            version_number=1,
            status="succeeded",
            input={"body": "refund please"},
        ),
        RunFactory(
            workspace=owner.workspace,
            workflow_id=1,
            workflow_name="Triage",
            version_number=2,
            status="failed",
            trigger_kind="api",
        ),
        RunFactory(
            workspace=owner.workspace, workflow_id=2, workflow_name="Digest", status="running", input={"body": "hello"}
        ),
    ]
    RunFactory(workspace=outsider.workspace, workflow_name="Theirs")
    return made


def test_it_lists_the_workspaces_runs_newest_first(owner, runs, login_as):
    response = login_as(owner).get("/runs/")
    assert row_ids(response) == [runs[2].pk, runs[1].pk, runs[0].pk]
    assert "Theirs" not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("workflow=1", [1, 0]),
        ("version=2", [1]),
        ("status=failed", [1]),
        ("trigger=api", [1]),
        ("q=REFUND", [0]),
        ("workflow=1&status=succeeded", [0]),
    ],
)
def test_it_filters(owner, runs, login_as, query, expected):
    assert row_ids(login_as(owner).get(f"/runs/?{query}")) == [runs[i].pk for i in expected]


def test_it_filters_by_date_range(owner, runs, login_as):
    Run.objects.filter(pk=runs[0].pk).update(created_at=timezone.now() - timedelta(days=3))
    today = timezone.now().date()
    assert row_ids(login_as(owner).get(f"/runs/?since={today}")) == [runs[2].pk, runs[1].pk]
    assert row_ids(login_as(owner).get(f"/runs/?until={today - timedelta(days=1)}")) == [runs[0].pk]


def test_it_names_a_bad_filter_instead_of_failing(owner, runs, login_as):
    response = login_as(owner).get("/runs/?status=exploded&since=2026-02-30")
    assert response.status_code == 422
    page = response.content.decode()
    assert "Status: Select a valid choice" in page
    assert "From: Enter a valid date" in page or "Since: Enter a valid date" in page


def test_it_pages_with_a_cursor(owner, login_as):
    made = [RunFactory(workspace=owner.workspace).pk for _ in range(PAGE + 5)]
    client = login_as(owner)
    first = client.get("/runs/")
    assert row_ids(first) == sorted(made, reverse=True)[:PAGE]
    cursor = sorted(made, reverse=True)[PAGE - 1]
    assert f"before={cursor}" in first.content.decode()
    second = client.get(f"/runs/?before={cursor}")
    assert row_ids(second) == sorted(made, reverse=True)[PAGE:]
    assert "Older runs" not in second.content.decode()


def test_it_serves_only_the_rows_for_live_refresh(owner, runs, login_as):
    response = login_as(owner).get("/runs/?status=failed", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.strip().startswith('<tbody id="run-rows">')
    assert "<nav" not in html
    assert row_ids(response) == [runs[1].pk]


def test_a_workflow_has_its_own_runs_tab(owner, outsider, login_as):
    flow = WorkflowFactory(workspace=owner.workspace, name="Triage")
    mine = RunFactory(workspace=owner.workspace, workflow_id=flow.pk)
    RunFactory(workspace=owner.workspace, workflow_id=flow.pk + 1000)
    response = login_as(owner).get(f"/workflows/{flow.pk}/runs/")
    assert row_ids(response) == [mine.pk]
    assert login_as(outsider).get(f"/workflows/{flow.pk}/runs/").status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_it_reruns_with_the_same_input_on_the_same_or_the_latest_version(owner, login_as):
    flow = WorkflowFactory(workspace=owner.workspace, name="Triage", draft=GRAPH)
    v1 = WorkflowVersionFactory(workflow=flow, number=1, graph=GRAPH)
    old = RunFactory(
        workspace=owner.workspace,
        workflow_id=flow.pk,
        workflow_name="Triage",
        version_id=v1.pk,
        version_number=1,
        input={"a": 1},
        status="failed",
    )
    WorkflowVersionFactory(workflow=flow, number=2, graph=GRAPH)
    client = login_as(owner)
    same = client.post_json(f"/api/v1/runs/{old.pk}/rerun").json()
    latest = client.post_json(f"/api/v1/runs/{old.pk}/rerun?latest=true").json()
    assert (same["version_number"], same["input"]) == (1, {"a": 1})
    assert (latest["version_number"], latest["input"]) == (2, {"a": 1})
    assert same["id"] != old.pk


def test_a_rerun_on_latest_needs_a_published_version(owner, login_as):
    flow = WorkflowFactory(workspace=owner.workspace, draft=GRAPH)
    old = RunFactory(workspace=owner.workspace, workflow_id=flow.pk, is_test=True)
    response = login_as(owner).post_json(f"/api/v1/runs/{old.pk}/rerun?latest=true")
    assert response.status_code == 409
    assert "no published version" in response.json()["error"]["message"]


def test_only_owners_see_tracebacks(owner, teammate, login_as):
    run = RunFactory(workspace=owner.workspace)
    run.node_runs.create(
        node_id="start",
        node_type="trigger",
        status="failed",
        error={"code": "x", "message": "boom", "traceback": "Traceback..."},
    )
    as_owner = login_as(owner).get(f"/api/v1/runs/{run.pk}").json()["nodes"][0]["error"]
    as_editor = login_as(teammate).get(f"/api/v1/runs/{run.pk}").json()["nodes"][0]["error"]
    assert as_owner["traceback"] == "Traceback..."
    assert "traceback" not in as_editor
    assert as_editor["message"] == "boom"


def test_it_shows_run_durations_readably(owner, login_as):
    started = timezone.now()
    RunFactory(workspace=owner.workspace, started_at=started, finished_at=started + timedelta(milliseconds=850))
    RunFactory(workspace=owner.workspace, started_at=started, finished_at=started + timedelta(seconds=12.4))
    RunFactory(workspace=owner.workspace, started_at=started, finished_at=started + timedelta(seconds=185))
    page = login_as(owner).get("/runs/").content.decode()
    assert "850 ms" in page
    assert "12.4 s" in page
    assert "3 min 5 s" in page
