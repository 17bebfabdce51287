"""Eval runs in process: a published version or the draft over a set, every row scored, aggregates recorded; side
effects recorded instead of sent; the judge billed as evaluation spend; an empty set refused."""

from decimal import Decimal

import pytest

from approvals.models import ApprovalRequest
from engine import runs, workspace_embeddings
from engine.models import BudgetScope, CostEntry, Run, RunPurpose, WebhookDelivery
from engine.providers import BUILTIN_EMBEDDING_MODEL
from evals import eval_runs, sets
from evals.models import EvalResult
from evals.scorers import ScorerSpec
from evals.sets import EvalSetInvalid, NewRow
from tests.engine.graphs import chain, edge, node
from tests.engine.graphs import graph as build
from tests.engine.running import wait_for
from tests.factories import (
    BudgetFactory,
    ModelPriceFactory,
    ProviderConfigFactory,
    WorkflowFactory,
    WorkflowVersionFactory,
)

pytestmark = pytest.mark.usefixtures("in_process")

SCHEMA = {"type": "object", "required": ["subject"], "properties": {"subject": {"type": "string"}}}


def triage_graph(reply_url: str, category: str = "{{ input.subject | lower }}") -> dict:
    label = node("label", "transform", fields={"category": category, "reply": "About {{ input.subject }}: done."})
    reply = node("reply", "reply", answer="{{ nodes.label.reply }}", callback_url=reply_url)
    hook = node("hook", "http_request", method="POST", url=reply_url, body={"sent": True})
    return chain(node("start", "trigger", input_schema=SCHEMA), label, hook, reply)


@pytest.fixture
def triage(workspace, server):
    workspace.http_allowlist = ["127.0.0.1"]
    workspace.save(update_fields=["http_allowlist"])
    graph = triage_graph(f"{server.url}/replies")
    workflow = WorkflowFactory(workspace=workspace, name="Triage", draft=graph)
    return WorkflowVersionFactory(workflow=workflow, graph=graph, number=1)


@pytest.fixture
def eval_set(triage, owner):
    found = sets.create_set(triage.workflow, "Labelled tickets", owner.user)
    rows = [
        NewRow({"subject": "Billing"}, {"category": "billing", "reply": "About Billing: done."}),
        NewRow({"subject": "Login"}, {"category": "account"}),
        NewRow({"subject": "Refund"}, {"category": "refund"}),
    ]
    sets.add_rows(found, rows, owner.user)
    sets.save_scorer(
        found, ScorerSpec("category_exact", "exact", "nodes.label.category", {}, 1.0, "category"), owner.user
    )
    sets.save_scorer(found, ScorerSpec("polite", "regex", "answer", {"pattern": r"^About \w+"}, 1.0), owner.user)
    judge = {"provider": "builtin", "rubric": "The reply answers the ticket's subject.", "scale": "pass_fail"}
    sets.save_scorer(found, ScorerSpec("judge", "judge", "answer", judge, 1.0, "reply"), owner.user)
    return found


def test_it_scores_every_row_of_a_published_version(eval_set, triage, owner, server):
    eval_run = eval_runs.start_eval_run(eval_set, triage, owner.user)
    run = wait_for(eval_run.run)
    assert run.status == "succeeded"
    eval_run.refresh_from_db()
    figures = eval_run.aggregates
    assert figures["rows"] == 3
    assert figures["succeeded"] == 3
    assert figures["scorers"]["category_exact"] | {} == {
        "kind": "exact",
        "threshold": 1.0,
        "passed": 2,
        "failed": 1,
        "errored": 0,
        "pass_rate": 0.6667,
        "mean_score": 0.6667,
    }
    assert figures["scorers"]["polite"]["passed"] == 3
    assert figures["latency_p50_ms"] is not None
    assert figures["latency_p95_ms"] is not None
    login = EvalResult.objects.get(eval_run=eval_run, index=1)
    assert login.output == {"answer": "About Login: done."}
    assert login.scores["category_exact"]["passed"] is False
    assert login.passed is False
    assert login.run_id is not None


