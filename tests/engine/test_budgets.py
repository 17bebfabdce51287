"""Budgets: refused calls name the budget, concurrent calls cannot overspend, alerts fire once."""

import time
from decimal import Decimal

import pytest
from django.core import mail

from config.celery import app
from engine import budgets
from engine.models import BudgetScope, BudgetSpend, CostEntry, NodeRun, RunEvent
from tests.engine.graphs import TRIGGER, edge, graph, node
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for
from tests.factories import BudgetFactory, ModelPriceFactory, ProviderConfigFactory, RunFactory
from tests.fake_openai import FakeOpenAI
from tests.workers import Worker

# Output tokens per call; the fake reports exactly this many, and 1 token in.
MAX_TOKENS = 10
CALL_COST = (1 * Decimal("2.50") + MAX_TOKENS * Decimal("10")) / 1_000_000


@pytest.fixture(scope="module")
def worker_process(django_db_setup, django_db_blocker):
    """Enough threads for fifty model calls at once."""
    app.control.purge()
    worker = Worker(concurrency=60)
    yield worker
    worker.stop()


@pytest.fixture
def fake():
    server = FakeOpenAI(latency_s=0.2, tokens_in=1, tokens_out=MAX_TOKENS)
    yield server
    server.close()


@pytest.fixture
def provider(workspace, fake):
    ModelPriceFactory()
    return ProviderConfigFactory(workspace=workspace, name="fake", base_url=fake.url)


def fan_out(count: int, **params):
    drafts = [
        node(
            f"d{i}",
            "generate",
            provider="fake",
            model="gpt-test",
            prompt=f"ticket {i}",
            max_tokens=MAX_TOKENS,
            **params,
        )
        for i in range(count)
    ]
    return graph(TRIGGER, *drafts, edges=[edge("start", draft["id"]) for draft in drafts])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_it_bills_at_most_one_call_past_a_budget_under_fifty_concurrent_calls(workspace, provider, fake):
    BudgetFactory(workspace=workspace, name="Monthly AI", limit=CALL_COST * 20)

    run = wait_for(start(workspace, fan_out(50)), timeout=60)
    settled(run)

    billed = CostEntry.objects.filter(run=run).count()
    assert 1 <= billed <= 21
    assert len(fake.chat_requests()) == billed
    assert sum(CostEntry.objects.filter(run=run).values_list("cost", flat=True)) <= CALL_COST * 21
    refused = NodeRun.objects.filter(run=run, status="failed", error__code="budget_exceeded")
    assert refused.exists()
    assert 'Budget "Monthly AI"' in refused.first().error["message"]
    assert refused.first().attempt == 1


def settled(run, timeout: float = 30):
    """The run fails at its first refusal; calls already in flight finish and bill after that."""
    deadline = time.monotonic() + timeout
    while NodeRun.objects.filter(run=run, status="running").exists() or BudgetSpend.objects.filter(reserved__gt=0):
        assert time.monotonic() < deadline, "model calls still in flight"
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_it_leaves_by_the_error_handle_when_a_budget_refuses(workspace, provider, fake):
    BudgetFactory(workspace=workspace, name="Per run", scope=BudgetScope.RUN, limit=Decimal("0.00000001"))
    data = graph(
        TRIGGER,
        node("draft", "generate", provider="fake", model="gpt-test", prompt="hi", error_handle=True),
        node("sorry", "transform", fields={"why": "{{ nodes.draft.error.message }}"}),
        node("answer", "reply", answer="{{ nodes.draft.text }}"),
        edges=[edge("start", "draft"), edge("draft", "sorry", "error"), edge("draft", "answer")],
    )

    run = wait_for(start(workspace, data))

    assert run.status == "succeeded"
    assert node_run(run, "draft").handle == "error"
    assert 'Budget "Per run"' in node_run(run, "sorry").output["why"]
    assert node_run(run, "answer").status == "skipped"
    assert fake.chat_requests() == []


@pytest.mark.django_db
def test_it_alerts_once_when_spend_crosses_the_alert_percent(workspace, owner, teammate):
    owner.user.email = "owner@example.com"
    owner.user.save()
    budget = BudgetFactory(workspace=workspace, name="Monthly AI", limit=Decimal("1.00"), alert_percent=80)
    run = RunFactory(workspace=workspace)
    scope = budgets.Scope(workspace.pk, None, run.pk)

    budgets.settle(budgets.reserve(scope, Decimal("0.50")), Decimal("0.50"), "draft")
    budgets.settle(budgets.reserve(scope, Decimal("0.40")), Decimal("0.40"), "draft")
    budgets.settle(budgets.reserve(scope, Decimal("0.05")), Decimal("0.05"), "draft")

    alerts = RunEvent.objects.filter(run=run, type="budget.alert")
    assert [(e.node_id, e.payload["budget"], e.payload["spent"]) for e in alerts] == [
        ("draft", "Monthly AI", "0.900000")
    ]
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]
    assert "Monthly AI" in mail.outbox[0].subject
    with pytest.raises(budgets.BudgetExceeded, match='Budget "Monthly AI"'):
        budgets.reserve(scope, Decimal("0.06"))
    assert budget.spends.get().reserved == 0


@pytest.mark.django_db
def test_it_charges_each_budget_only_for_its_own_workflow_and_run(workspace):
    BudgetFactory(workspace=workspace, name="Triage monthly", scope=BudgetScope.WORKFLOW_MONTH, workflow_id=7, limit=1)
    BudgetFactory(workspace=workspace, name="Each run", scope=BudgetScope.RUN, limit=Decimal("0.60"))
    first, second = RunFactory(workspace=workspace), RunFactory(workspace=workspace)

    budgets.settle(budgets.reserve(budgets.Scope(workspace.pk, 7, first.pk), Decimal("0.50")), Decimal("0.50"), "d")
    budgets.settle(budgets.reserve(budgets.Scope(workspace.pk, 8, second.pk), Decimal("0.50")), Decimal("0.50"), "d")

    with pytest.raises(budgets.BudgetExceeded, match='Budget "Each run"'):
        budgets.reserve(budgets.Scope(workspace.pk, 8, second.pk), Decimal("0.20"))
    with pytest.raises(budgets.BudgetExceeded, match='Budget "Triage monthly"'):
        budgets.reserve(budgets.Scope(workspace.pk, 7, RunFactory(workspace=workspace).pk), Decimal("0.55"))
    assert budgets.reserve(budgets.Scope(workspace.pk, 8, RunFactory(workspace=workspace).pk), Decimal("0.55")).amount
