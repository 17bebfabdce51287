"""GET /api/v1/costs/summary: spend by workflow, model and day, for tokens with runs:read."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts import tokens
from engine.models import CostEntry

pytestmark = pytest.mark.django_db


def bearer(member, *scopes: str) -> dict[str, str]:
    secret = tokens.issue(member.workspace, member.user, "reports", list(scopes), None).secret
    return {"Authorization": f"Bearer {secret}"}


def test_it_sums_spend_by_workflow_model_and_day(owner, spend):
    response = Client().get("/api/v1/costs/summary", headers=bearer(owner, "runs:read"))

    assert response.status_code == 200
    body = response.json()
    entries = list(CostEntry.objects.filter(workspace=owner.workspace))
    total = sum((entry.cost for entry in entries), Decimal(0))
    assert Decimal(body["totals"]["cost"]) == total
    for part in ("by_workflow", "by_model", "by_day"):
        assert sum(Decimal(row["cost"]) for row in body[part]) == total
    assert {row["workflow_name"] for row in body["by_workflow"]} == {"Triage", "Refunds"}
    assert body["by_day"][0]["day"] < body["by_day"][-1]["day"]
    assert body["until"] == timezone.localdate().isoformat()


def test_it_narrows_by_dates_and_model(owner, spend):
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = Client().get(f"/api/v1/costs/summary?since={since}&model=gpt-mini", headers=bearer(owner, "runs:read"))

    body = response.json()
    assert [row["model"] for row in body["by_model"]] == ["gpt-mini"]
    assert body["totals"]["calls"] == 3
    assert len(body["by_day"]) == 2


def test_it_needs_the_runs_read_scope(owner, spend):
    response = Client().get("/api/v1/costs/summary", headers=bearer(owner, "workflows:read"))
    assert response.status_code == 403
    assert "runs:read" in response.json()["error"]["message"]


def test_it_shows_a_token_only_its_own_workspace(owner, outsider, spend):
    body = Client().get("/api/v1/costs/summary", headers=bearer(outsider, "runs:read")).json()
    assert [row["workflow_name"] for row in body["by_workflow"]] == ["Theirs"]


def test_it_names_the_field_of_a_bad_range(owner):
    client = Client()
    response = client.get("/api/v1/costs/summary?since=2026-05-02&until=2026-05-01", headers=bearer(owner, "runs:read"))
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("until:")
    response = client.get("/api/v1/costs/summary?since=yesterday", headers=bearer(owner, "runs:read"))
    assert response.status_code == 422
    assert "since" in response.json()["error"]["message"]
    assert client.get("/api/v1/costs/summary").status_code == 401
