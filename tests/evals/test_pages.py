"""The evaluation pages: a workflow's eval sets and corrections, an eval set's rows and scorers with refusals
shown, an eval run from its set page to its results, "add to eval set" on a run's page, and outsiders kept out."""

import pytest

from evals import sets
from evals.models import EvalRow, EvalRun, EvalSet, Scorer
from tests.engine.graphs import chain, node
from tests.engine.running import wait_for
from tests.factories import RunFactory, WorkflowFactory, WorkflowVersionFactory

SCHEMA = {"type": "object", "required": ["subject"], "properties": {"subject": {"type": "string"}}}


@pytest.fixture
def triage(workspace):
    label = node("label", "transform", fields={"category": "{{ input.subject | lower }}"})
    graph = chain(node("start", "trigger", input_schema=SCHEMA), label)
    workflow = WorkflowFactory(workspace=workspace, name="Triage", draft=graph)
    return WorkflowVersionFactory(workflow=workflow, graph=graph, number=1)


@pytest.mark.django_db
def test_it_creates_a_set_adds_rows_and_a_scorer_and_shows_refusals(owner, triage, login_as):
    client = login_as(owner)
    created = client.post_form(f"/evals/workflows/{triage.workflow_id}/", {"name": "Tickets"})
    eval_set = EvalSet.objects.get(workflow=triage.workflow)
    assert created.status_code == 302
    assert created["Location"] == f"/evals/sets/{eval_set.pk}/"
    rows = '{"input": {"subject": "Billing"}, "expected": {"category": "billing"}}\n{"input": {"subject": 3}}'
    refused = client.post_form(f"/evals/sets/{eval_set.pk}/rows/", {"rows": rows})
    assert refused.status_code == 422
    assert "row 2, subject: 3 is not of type" in refused.content.decode()
    assert not EvalRow.objects.exists()
    client.post_form(f"/evals/sets/{eval_set.pk}/rows/", {"rows": rows.splitlines()[0]})
    bad = {"name": "r", "kind": "regex", "config": '{"pattern": "(a"}', "threshold": "1"}
    page = client.post_form(f"/evals/sets/{eval_set.pk}/scorers/", bad)
    assert page.status_code == 422
    assert "does not compile" in page.content.decode()
    good = {"name": "exact", "kind": "exact", "field": "category", "config": "", "threshold": "1"}
    assert client.post_form(f"/evals/sets/{eval_set.pk}/scorers/", good).status_code == 302
    shown = client.get(f"/evals/sets/{eval_set.pk}/").content.decode()
    assert 'data-scorer="exact"' in shown
    assert 'data-row="1"' in shown
    assert Scorer.objects.get().field == "category"


@pytest.mark.usefixtures("in_process")
def test_an_eval_run_started_from_its_set_page_shows_its_results(owner, triage, login_as):
    eval_set = sets.create_set(triage.workflow, "Tickets", owner.user)
    sets.add_rows(eval_set, [sets.NewRow({"subject": "<b>Billing</b>"}, {"category": "<b>billing</b>"})], owner.user)
    sets.save_scorer(eval_set, sets.ScorerSpec("exact", "exact", "category", {}, 1.0), owner.user)
    client = login_as(owner)
    started = client.post_form(f"/evals/sets/{eval_set.pk}/runs/", {"version": "1", "concurrency": "5"})
    eval_run = EvalRun.objects.get()
    assert started["Location"] == f"/evals/runs/{eval_run.pk}/"
    wait_for(eval_run.run)
    page = client.get(started["Location"]).content.decode()
    assert 'data-passed="true"' in page
    assert "&lt;b&gt;billing&lt;/b&gt;" in page
    assert "<b>billing" not in page
    assert 'id="eval-aggregates"' in page


@pytest.mark.django_db
def test_a_run_is_added_to_an_eval_set_from_its_page(owner, outsider, triage, login_as):
    eval_set = sets.create_set(triage.workflow, "Tickets", owner.user)
    run = RunFactory(
        workspace=owner.workspace, workflow_id=triage.workflow_id, input={"subject": "Login"}, status="succeeded"
    )
    run.output = {"category": "login"}
    run.save()
    client = login_as(owner)
    assert f'value="{eval_set.pk}"' in client.get(f"/evals/add-run/{run.pk}/").content.decode()
    added = client.post_form(
        f"/evals/add-run/{run.pk}/", {"eval_set": eval_set.pk, "expected": '{"category": "account"}'}
    )
    assert added.status_code == 302
    row = EvalRow.objects.get()
    assert (row.input, row.expected, row.source, row.origin["run_id"]) == (
        {"subject": "Login"},
        {"category": "account"},
        "run",
        run.pk,
    )
    assert login_as(outsider).get(f"/evals/add-run/{run.pk}/").status_code == 404
    assert login_as(outsider).get(f"/evals/sets/{eval_set.pk}/").status_code == 404
