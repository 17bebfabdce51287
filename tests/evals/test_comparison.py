"""Comparing two eval runs: v1 against the draft, which fixes one row and breaks another."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts import tokens
from evals import comparison
from evals.models import EvalRun, EvalSet
from tests.evals.labelled import labelled_workflow, scored
from tests.factories import RunFactory, WorkflowFactory


@pytest.fixture
def compared(in_process, owner):
    workflow, v1, eval_set = labelled_workflow(owner.workspace, owner.user)
    return workflow, scored(eval_set, v1, owner.user), scored(eval_set, None, owner.user)


def test_it_finds_the_regression_and_the_fix(compared, login_as, owner):
    workflow, base, draft = compared

    summary = comparison.summarize(base, draft)
    regressions, more = comparison.row_page(base, draft, "regressions")
    everything, _ = comparison.row_page(base, draft)
    charts = comparison.distributions(base, draft)
    page = login_as(owner).get(
        reverse("builder:eval-compare", args=[workflow.pk]) + f"?base={base.pk}&candidate={draft.pk}"
    )

    assert (summary.compared, summary.regressions, summary.fixes) == (3, 1, 1)
    exact, shape = summary.scorers
    assert (exact.name, exact.points, exact.regressions, exact.fixes) == ("category_exact", 0.0, 1, 1)
    assert (shape.points, shape.regressions, shape.fixes) == (0.0, 0, 0)
    assert [(row.index, row.change) for row in regressions] == [(2, "regression")]
    assert more is False
    assert [row.change for row in everything] == ["same", "fix", "regression"]
    assert [(s.op, s.text) for s in regressions[0].diff if s.op != "same"] == [
        ("del", "refund: "),
        ("ins", "<i>billing</i>: "),
    ]
    assert charts["category_exact"] == {"labels": ["0", "1"], "base": [1, 2], "candidate": [1, 2]}
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('data-change="regression"') == 1
    assert html.count('data-change="fix"') == 1
    assert "<i>billing" not in html
    assert "&lt;i&gt;billing" in html


def test_it_answers_over_the_api_with_regressions_only(compared, owner, outsider):
    _, base, draft = compared
    mine = tokens.issue(owner.workspace, owner.user, "ci", ["runs:read"], None).secret
    theirs = tokens.issue(outsider.workspace, outsider.user, "ci", ["runs:read"], None).secret
    url = f"/api/v1/eval-runs/{base.pk}/compare/{draft.pk}?only=regressions"

    response = Client().get(url, headers={"Authorization": f"Bearer {mine}"})
    refused = Client().get(url, headers={"Authorization": f"Bearer {theirs}"})

    body = response.json()
    assert response.status_code == 200
    assert (body["regressions"], body["fixes"], body["next_after"]) == (1, 1, None)
    assert [(row["index"], row["change"], row["expected"]) for row in body["rows"]] == [
        (2, "regression", {"category": "refund"})
    ]
    assert body["scorers"][0]["name"] == "category_exact"
    assert refused.status_code == 404


@pytest.mark.django_db
def test_it_refuses_runs_of_different_sets_or_unscored_naming_the_field(owner):
    workflow = WorkflowFactory(workspace=owner.workspace)

    def eval_run(set_name: str, aggregates: dict | None) -> EvalRun:
        eval_set, _ = EvalSet.objects.get_or_create(workspace=owner.workspace, workflow=workflow, name=set_name)
        run = RunFactory(workspace=owner.workspace)
        return EvalRun.objects.create(
            workspace=owner.workspace, eval_set=eval_set, workflow=workflow, run=run, row_count=0, aggregates=aggregates
        )

    base, other_set, unscored = eval_run("A", {"rows": 0}), eval_run("B", {"rows": 0}), eval_run("A", None)

    with pytest.raises(comparison.NotComparable) as different:
        comparison.summarize(base, other_set)
    with pytest.raises(comparison.NotComparable) as running:
        comparison.summarize(base, unscored)

    assert (different.value.field, str(different.value)) == (
        "candidate",
        "the two eval runs are of different eval sets",
    )
    assert running.value.field == "candidate"
    assert "has not finished scoring yet" in str(running.value)
