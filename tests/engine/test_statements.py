"""The engine's statements on PostgreSQL: prepared once per connection, one statement per list size."""

import pytest
from django.db import connection, transaction

from engine import statements

pytestmark = pytest.mark.django_db


def _prepared(fragment: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{fragment}%"])
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_is_prepared_once_and_then_executed():
    query = ("SELECT count(*) FROM engine_run WHERE id = %s AND last_seq >= %s", [0, 0])
    assert statements.run_script([query])[0].rows == [(0,)]
    assert statements.run_script([query])[0].rows == [(0,)]
    [prepared] = _prepared("FROM engine_run WHERE id = $1 AND last_seq >= $2")
    assert prepared.startswith("PREPARE engine_")


def test_lists_of_any_size_share_one_prepared_statement():
    for node_ids in (["a"], ["a", "b", "c"], [f"n{i}" for i in range(150)]):
        assert statements.run_script([statements.rows(0, node_ids)])[0].rows == []
    assert len(_prepared("FROM engine_noderun WHERE run_id = $1 AND node_id = ANY($2)")) == 1


def test_a_statement_prepared_in_a_rolled_back_transaction_still_runs():
    query = ("SELECT %s::int + 41", [1])
    sid = transaction.savepoint()
    assert statements.run_script([query])[0].rows == [(42,)]
    transaction.savepoint_rollback(sid)
    assert statements.run_script([query])[0].rows == [(42,)]


def test_a_script_gives_each_statement_its_own_outcome():
    outcomes = statements.run_script([("SELECT %s::text", ["one"]), ("SELECT %s::int, %s::int", [2, 3])])
    assert [outcome.rows for outcome in outcomes] == [[("one",)], [(2, 3)]]
