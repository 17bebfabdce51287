"""The Quality tab: how each published version's production runs ended, from real runs of the ticket-routing demo."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import tokens
from approvals.decisions import Choice, decide
from builder.demo import TICKET_ROUTING
from builder.quality import QualityQuery, by_version, edit_size, over_time
from builder.versions import run_draft, run_version
from engine.models import Run
from engine.runs import Options
from tests.approvals.flows import asking
from tests.engine.running import wait_for
from tests.factories import WorkflowFactory, WorkflowVersionFactory

ROUTINE = {"subject": "Export empty", "body": "The CSV export is empty.", "customer": "Ann"}
REFUND = {"subject": "Broken vase", "body": "It arrived broken, I want a refund.", "customer": "Bo"}
DRAFTED = "Hi Bo, we are looking into \u201cBroken vase\u201d and will come back to you today."


@pytest.fixture
def production(in_process, owner):
    """v1: two routine tickets answered, three refunds reviewed (approved, edited, rejected);
    v2: one routine ticket answered, one refund escalated by the reviewer; plus a test run of the draft."""
    workflow = WorkflowFactory(workspace=owner.workspace, name="Ticket routing", draft=TICKET_ROUTING)
    v1 = WorkflowVersionFactory(workflow=workflow, number=1, graph=TICKET_ROUTING)
    v2 = WorkflowVersionFactory(workflow=workflow, number=2, graph=TICKET_ROUTING)
    choices = [
        Choice("approve"),
        Choice("edit_and_approve", {"reply": DRAFTED.replace("today", "within the hour with a refund")}),
        Choice("reject", comment="Needs the warehouse"),
    ]
    for version, routine, decisions in ((v1, 2, choices), (v2, 1, [Choice("escalate", comment="Legal")])):
        for _ in range(routine):
            wait_for(run_version(version, ROUTINE, Options()))
        for choice in decisions:
            run = run_version(version, REFUND, Options())
            decide(asking(run), owner.user, choice)
            wait_for(run)
    wait_for(run_draft(workflow, ROUTINE, Options()))
    return workflow


def query(workflow, days_back: int = 0, bucket: str = "day") -> QualityQuery:
    today = timezone.localdate()
    return QualityQuery(workflow.workspace_id, workflow.pk, today - timedelta(days=days_back), today, bucket)


def columns(table, row):
    return dict(zip(table.headers, row, strict=True))


def test_it_measures_each_version_from_its_production_runs(production):
    table = by_version(query(production))

    v2, v1 = (columns(table, row) for row in table.rows)
    assert [v2["Version"], v1["Version"]] == [2, 1]
    assert (v1["Runs"], v1["Ended"], v1["Auto-resolved (%)"], v1["Escalated (%)"]) == (
        5,
        5,
        Decimal("40.0"),
        Decimal("20.0"),
    )
    assert (v1["Reviewed"], v1["Approved as is"], v1["Edited"], v1["Rejected"]) == (3, 1, 1, 1)
    # "today." gave way to "within the hour with a refund today.": one word out, six in.
    assert v1["Mean edit size (words)"] == Decimal("7.0")
    assert (v2["Runs"], v2["Auto-resolved (%)"], v2["Escalated (%)"], v2["Reviewed"]) == (
        2,
        Decimal("50.0"),
        Decimal("50.0"),
        1,
    )
    assert (v2["Approved as is"], v2["Edited"], v2["Rejected"], v2["Mean edit size (words)"]) == (0, 0, 0, None)
    assert v1["Cost per run (USD)"] == Decimal("0")
    assert Decimal(0) <= v1["Latency p50 (s)"] <= v1["Latency p95 (s)"]


def test_it_puts_each_run_in_its_period(production):
    moved = Run.objects.filter(workflow_id=production.pk, version_number=1, escalation_reason="").order_by("pk")[:2]
    yesterday = timezone.now() - timedelta(days=1)
    Run.objects.filter(pk__in=[run.pk for run in moved]).update(created_at=yesterday)

    table = over_time(query(production, days_back=1))

    rows = [columns(table, row) for row in table.rows]
    assert [(row["Period"], row["Version"], row["Runs"]) for row in rows] == [
        (yesterday.date().isoformat(), 1, 2),
        (timezone.localdate().isoformat(), 2, 2),
        (timezone.localdate().isoformat(), 1, 3),
    ]
    assert rows[0]["Auto-resolved (%)"] == Decimal("100.0")


def test_it_counts_the_words_a_reviewer_changed():
    fields = [{"name": "reply", "value": "We will refund you today."}, {"name": "note", "value": "x"}]
    assert edit_size(fields, {"reply": "We will refund you tomorrow morning."}) == 3
    assert edit_size(fields, {"reply": "We will refund you today."}) == 0


def test_it_shows_the_same_figures_on_the_tab_in_csv_and_over_the_api(production, owner, login_as):
    client = login_as(owner)
    secret = tokens.issue(owner.workspace, owner.user, "reports", ["runs:read"], None).secret
    response = Client().get(
        f"/api/v1/workflows/{production.pk}/quality?bucket=week", headers={"Authorization": f"Bearer {secret}"}
    )
    page = client.get(reverse("builder:workflow-quality", args=[production.pk]))
    export = client.get(reverse("builder:quality-export", args=[production.pk, "by-version"]))

    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="table-by-version"' in html
    assert 'id="table-over-time"' in html
    assert html.count("<quality-chart") == 5
    assert 'id="quality-data"' in html
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0][:4] == ["Version", "Runs", "Ended", "Auto-resolved (%)"]
    assert [row[:3] for row in rows[1:]] == [["2", "2", "2"], ["1", "5", "5"]]
    assert response.status_code == 200
    body = response.json()
    assert [(row["version"], row["runs"], row["rejected"]) for row in body["by_version"]] == [(2, 2, 0), (1, 5, 1)]
    assert Decimal(body["by_version"][1]["auto_resolved_percent"]) == Decimal("40.0")
    monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    assert {row["period"] for row in body["over_time"]} == {monday.isoformat()}


@pytest.mark.django_db
def test_it_rejects_outsider(owner, outsider, login_as):
    workflow = WorkflowFactory(workspace=owner.workspace)
    secret = tokens.issue(outsider.workspace, outsider.user, "reports", ["runs:read"], None).secret

    page = login_as(outsider).get(reverse("builder:workflow-quality", args=[workflow.pk]))
    export = login_as(outsider).get(reverse("builder:quality-export", args=[workflow.pk, "over-time"]))
    api = Client().get(f"/api/v1/workflows/{workflow.pk}/quality", headers={"Authorization": f"Bearer {secret}"})

    assert (page.status_code, export.status_code, api.status_code) == (404, 404, 404)


@pytest.mark.django_db
def test_it_names_the_field_of_a_bad_range(owner, login_as):
    workflow = WorkflowFactory(workspace=owner.workspace)
    secret = tokens.issue(owner.workspace, owner.user, "reports", ["runs:read"], None).secret

    page = login_as(owner).get(
        reverse("builder:workflow-quality", args=[workflow.pk]) + "?since=2026-05-02&until=2026-05-01"
    )
    api = Client().get(
        f"/api/v1/workflows/{workflow.pk}/quality?bucket=hour", headers={"Authorization": f"Bearer {secret}"}
    )

    assert page.status_code == 422
    assert "The end date is before the start date" in page.content.decode()
    assert api.status_code == 422
    assert api.json()["error"]["message"].startswith("bucket:")
