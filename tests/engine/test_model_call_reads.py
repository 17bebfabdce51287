"""A model call's database round trips on PostgreSQL: what it reads before the call in one, its bill in one."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.models import CostEntry, Run
from engine.providers.base import ChatRequest
from engine.providers.calls import ModelCalls, Target
from engine.registry import NodeContext
from tests.factories import RunFactory

pytestmark = pytest.mark.django_db

REQUEST = ChatRequest(model="gpt-test", messages=({"role": "user", "content": "Where is my parcel?"},))


def test_a_call_reads_its_provider_price_budgets_and_run_in_one_round_trip_and_bills_in_another(
    workspace, provider, price, fake
):
    workspace.http_allowlist = ["127.0.0.1"]
    workspace.save(update_fields=["http_allowlist"])
    earlier, run = RunFactory(workspace=workspace), RunFactory(workspace=workspace)

    def calls(run: Run) -> ModelCalls:
        ctx = NodeContext(
            run_id=run.pk, workspace_id=workspace.pk, node_id="draft", attempt=1, params=None, scope={},
            deadline=time.monotonic() + 30, workflow_id=run.workflow_id,
        )  # fmt: skip
        return ModelCalls(ctx, "generate")

    # The statements are prepared on this connection first, by a call of another run (calls of one run
    # starting together share their reads: engine.providers.shared_facts).
    calls(earlier).chat([Target("fake", "gpt-test")], REQUEST)

    with CaptureQueriesContext(connection) as sent:
        answer = calls(run).chat([Target("fake", "gpt-test")], REQUEST)

    assert answer.text == fake.default_answer
    queries = [query["sql"] for query in sent.captured_queries]
    # Before the call: its reads, then its budget hold (how a crash mid-call is billed); after: the bill, then
    # the budgets settled in a savepoint.
    hold = next(i for i, sql in enumerate(queries) if sql.startswith('INSERT INTO "engine_budgethold"'))
    settled = next(i for i, sql in enumerate(queries) if sql.startswith("SAVEPOINT"))
    assert (hold, settled - hold - 1) == (1, 1)
    assert CostEntry.objects.filter(run=run).count() == 1
