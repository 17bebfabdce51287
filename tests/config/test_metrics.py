"""/metrics on a real worker in multiprocess mode: the values after a known sequence of runs."""

import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.models import ApprovalRequest
from tests.engine.graphs import TRIGGER, chain, generate, node
from tests.engine.running import start, wait_for
from tests.factories import ApprovalRequestFactory, DocumentFactory
from tests.fakes import RecordingServer, Reply
from tests.metrics_text import TOKEN, scrape, value
from tests.workers import SharedWorker, Worker


@pytest.fixture(scope="module")
def metrics_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="switchyard-metrics-")
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="module")
def worker_process(shared_worker: SharedWorker, metrics_dir: str) -> Iterator[Worker]:
    """This module's worker writes its metrics to the module's own directory, which starts empty."""
    with shared_worker.replaced_by(env={"PROMETHEUS_MULTIPROC_DIR": metrics_dir}) as worker:
        yield worker


@pytest.fixture
def scraping(settings, metrics_dir: str) -> None:
    settings.METRICS_TOKEN = TOKEN
    settings.PROMETHEUS_MULTIPROC_DIR = metrics_dir


def test_it_is_off_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404


def test_it_refuses_a_scrape_without_the_token(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_it_counts_runs_nodes_retries_and_model_calls(owner, client, scraping, provider, price, celery_worker):
    flaky = RecordingServer(Reply(body={"ok": True})).then(Reply(status=500))
    broken = RecordingServer(Reply(status=500))
    try:
        succeeded = wait_for(start(owner.workspace, chain(TRIGGER, generate())))
        retried = wait_for(
            start(owner.workspace, chain(TRIGGER, node("call", "http_request", url=flaky.url, retry=RETRY_ONCE)))
        )
        failed = wait_for(start(owner.workspace, chain(TRIGGER, node("call", "http_request", url=broken.url))))
    finally:
        flaky.close()
        broken.close()
    assert [succeeded.status, retried.status, failed.status] == ["succeeded", "succeeded", "failed"]

    found = scrape(client)

    ended = "switchyard_runs_ended_total"
    assert value(found, ended, workflow=str(succeeded.workflow_id), status="succeeded") == 1
    assert value(found, ended, workflow=str(retried.workflow_id), status="succeeded") == 1
    assert value(found, ended, workflow=str(failed.workflow_id), status="failed") == 1
    assert value(found, "switchyard_node_retries_total") == 1
    assert value(found, "switchyard_node_crashes_total") == 0
    # Each run's trigger and the retried attempt came through the broker; a node its
    # predecessor's worker claimed at once did not wait in the queue.
    assert value(found, "switchyard_node_queue_lag_seconds_count") >= 4
    durations = "switchyard_node_duration_seconds_count"
    assert value(found, durations, kind="generate", outcome="succeeded") == 1
    assert value(found, durations, kind="http_request", outcome="succeeded") == 1
    assert value(found, durations, kind="http_request", outcome="failed") == 2
    call = {"provider": provider.kind, "model": "gpt-test"}
    assert value(found, "switchyard_model_calls_total", **call) == 1
    assert value(found, "switchyard_model_tokens_total", **call, direction="input") == 1000
    assert value(found, "switchyard_model_tokens_total", **call, direction="output") == 500
    assert value(found, "switchyard_model_cost_total", **call) == pytest.approx(0.0075)


RETRY_ONCE = {"max_attempts": 2, "initial_delay_s": 0}


@pytest.mark.django_db
def test_it_reads_pending_approvals_and_documents_from_the_database(client, scraping, workspace):
    ApprovalRequestFactory(workspace=workspace)
    oldest = ApprovalRequestFactory(workspace=workspace)
    ApprovalRequestFactory(workspace=workspace, status="approved")
    ApprovalRequest.objects.filter(pk=oldest.pk).update(created_at=timezone.now() - timedelta(hours=2))
    DocumentFactory(knowledge_base__workspace=workspace, status="embedding")

    found = scrape(client)

    assert value(found, "switchyard_approvals_pending") == 2
    assert 7200 <= value(found, "switchyard_approvals_oldest_pending_age_seconds") < 7200 + 3600
    assert value(found, "switchyard_knowledge_documents", status="embedding") == 1
    assert value(found, "switchyard_knowledge_documents", status="ready") == 0
