"""How runs are stored on PostgreSQL: a run's own updates stay on its page, and what is looked up keeps an index."""

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine import holders, reaper, runner
from engine.dispatch import BROKER_MARK
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import history, sent_at_start, start, statuses
from tests.engine.running import node as node_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_worker")]


def updates(table: str) -> tuple[int, int]:
    """`table`'s updates so far in this database, and how many of them were HOT (no index touched).

    This backend's counts reach the shared statistics when it goes idle; forcing the next report
    makes that the end of the statement before, so the read after it sees them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s", [table])
        updated, hot = cursor.fetchone()
    return updated, hot


def three_nodes(workspace):
    return start(
        workspace,
        chain(TRIGGER, node("shape", "transform", fields={"n": 1}), node("say", "reply", answer="{{ nodes.shape.n }}")),
        {},
    )


def test_a_runs_claim_and_end_update_its_row_without_touching_an_index(workspace):
    run = three_nodes(workspace)
    updated_before, hot_before = updates("engine_run")

    # On this thread, so on this connection: the claim, then the chain with the run's end.
    runner.execute(sent_at_start(run))

    run.refresh_from_db()
    assert run.status == "succeeded"
    updated, hot = updates("engine_run")
    assert updated - updated_before >= 2, "the claim moved the run to running, the chain ended it"
    assert hot - hot_before == updated - updated_before, "an index on a column a run's progress writes"


def test_a_chained_node_is_made_ready_by_its_claim(workspace):
    run = three_nodes(workspace)
    updated_before, _ = updates("engine_noderun")

    runner.execute(sent_at_start(run))

    assert set(statuses(run).values()) == {"succeeded"}
    # Each node's claim and outcome (the trigger was done at the start); the reply's readiness went with its claim.
    updated, _ = updates("engine_noderun")
    assert updated - updated_before == 4
    for node_id in ("shape", "say"):
        assert history(run, node_id) == ["pending", "running", "succeeded"]
        row = node_run(run, node_id)
        assert (row.attempt, row.wake_at) == (1, None)
        assert row.dispatched_at is not None, "made ready as any node is: taken for sent"


def test_engine_run_leaves_room_on_its_pages_for_those_updates():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'engine_run'")
        assert cursor.fetchone() == (["fillfactor=80"],)


@pytest.mark.parametrize(
    ("table", "column"),
    [("engine_run", "workspace_id"), ("engine_noderun", "run_id"), ("engine_runevent", "run_id")],
)
def test_lookups_by_a_foreign_key_without_an_index_of_its_own_still_have_one_leading_with_it(table, column):
    """The foreign keys left without their own index (engine/models/runs.py) are found, and their rows deleted
    with their run or workspace, through an index that starts with them."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            WHERE i.indrelid = %s::regclass AND a.attname = %s AND i.indpred IS NULL
            """,
            [table, column],
        )
        leading = [name for (name,) in cursor.fetchall()]
    assert len(leading) == 1, f"{table}.{column} should lead exactly one index (a composite), not {leading}"


def test_what_the_reaper_and_the_lease_holders_read_of_node_runs_an_index_serves():
    """Every read of engine_noderun by the reaper's tick and by a dead holder's release can use an index: the
    partial ones (node_run_due, node_run_lease) only serve a query whose conditions imply theirs."""
    # As if Redis had lost its data: this tick also resets what was sent (engine.dispatch.broker_lost_messages).
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(BROKER_MARK)
    with CaptureQueriesContext(connection) as captured:
        reaper.reap()
        holders.release("gone@nowhere")
    reads = [query["sql"] for query in captured if "engine_noderun" in query["sql"]]
    assert any('"wake_at" <=' in sql for sql in reads), "the due nodes' read"
    assert any('"lease_expires_at" <' in sql for sql in reads), "the expired leases' read"
    assert any('SET "dispatched_at" = NULL' in sql for sql in reads), "the reset after a lost broker"
    with connection.cursor() as cursor:
        # A sequential scan is then chosen only where no index could serve.
        cursor.execute("SET enable_seqscan = off")
        try:
            for sql in reads:
                cursor.execute(f"EXPLAIN {sql}")
                plan = "\n".join(line for (line,) in cursor.fetchall())
                assert "Seq Scan on engine_noderun" not in plan, f"{sql}\n{plan}"
        finally:
            cursor.execute("RESET enable_seqscan")