def test_an_eval_run_sends_no_reply_and_no_write_request(eval_set, triage, owner, server):
    eval_run = eval_runs.start_eval_run(eval_set, triage, owner.user)
    wait_for(eval_run.run)
    assert server.requests() == []
    row_run = Run.objects.get(pk=EvalResult.objects.get(eval_run=eval_run, index=0).run_id)
    assert row_run.purpose == RunPurpose.EVALUATION
    assert row_run.is_test
    outputs = dict(row_run.node_runs.values_list("node_id", "output"))
    assert outputs["reply"]["would_send"]["url"] == f"{server.url}/replies"
    assert outputs["hook"]["would_send"]["method"] == "POST"


def test_the_draft_runs_as_it_is_now(eval_set, triage, owner, server):
    workflow = triage.workflow
    category = "{{ input.subject | lower | replace('login', 'account') }}"
    workflow.draft = triage_graph(f"{server.url}/replies", category=category)
    workflow.save()
    eval_run = eval_runs.start_eval_run(eval_set, None, owner.user)
    wait_for(eval_run.run)
    eval_run.refresh_from_db()
    assert eval_run.version_number is None
    assert eval_run.draft_revision == workflow.draft_revision
    assert eval_run.aggregates["scorers"]["category_exact"]["passed"] == 3


def test_the_offline_judge_is_billed_as_evaluation_spend(eval_set, triage, owner):
    eval_run = eval_runs.start_eval_run(eval_set, triage, owner.user)
    wait_for(eval_run.run)
    judged = CostEntry.objects.filter(run_id=eval_run.run_id, node_type="eval_judge")
    assert judged.count() == 3
    assert {entry.purpose for entry in judged} == {RunPurpose.EVALUATION}
    assert all(entry.tokens_in > 0 for entry in judged)
    assert EvalResult.objects.get(eval_run=eval_run, index=0).scores["judge"]["passed"] is True


def similar_replies(triage, owner):
    """Two rows whose reply is "About <subject>: done.": expected nearly that, and something else."""
    found = sets.create_set(triage.workflow, "Replies", owner.user)
    rows = [
        NewRow({"subject": "Billing"}, {"reply": "About Billing: it is done."}),
        NewRow({"subject": "Login"}, {"reply": "Reset your password from the sign-in page"}),
    ]
    sets.add_rows(found, rows, owner.user)
    sets.save_scorer(found, ScorerSpec("similar", "similarity", "answer", {}, 0.5, "reply"), owner.user)
    return found


def test_similarity_is_scored_on_embeddings_billed_as_evaluation_spend(triage, owner):
    ModelPriceFactory(provider_kind="builtin", model=BUILTIN_EMBEDDING_MODEL, input_per_million=Decimal(1000))
    eval_run = eval_runs.start_eval_run(similar_replies(triage, owner), triage, owner.user)
    wait_for(eval_run.run)
    close, far = EvalResult.objects.filter(eval_run=eval_run).order_by("index")
    assert close.scores["similar"]["passed"] is True
    assert close.scores["similar"]["score"] > 0.5
    assert far.scores["similar"]["passed"] is False
    assert far.scores["similar"]["score"] < close.scores["similar"]["score"]
    embedded = CostEntry.objects.filter(run_id=eval_run.run_id, model=BUILTIN_EMBEDDING_MODEL)
    assert embedded.count() == 2
    assert {entry.purpose for entry in embedded} == {RunPurpose.EVALUATION}
    assert all(entry.tokens_in > 0 and entry.cost > 0 for entry in embedded)
    assert close.cost >= min(entry.cost for entry in embedded) > 0


def test_similarity_over_the_budget_is_errored_not_failed(triage, owner, workspace):
    ModelPriceFactory(provider_kind="builtin", model=BUILTIN_EMBEDDING_MODEL, input_per_million=Decimal(1000))
    BudgetFactory(workspace=workspace, name="Per run", scope=BudgetScope.RUN, limit=Decimal("0.000001"))
    eval_run = eval_runs.start_eval_run(similar_replies(triage, owner), triage, owner.user)
    wait_for(eval_run.run)
    eval_run.refresh_from_db()
    figures = eval_run.aggregates["scorers"]["similar"]
    assert (figures["errored"], figures["passed"], figures["failed"]) == (2, 0, 0)
    detail = EvalResult.objects.filter(eval_run=eval_run).first().scores["similar"]["detail"]
    assert "the embeddings failed" in detail
    assert not CostEntry.objects.filter(run_id=eval_run.run_id, model=BUILTIN_EMBEDDING_MODEL).exists()


