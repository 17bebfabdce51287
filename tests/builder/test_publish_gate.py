"""The publish gate: a worse draft refused with its reasons, an owner's override kept, a better draft published."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts import tokens
from accounts.models import AuditEntry
from builder.models import PublishGate, Workflow
from evals.models import EvalRun
from tests.engine.running import wait_for
from tests.evals.labelled import RIGHT, WRONG, labelled_workflow


def bearer(member, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.issue(member.workspace, member.user, 'ci', list(scopes), None).secret}"}


def gated(owner, draft: str):
    workflow, _, eval_set = labelled_workflow(owner.workspace, owner.user, draft=draft)
    PublishGate.objects.create(
        workflow=workflow, eval_set=eval_set, scorer="category_exact", min_pass_rate=0.6, max_drop_points=2
    )
    return workflow


def finish_evals(workflow: Workflow) -> None:
    for eval_run in EvalRun.objects.filter(workflow=workflow):
        wait_for(eval_run.run)


def test_it_refuses_a_worse_draft_with_reasons_and_records_an_owners_override(in_process, owner, teammate, login_as):
    workflow = gated(owner, WRONG)
    page = login_as(owner)
    versions = reverse("builder:workflow-versions", args=[workflow.pk])

    checked = page.post_form(reverse("builder:check-draft", args=[workflow.pk]))
    finish_evals(workflow)
    started = EvalRun.objects.filter(workflow=workflow).count()
    refused = page.post_form(versions, {"note": "shorter labels"})
    by_editor = login_as(teammate).post_form(versions, {"note": "anyway", "override_note": "I know"})
    overridden = page.post_form(versions, {"note": "shorter labels", "override_note": "The set is out of date"})

    assert checked.status_code == 302
    assert reverse("builder:eval-compare", args=[workflow.pk]) in checked["Location"]
    assert started == 2
    assert EvalRun.objects.filter(workflow=workflow).count() == 2  # the gate reused the fresh eval runs
    assert refused.status_code == 422
    html = refused.content.decode()
    assert "<code>min_pass_rate</code> &#x27;category_exact&#x27; has a pass rate of 0.0% on the draft" in html
    assert "<code>max_drop_points</code> &#x27;category_exact&#x27; falls 66.7 points below v1" in html
    assert "See the comparison" in html
    assert by_editor.status_code == 403
    assert overridden.status_code == 302
    version = workflow.latest_version()
    assert version is not None
    assert (version.number, version.gate_override_note) == (2, "The set is out of date")
    assert version.gate_report["overridden"] is True
    assert [r["rule"] for r in version.gate_report["reasons"]] == ["min_pass_rate", "max_drop_points"]
    entry = AuditEntry.objects.get(action="workflow.gate_overridden")
    assert entry.details["note"] == "The set is out of date"


def test_it_publishes_a_better_draft_once_its_evaluation_is_scored(in_process, owner):
    workflow = gated(owner, RIGHT)
    url = f"/api/v1/workflows/{workflow.pk}/publish"

    waiting = Client().post(
        url, {"note": "labels"}, content_type="application/json", headers=bearer(owner, "workflows:write")
    )
    finish_evals(workflow)
    published = Client().post(
        url, {"note": "labels"}, content_type="application/json", headers=bearer(owner, "workflows:write")
    )

    assert waiting.status_code == 409
    assert waiting.json()["error"]["message"].startswith("gate: the eval runs")
    assert published.status_code == 201
    version = workflow.latest_version()
    assert version is not None
    assert version.gate_report["passed"] is True
    assert version.gate_override_note == ""


@pytest.mark.django_db
def test_it_lets_only_owners_set_a_gate_and_names_the_bad_setting(owner, teammate):
    workflow, _, eval_set = labelled_workflow(owner.workspace, owner.user)
    url = f"/api/v1/workflows/{workflow.pk}/publish-gate"
    body = {"eval_set_id": eval_set.pk, "scorer": "category_exact", "min_pass_rate": 0.9, "max_drop_points": 2}

    by_editor = Client().put(url, body, content_type="application/json", headers=bearer(teammate, "workflows:write"))
    unknown = Client().put(
        url, {**body, "scorer": "nope"}, content_type="application/json", headers=bearer(owner, "workflows:write")
    )
    saved = Client().put(url, body, content_type="application/json", headers=bearer(owner, "workflows:write"))
    read = Client().get(url, headers=bearer(teammate, "workflows:read"))

    assert by_editor.status_code == 403
    assert unknown.status_code == 422
    assert unknown.json()["error"]["message"].startswith("scorer:")
    assert saved.status_code == 200
    assert read.json()["rule"] == (
        "On Labelled tickets: pass rate of category_exact ≥ 0.9 "
        "and no scorer more than 2 points below the published version"
    )
