"""A worker sharing a small connection pool (DB_POOL_SIZE) among more threads than it has connections."""

import threading
from collections.abc import Iterator

import psycopg
import pytest

from engine.models import CostEntry
from tests import workers
from tests.engine.graphs import TRIGGER, edge, graph, node
from tests.engine.running import start, wait_for
from tests.factories import ProviderConfigFactory
from tests.fake_openai import FakeOpenAI

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]

POOL_SIZE = 3
APP_NAME = "pooled-test-worker"


@pytest.fixture(scope="module")
def worker_process(shared_worker: workers.SharedWorker) -> Iterator[workers.Worker]:
    """This module's worker: eight threads, three connections."""
    with shared_worker.replaced_by(
        concurrency=8, env={"DB_POOL_SIZE": str(POOL_SIZE), "PGAPPNAME": APP_NAME}
    ) as worker:
        yield worker


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(latency_s=0.4)
    yield server
    server.close()


class SessionCount(threading.Thread):
    """The most sessions the worker held at once, sampled every 10 ms on a connection of its own."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.most = 0
        self.done = threading.Event()

    def run(self) -> None:
        with psycopg.connect(workers.test_database_url(), autocommit=True) as conn:
            while not self.done.wait(0.01):
                query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                [(held,)] = conn.execute(query, [APP_NAME])
                self.most = max(self.most, held)


def test_model_calls_overlap_beyond_the_pool_while_the_worker_stays_within_it(workspace, fake):
    ProviderConfigFactory(workspace=workspace, name="fake", base_url=fake.url, api_key="sk-test")
    drafts = [node(f"d{i}", "generate", provider="fake", model="gpt-test", prompt="Reply") for i in range(16)]
    fan_out = graph(TRIGGER, *drafts, edges=[edge("start", f"d{i}") for i in range(16)])
    sessions = SessionCount()
    sessions.start()

    run = wait_for(start(workspace, fan_out, {}))
    sessions.done.set()
    sessions.join(5)

    assert run.status == "succeeded"
    assert CostEntry.objects.filter(run=run).count() == 16
    # A model call holds no connection, and neither does the task thread waiting for it.
    assert fake.peak_in_flight > POOL_SIZE
    assert 0 < sessions.most <= POOL_SIZE