def test_an_empty_set_is_refused(triage, owner):
    empty = sets.create_set(triage.workflow, "Empty", owner.user)
    with pytest.raises(EvalSetInvalid, match="has no rows") as refused:
        eval_runs.start_eval_run(empty, triage, owner.user)
    assert refused.value.field == "eval_set_id"
    assert not Run.objects.filter(purpose=RunPurpose.EVALUATION).exists()


def test_an_evaluation_run_escalates_silently_and_queues_no_completion_webhook(workspace, server):
    workspace.http_allowlist = ["127.0.0.1"]
    workspace.save(update_fields=["http_allowlist"])
    graph = chain(node("start", "trigger"), node("upward", "escalate", reason="Too hard", webhook_url=server.url))
    source = runs.RunSource(workspace_id=workspace.pk, graph=graph, callback_urls=(f"{server.url}/done",))
    run = wait_for(runs.start_run(source, {}, runs.Options(is_test=True, purpose=RunPurpose.EVALUATION)))
    assert run.status == "succeeded"
    output = run.node_runs.get(node_id="upward").output
    assert output["notified"] is False
    assert output["would_send"] == {
        "method": "POST",
        "url": server.url,
        "body": {"run_id": run.pk, "reason": "Too hard"},
    }
    assert not WebhookDelivery.objects.filter(run=run).exists()
    assert server.requests() == []


def test_an_evaluation_run_asks_no_reviewer_and_goes_on_with_the_draft(workspace):
    review = node(
        "review",
        "approval",
        fields=[{"name": "reply", "value": "Draft for {{ input.subject }}"}],
    )
    answer = node("answer", "reply", answer="{{ nodes.review.values.reply }}")
    edges = [edge("start", "review"), edge("review", "answer", handle="approved")]
    graph = build(node("start", "trigger"), review, answer, edges=edges)
    source = runs.RunSource(workspace_id=workspace.pk, graph=graph)
    run = wait_for(
        runs.start_run(source, {"subject": "Login"}, runs.Options(is_test=True, purpose=RunPurpose.EVALUATION))
    )
    assert run.status == "succeeded"
    assert run.output == {"answer": "Draft for Login"}
    output = run.node_runs.get(node_id="review").output
    assert (output["decision"], output["would_review"]) == ("approve", True)
    assert not ApprovalRequest.objects.filter(run=run).exists()


def embedding_models_asked(fake) -> list[str]:
    return [seen.body["model"] for seen in fake.seen if seen.path.endswith("/embeddings")]


def test_similarity_embeds_with_the_workspace_model_when_its_scorer_names_none(triage, owner, workspace, fake):
    ProviderConfigFactory(workspace=workspace, name="fake", base_url=fake.url, embedding_models=["embed-small"])
    workspace_embeddings.choose(workspace, "fake", "embed-small")

    eval_run = eval_runs.start_eval_run(similar_replies(triage, owner), triage, owner.user)
    wait_for(eval_run.run)

    assert embedding_models_asked(fake) == ["embed-small", "embed-small"]
    assert eval_run.scorers[0]["config"] == {"provider": "fake", "model": "embed-small"}
    assert CostEntry.objects.filter(run_id=eval_run.run_id, model="embed-small").count() == 2
    assert not CostEntry.objects.filter(run_id=eval_run.run_id, model=BUILTIN_EMBEDDING_MODEL).exists()


def test_a_similarity_scorer_that_names_its_model_keeps_it(triage, owner, workspace, fake):
    models = ["embed-small", "embed-large"]
    ProviderConfigFactory(workspace=workspace, name="fake", base_url=fake.url, embedding_models=models)
    workspace_embeddings.choose(workspace, "fake", "embed-small")
    found = similar_replies(triage, owner)
    named = {"provider": "fake", "model": "embed-large"}
    spec = ScorerSpec("similar", "similarity", "answer", named, 0.5, "reply")
    sets.save_scorer(found, spec, owner.user, found.scorers.get(name="similar"))

    eval_run = eval_runs.start_eval_run(found, triage, owner.user)
    wait_for(eval_run.run)

    assert embedding_models_asked(fake) == ["embed-large", "embed-large"]
