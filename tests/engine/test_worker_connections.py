"""A real worker's database connections: node threads give theirs back, task threads keep theirs."""

import pytest
from django.db import connection

from engine.models import CostEntry
from tests.engine.graphs import TRIGGER, chain, edge, graph, node
from tests.engine.running import start, wait_for
from tests.eventually import eventually

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


def test_node_threads_give_back_the_database_connections_their_nodes_opened(workspace, celery_worker):
    drafts = [node(f"d{i}", "generate", prompt="Reply to {{ input.body }}") for i in range(12)]
    fan_out = graph(TRIGGER, *drafts, edges=[edge("start", f"d{i}") for i in range(12)])

    run = wait_for(start(workspace, fan_out, {"body": "Where is my parcel?"}))

    assert run.status == "succeeded"
    assert CostEntry.objects.filter(run=run).count() == 12
    # The worker's task threads keep theirs (DB_CONN_MAX_AGE); the twelve node threads that
    # billed a call must not, so at most one connection per task thread is left.
    eventually(
        lambda: len(_worker_sessions()) <= celery_worker.concurrency,
        timeout=5,
        message=lambda: f"{len(_worker_sessions())} sessions for {celery_worker.concurrency} task threads",
    )


def test_a_worker_keeps_its_database_connections_between_tasks(workspace, celery_worker):
    assert wait_for(start(workspace, chain(TRIGGER, node("a", "transform")), {})).status == "succeeded"
    kept = _worker_sessions()
    wide = graph(
        TRIGGER, *[node(f"b{i}", "transform") for i in range(20)], edges=[edge("start", f"b{i}") for i in range(20)]
    )
    for _ in range(3):
        assert wait_for(start(workspace, wide, {})).status == "succeeded"

    # Celery's own handling closes every connection after every task, whatever CONN_MAX_AGE
    # says; the worker's DB_CONN_MAX_AGE keeps them, so the same sessions served 63 more tasks.
    assert kept
    assert kept <= _worker_sessions()


def _worker_sessions() -> set[int]:
    """The server process ids of the sessions on this test database other than this test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}
