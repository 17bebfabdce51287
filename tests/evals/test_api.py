"""The evaluations API: eval sets, rows and scorers with 422s naming the row or field; an eval run started, read,
paged and downloaded; a judge on a real (fake) provider billed as evaluation spend in the cost report; token scopes
and another workspace's objects."""

from csv import DictReader
from decimal import Decimal
from io import StringIO

import pytest
from django.test import Client

from accounts import tokens
from accounts.models import Scope
from evals.models import EvalRun
from tests.engine.graphs import chain, node
from tests.engine.running import wait_for
from tests.factories import WorkflowFactory, WorkflowVersionFactory

SCHEMA = {"type": "object", "required": ["subject"], "properties": {"subject": {"type": "string"}}}
ALL = [Scope.WORKFLOWS_READ, Scope.WORKFLOWS_WRITE, Scope.RUNS_READ, Scope.RUNS_TRIGGER]


def token_client(member, scopes) -> Client:
    issued = tokens.issue(member.workspace, member.user, "ci", scopes, None)
    return Client(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


@pytest.fixture
def triage(workspace):
    label = node("label", "transform", fields={"category": "{{ input.subject | lower }}"})
    graph = chain(node("start", "trigger", input_schema=SCHEMA), label)
    workflow = WorkflowFactory(workspace=workspace, name="Triage", draft=graph)
    return WorkflowVersionFactory(workflow=workflow, graph=graph, number=1)


@pytest.fixture
def api(owner):
    return token_client(owner, ALL)


def made_set(api, triage, rows=None):
    created = post(api, "/api/v1/eval-sets", {"workflow_id": triage.workflow_id, "name": "Tickets"})
    assert created.status_code == 201, created.json()
    set_id = created.json()["id"]
    rows = rows or [{"input": {"subject": "Billing"}, "expected": {"category": "billing"}}]
    assert post(api, f"/api/v1/eval-sets/{set_id}/rows", {"rows": rows}).status_code == 201
    return set_id


@pytest.mark.django_db
def test_rows_that_do_not_match_the_trigger_are_refused_naming_row_and_field(api, triage):
    set_id = made_set(api, triage)
    rows = [{"input": {"subject": "Fine"}}, {"input": {"subject": 7}}, {"input": {}}]
    refused = post(api, f"/api/v1/eval-sets/{set_id}/rows", {"rows": rows})
    assert refused.status_code == 422
    problems = refused.json()["error"]["details"]["problems"]
    assert [(p["path"], p["row"]) for p in problems] == [
        ("body.rows[1].input.subject", 3),
        ("body.rows[2].input.subject", 4),
    ]
    assert api.get(f"/api/v1/eval-sets/{set_id}").json()["row_count"] == 1


@pytest.mark.django_db
def test_a_regex_that_does_not_compile_is_refused_naming_the_field(api, triage):
    set_id = made_set(api, triage)
    refused = post(
        api, f"/api/v1/eval-sets/{set_id}/scorers", {"name": "r", "kind": "regex", "config": {"pattern": "(a"}}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["problems"][0]["path"] == "body.config.pattern"
    saved = post(
        api, f"/api/v1/eval-sets/{set_id}/scorers", {"name": "r", "kind": "regex", "config": {"pattern": "a+"}}
    )
    assert saved.status_code == 201
    assert api.get(f"/api/v1/eval-sets/{set_id}").json()["scorers"][0]["config"]["pattern"] == "a+"


@pytest.mark.django_db
def test_a_judge_or_similarity_naming_a_provider_the_workspace_lacks_is_refused_naming_the_field(api, triage):
    set_id = made_set(api, triage)
    url = f"/api/v1/eval-sets/{set_id}/scorers"
    rubric = "Answers the question."

    judge = post(
        api, url, {"name": "j", "kind": "judge", "config": {"provider": "gone", "model": "m", "rubric": rubric}}
    )
    similar = post(api, url, {"name": "s", "kind": "similarity", "config": {"provider": "builtin", "model": "ada-2"}})
    builtin_judge = post(api, url, {"name": "b", "kind": "judge", "config": {"provider": "builtin", "rubric": rubric}})

    assert [judge.status_code, similar.status_code] == [422, 422]
    message = judge.json()["error"]["message"]
    assert message == "body.config.provider: there is no provider named 'gone' in this workspace"
    assert similar.json()["error"]["details"]["problems"][0]["path"] == "body.config.model"
    assert builtin_judge.status_code == 201


@pytest.mark.django_db
def test_an_eval_run_over_an_empty_set_is_refused(api, triage):
    created = post(api, "/api/v1/eval-sets", {"workflow_id": triage.workflow_id, "name": "Empty"}).json()
    refused = post(api, f"/api/v1/eval-sets/{created['id']}/runs", {"version": 1})
    assert refused.status_code == 422
    assert "has no rows" in refused.json()["error"]["message"]
    assert refused.json()["error"]["details"]["problems"][0]["path"] == "body.eval_set_id"
    assert not EvalRun.objects.exists()


@pytest.mark.django_db
def test_ids_and_cursors_beyond_a_64_bit_column_are_refused_naming_the_parameter(api, login_as, owner, triage):
    """SQLite (the embedded mode) cannot bind such an int: these answered 500 there."""
    huge = 2**64
    for url, name in [
        (f"/api/v1/eval-sets?workflow_id={huge}", "query.workflow_id"),
        (f"/api/v1/eval-proposals?workflow_id={huge}", "query.workflow_id"),
        (f"/api/v1/eval-runs?eval_set_id={huge}", "query.eval_set_id"),
        (f"/api/v1/eval-runs/1/compare/2?after={huge}", "query.after"),
    ]:
        refused = api.get(url)
        assert refused.status_code == 422, url
        assert [p["path"] for p in refused.json()["error"]["details"]["problems"]] == [name], url
    page = login_as(owner).get(f"/workflows/{triage.workflow_id}/evals/compare/?base=1&candidate=2&after={huge}")
    assert page.status_code == 422
    assert "after: Ensure this value is less than or equal to" in page.content.decode()


@pytest.mark.django_db
def test_it_keeps_other_workspaces_out_and_needs_scopes(api, triage, outsider, owner):
    set_id = made_set(api, triage)
    stranger = token_client(outsider, ALL)
    assert stranger.get(f"/api/v1/eval-sets/{set_id}").status_code == 404
    assert post(stranger, f"/api/v1/eval-sets/{set_id}/runs", {}).status_code == 404
    reader = token_client(owner, [Scope.WORKFLOWS_READ])
    assert reader.get(f"/api/v1/eval-sets/{set_id}").status_code == 200
    assert post(reader, f"/api/v1/eval-sets/{set_id}/rows", {"rows": [{"input": {"subject": "x"}}]}).status_code == 403
    assert post(reader, f"/api/v1/eval-sets/{set_id}/runs", {}).status_code == 403


@pytest.mark.usefixtures("in_process")
def test_an_eval_run_with_a_failing_judge_marks_rows_errored_and_bills_evaluation_spend(
    api, owner, triage, provider, price, fake
):
    rows = [{"input": {"subject": s}, "expected": {"category": s.lower()}} for s in ("Billing", "Login")]
    set_id = made_set(api, triage, rows)
    exact = {"name": "category_exact", "kind": "exact", "field": "category"}
    judge = {
        "name": "judge",
        "kind": "judge",
        "field": "category",
        "config": {"provider": "fake", "model": "gpt-test", "rubric": "Right category?", "scale": "1-5"},
        "threshold": 4,
    }
    for scorer in (exact, judge):
        assert post(api, f"/api/v1/eval-sets/{set_id}/scorers", scorer).status_code == 201
    fake.answers = ['{"score": 5, "reason": "right"}', "not a score at all", "still not", "nor this"]
    started = post(api, f"/api/v1/eval-sets/{set_id}/runs", {"version": 1, "concurrency": 2})
    assert started.status_code == 201, started.json()
    eval_run = EvalRun.objects.get(pk=started.json()["id"])
    wait_for(eval_run.run)
    body = api.get(f"/api/v1/eval-runs/{eval_run.pk}").json()
    figures = body["aggregates"]["scorers"]
    assert figures["category_exact"]["pass_rate"] == 1.0
    assert (figures["judge"]["passed"], figures["judge"]["errored"], figures["judge"]["mean_score"]) == (1, 1, 5.0)
    page = api.get(f"/api/v1/eval-runs/{eval_run.pk}/results?limit=1").json()
    assert (page["items"][0]["row"], page["has_more"]) == (1, True)
    rest = api.get(f"/api/v1/eval-runs/{eval_run.pk}/results?after=1").json()["items"]
    assert rest[0]["scores"]["judge"]["errored"] is True
    csv_text = b"".join(api.get(f"/api/v1/eval-runs/{eval_run.pk}/results.csv").streaming_content).decode()
    assert csv_text.splitlines()[0].startswith("row,input,expected,output,outcome,category_exact.score")
    columns = ("category_exact.passed", "judge.score", "passed")
    cells = [{name: row[name] for name in columns} for row in DictReader(StringIO(csv_text))]
    # Every pass cell is JSON's true/false (the row's own was Python's True/False beside the scorers' true/false).
    assert cells == [
        {"category_exact.passed": "true", "judge.score": "5.0", "passed": "true"},
        {"category_exact.passed": "true", "judge.score": "", "passed": "false"},
    ]
    summary = Client().get("/api/v1/costs/summary", headers={"Authorization": api.defaults["HTTP_AUTHORIZATION"]})
    totals = summary.json()["totals"]
    assert Decimal(totals["evaluation_cost"]) > 0
    assert Decimal(totals["evaluation_cost"]) == Decimal(totals["test_cost"])


@pytest.mark.django_db
def test_the_scoring_node_is_not_offered_in_the_palette(owner):
    kinds = [kind["kind"] for kind in token_client(owner, [Scope.WORKFLOWS_READ]).get("/api/v1/node-types").json()]
    assert "transform" in kinds
    assert "eval_score" not in kinds
