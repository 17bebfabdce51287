"""Billing: the price at the time of the call, once per call, rolled up by day."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engine import costs
from engine.models import CostDaily, CostEntry, ModelPrice, NodeRun
from engine.sql import lookups
from tests.factories import RunFactory

pytestmark = pytest.mark.django_db

CALL = costs.Call(provider="OpenAI", provider_kind="openai_compatible", model="gpt-x", tokens_in=1000, tokens_out=500)


@pytest.fixture
def run():
    run = RunFactory(workflow_id=7, workflow_name="Triage", version_number=3, trigger_kind="api")
    NodeRun.objects.create(run=run, node_id="draft", node_type="generate")
    return run


@pytest.fixture
def price():
    return ModelPrice.objects.create(
        provider_kind="openai_compatible",
        model="gpt-x",
        input_per_million=Decimal("2.50"),
        output_per_million=Decimal("10"),
        effective_from=timezone.now() - timedelta(days=30),
    )


def test_it_bills_tokens_at_the_price_per_million(run, price):
    entry = costs.record(run.pk, "draft", "generate", 1, CALL)

    assert entry is not None
    assert entry.cost == Decimal("0.007500")
    run.refresh_from_db()
    assert run.cost == Decimal("0.007500")
    assert NodeRun.objects.get(run=run).cost == Decimal("0.007500")


def test_it_bills_a_call_once_when_it_is_recorded_twice(run, price):
    costs.record(run.pk, "draft", "generate", 1, CALL)

    assert costs.record(run.pk, "draft", "generate", 1, CALL) is None
    assert CostEntry.objects.count() == 1
    run.refresh_from_db()
    assert run.cost == Decimal("0.007500")
    assert CostDaily.objects.get().calls == 1


def test_it_keeps_the_old_price_for_past_calls(run, price):
    first = costs.record(run.pk, "draft", "generate", 1, CALL)
    ModelPrice.objects.create(
        provider_kind="openai_compatible",
        model="gpt-x",
        input_per_million=Decimal("5"),
        output_per_million=Decimal("20"),
        effective_from=timezone.now(),
    )
    second = costs.record(run.pk, "draft", "generate", 2, CALL)

    assert first is not None
    assert second is not None
    first.refresh_from_db()
    assert (first.cost, second.cost) == (Decimal("0.007500"), Decimal("0.015000"))


def test_a_workspace_price_overrides_the_global_one(run, price):
    ModelPrice.objects.create(
        workspace=run.workspace,
        provider_kind="openai_compatible",
        model="gpt-x",
        input_per_million=Decimal("1"),
        output_per_million=Decimal("1"),
        effective_from=timezone.now() - timedelta(days=60),
    )

    entry = costs.record(run.pk, "draft", "generate", 1, CALL)

    assert entry is not None
    assert entry.cost == Decimal("0.001500")


def test_a_cached_answer_costs_nothing_and_records_the_saving(run, price):
    cached = costs.Call(**{**CALL.__dict__, "cached": True})

    entry = costs.record(run.pk, "draft", "generate", 1, cached)

    assert entry is not None
    assert (entry.cost, entry.saved) == (Decimal(0), Decimal("0.007500"))
    day = CostDaily.objects.get()
    assert (day.cached_calls, day.cost, day.saved) == (1, Decimal(0), Decimal("0.007500"))


def test_the_daily_rollup_adds_up_the_entries(run, price):
    for attempt in range(1, 4):
        costs.record(run.pk, "draft", "generate", attempt, CALL)

    day = CostDaily.objects.get()
    assert (day.calls, day.tokens_in, day.tokens_out) == (3, 3000, 1500)
    assert day.cost == sum(CostEntry.objects.values_list("cost", flat=True))
    assert (day.workflow_id, day.version_number, day.trigger_kind) == (7, 3, "api")


def test_an_unpriced_model_costs_nothing(run):
    entry = costs.record(run.pk, "draft", "generate", 1, CALL)

    assert entry is not None
    assert entry.cost == Decimal(0)
    assert entry.price is None


def test_a_bill_is_one_statement_with_its_sums(run, price):
    costs.record(run.pk, "draft", "generate", 1, CALL)  # the statement is prepared on this connection first
    facts = lookups.billing_facts(run.pk)  # as a model call reads them before it bills (lookups.call_facts)

    with CaptureQueriesContext(connection) as sent:
        entry = costs.record(run.pk, "draft", "generate", 2, CALL, 0, price, facts)

    assert len(sent.captured_queries) == 1
    assert entry is not None
    assert entry.pk == CostEntry.objects.get(attempt=2).pk
    run.refresh_from_db()
    assert run.cost == NodeRun.objects.get(run=run).cost == Decimal("0.015000")
    assert CostDaily.objects.get().calls == 2
