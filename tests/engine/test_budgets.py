"""Budgets: refused calls name the budget, concurrent calls cannot overspend, alerts fire once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core import mail
from django.utils import timezone

from engine import budgets
from engine.models import BudgetHold, BudgetScope, BudgetSpend, CostEntry, NodeRun, NodeStatus, RunEvent
from tests.accounts.test_consumers import connect, session_cookie
from tests.engine.graphs import TRIGGER, edge, graph, node
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for
from tests.eventually import eventually
from tests.factories import BudgetFactory, ModelPriceFactory, ProviderConfigFactory, RunFactory
from tests.fake_openai import FakeOpenAI

# Output tokens per call; the fake reports exactly this many, and 1 token in.
MAX_TOKENS = 10
CALL_COST = (1 * Decimal("2.50") + MAX_TOKENS * Decimal("10")) / 1_000_000


@pytest.fixture(scope="module")
def worker_process(shared_worker):
    """Enough threads for fifty model calls at once."""
    with shared_worker.replaced_by(concurrency=60) as worker:
        yield worker


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
    fake.gather = 10

    # Retries allowed, so that a refusal tried again would show as a later attempt.
    run = wait_for(start(workspace, fan_out(50, retry={"max_attempts": 3, "initial_delay_s": 0})), timeout=60)
    settled(run)

    billed = CostEntry.objects.filter(run=run).count()
    # The estimate (prompt and max output tokens) is above a call's actual cost, so fewer than
    # 20 calls hold the budget at once; at least that many must have been made side by side.
    assert 15 <= billed <= 21
    assert fake.peak_in_flight >= 10
    assert len(fake.chat_requests()) == billed
    assert sum(CostEntry.objects.filter(run=run).values_list("cost", flat=True)) <= CALL_COST * 21
    refused = NodeRun.objects.filter(run=run, status="failed", error__code="budget_exceeded")
    assert refused.exists()
    assert 'Budget "Monthly AI"' in refused.first().error["message"]
    assert set(refused.values_list("attempt", flat=True)) == {1}
    assert BudgetHold.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_structured_answers_with_a_repair_overspend_by_at_most_one_call(workspace, provider, fake):
    """Off-schema answers take two exchanges each (the answer and its repair); the estimate must cover both.

    With input tokens free, a node's cost is its output tokens: MAX_TOKENS per exchange. Were
    the repair left out of the estimate, eight nodes would hold a budget meant for four at once
    and bill twice its limit.
    """
    ModelPriceFactory(workspace=workspace, input_per_million=0)
    node_cost = 2 * MAX_TOKENS * Decimal(10) / 1_000_000
    schema = {"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"]}
    BudgetFactory(workspace=workspace, name="Monthly AI", limit=node_cost * 4)

    run = wait_for(start(workspace, fan_out(12, output_schema=schema)), timeout=60)
    settled(run)

    assert len(fake.chat_requests()) % 2 == 0, "every call was repaired once"
    spent = sum(CostEntry.objects.filter(run=run).values_list("cost", flat=True))
    assert node_cost <= spent <= node_cost * 5
    assert NodeRun.objects.filter(run=run, error__code="budget_exceeded").exists()
    assert NodeRun.objects.filter(run=run, error__code="schema_mismatch").exists()


def settled(run, timeout: float = 30):
    """The run fails at its first refusal; calls already in flight finish and bill after that."""
    eventually(
        lambda: (
            not (
                NodeRun.objects.filter(run=run, status="running").exists() or BudgetSpend.objects.filter(reserved__gt=0)
            )
        ),
        timeout,
        message="model calls still in flight",
    )


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
    scope = budgets.Scope(workspace.pk, None, run.pk, "draft", 1)

    budgets.settle(budgets.reserve(scope, Decimal("0.50")), Decimal("0.50"))
    budgets.settle(budgets.reserve(scope, Decimal("0.40")), Decimal("0.40"))
    budgets.settle(budgets.reserve(scope, Decimal("0.05")), Decimal("0.05"))

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

    budgets.settle(budgets.reserve(charged(workspace, 7, first), Decimal("0.50")), Decimal("0.50"))
    budgets.settle(budgets.reserve(charged(workspace, 8, second), Decimal("0.50")), Decimal("0.50"))

    with pytest.raises(budgets.BudgetExceeded, match='Budget "Each run"'):
        budgets.reserve(charged(workspace, 8, second), Decimal("0.20"))
    with pytest.raises(budgets.BudgetExceeded, match='Budget "Triage monthly"'):
        budgets.reserve(charged(workspace, 7, RunFactory(workspace=workspace)), Decimal("0.55"))
    another_workflow = budgets.reserve(charged(workspace, 8, RunFactory(workspace=workspace)), Decimal("0.55"))
    assert (another_workflow.amount, len(another_workflow.hold_ids)) == (Decimal("0.55"), 1)


def charged(workspace, workflow_id: int, run) -> budgets.Scope:
    return budgets.Scope(workspace.pk, workflow_id, run.pk, "draft", 1)


@pytest.mark.django_db
def test_the_sweep_bills_at_their_reservation_only_the_calls_of_attempts_no_longer_running(workspace):
    budget = BudgetFactory(workspace=workspace, name="Monthly AI", limit=Decimal("1.00"))
    run = RunFactory(workspace=workspace)
    NodeRun.objects.create(run=run, node_id="gone", status=NodeStatus.CRASHED, attempt=1)
    NodeRun.objects.create(run=run, node_id="busy", status=NodeStatus.RUNNING, attempt=2)
    lost = budgets.reserve(budgets.Scope(workspace.pk, None, run.pk, "gone", 1), Decimal("0.30"))
    budgets.reserve(budgets.Scope(workspace.pk, None, run.pk, "busy", 2), Decimal("0.20"))
    earlier = budgets.reserve(budgets.Scope(workspace.pk, None, run.pk, "busy", 1), Decimal("0.40"))
    later = timezone.now() + timedelta(seconds=1)

    assert budgets.charge_orphans(timezone.now() - timedelta(seconds=60)) == 0, "holds younger than the grace stay"
    assert budgets.charge_orphans(later) == 2
    assert budgets.charge_orphans(later) == 0

    spend = budget.spends.get()
    assert (spend.reserved, spend.spent, spend.calls) == (Decimal("0.20"), Decimal("0.70"), 2)
    assert list(BudgetHold.objects.values_list("node_id", "attempt")) == [("busy", 2)]
    estimated = CostEntry.objects.filter(run=run, estimated=True).order_by("node_id")
    assert list(estimated.values_list("node_id", "attempt", "cost")) == [
        ("busy", 1, Decimal("0.40")),
        ("gone", 1, Decimal("0.30")),
    ]
    # A worker taken for dead that answers after all: its call was billed at its reservation, not again.
    budgets.settle(lost, Decimal("0.25"))
    budgets.release(earlier)
    spend.refresh_from_db()
    assert (spend.reserved, spend.spent, spend.calls) == (Decimal("0.20"), Decimal("0.70"), 2)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_a_call_crossing_the_alert_percent_tells_the_workspace_pages_live(workspace, owner, provider, fake):
    BudgetFactory(workspace=workspace, name="Monthly AI", limit=CALL_COST * Decimal("1.2"), alert_percent=80)
    draft = node("draft", "generate", provider="fake", model="gpt-test", prompt="hi", max_tokens=MAX_TOKENS)
    data = graph(TRIGGER, draft, edges=[edge("start", "draft")])
    cookie = session_cookie(owner)

    async def scenario() -> tuple[int, dict]:
        socket = connect(cookie)
        connected, _ = await socket.connect()
        assert connected
        await socket.receive_json_from(timeout=5)
        run = await sync_to_async(start)(workspace, data)
        while (message := await socket.receive_json_from(timeout=30))["type"] != "budget.alert":
            pass
        await socket.disconnect()
        return run.pk, message

    run_id, message = async_to_sync(scenario)()

    billed = CostEntry.objects.get(run_id=run_id).cost
    assert (message["budget"], message["spent"], message["alert_percent"]) == ("Monthly AI", str(billed), 80)
    alert = RunEvent.objects.get(run_id=run_id, type="budget.alert")
    assert (alert.node_id, alert.payload["budget"]) == ("draft", "Monthly AI")
