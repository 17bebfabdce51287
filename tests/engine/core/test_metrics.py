"""Metrics in one process (the embedded mode): /metrics reads this process's registry."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from engine import reaper
from engine.models import BudgetScope, NodeRun, NodeStatus
from tests.engine.graphs import TRIGGER, chain, generate, node
from tests.engine.running import start, wait_for
from tests.factories import BudgetFactory
from tests.fakes import RecordingServer, Reply
from tests.metrics_text import TOKEN, scrape, value


@pytest.fixture
def scraping(settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    settings.PROMETHEUS_MULTIPROC_DIR = ""


def test_it_counts_a_started_and_ended_run_by_workflow(owner, client, scraping):
    before = scrape(client)
    run = wait_for(start(owner.workspace, chain(TRIGGER)))

    found = scrape(client)

    assert run.status == "succeeded"
    workflow = str(run.workflow_id)
    assert value(found, "switchyard_runs_started_total", workflow=workflow) == 1
    assert value(found, "switchyard_runs_ended_total", workflow=workflow, status="succeeded") == 1
    assert value(found, "switchyard_runs_ended_total", workflow=workflow, status="failed") == 0
    lag = "switchyard_node_queue_lag_seconds_count"
    assert value(found, lag) == value(before, lag) + 1  # the trigger, claimed from its message


def test_it_counts_a_call_a_budget_refuses_and_no_billed_call(workspace, provider, price, client, scraping):
    BudgetFactory(workspace=workspace, name="Per run", scope=BudgetScope.RUN, limit=Decimal("0.00000001"))
    before = scrape(client)

    run = wait_for(start(workspace, chain(TRIGGER, generate())))
    after = scrape(client)

    assert run.status == "failed"
    refusals = "switchyard_budget_refusals_total"
    assert value(after, refusals) == value(before, refusals) + 1
    call = {"provider": provider.kind, "model": "gpt-test"}
    assert value(after, "switchyard_model_calls_total", **call) == value(before, "switchyard_model_calls_total", **call)


def test_it_counts_a_timeout_and_its_retry(workspace, client, scraping):
    slow = RecordingServer(Reply(delay_s=3))
    call = node("call", "http_request", url=slow.url, timeout_s=1, retry={"max_attempts": 2, "initial_delay_s": 0})
    before = scrape(client)
    try:
        run = wait_for(start(workspace, chain(TRIGGER, call)))
    finally:
        slow.close()
    after = scrape(client)

    assert run.status == "failed"
    for name, added in [("switchyard_node_timeouts_total", 2), ("switchyard_node_retries_total", 1)]:
        assert value(after, name) == value(before, name) + added, name


def test_it_counts_a_node_the_reaper_sends_again(workspace, client, scraping):
    run = start(workspace, chain(TRIGGER, node("pause", "delay", seconds=600)))
    # Its wake-up message was lost and its time has come: only the reaper can send it now.
    NodeRun.objects.filter(run=run, node_id="pause").update(
        wake_at=timezone.now() - timedelta(seconds=1), dispatched_at=None
    )
    before = scrape(client)

    reaped = reaper.reap()
    after = scrape(client)

    assert reaped["dispatched"] == 1
    assert wait_for(run).status == "succeeded"
    name = "switchyard_reaper_redispatches_total"
    assert value(after, name) == value(before, name) + 1


def test_it_counts_a_node_whose_worker_died(workspace, client, scraping):
    run = start(workspace, chain(TRIGGER, node("pause", "delay", seconds=600)))
    # What a worker killed mid-node leaves behind: the node running under its lease, which ran out.
    NodeRun.objects.filter(run=run, node_id="pause").update(
        status=NodeStatus.RUNNING,
        attempt=1,
        lease_owner="a-worker-that-died",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    before = scrape(client)

    reaped = reaper.reap()
    after = scrape(client)

    assert reaped["crashed"] == 1
    name = "switchyard_node_crashes_total"
    assert value(after, name) == value(before, name) + 1
    assert NodeRun.objects.get(run=run, node_id="pause").crashes == 1
