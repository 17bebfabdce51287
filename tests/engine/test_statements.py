"""The engine's SQL on PostgreSQL: named parameters, prepared once per connection, one statement per list size."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection, transaction
from django.db.models import JSONField

from engine.models import NodeStatus
from engine.sql import readiness
from engine.sql.script import run_script

pytestmark = pytest.mark.django_db


def _prepared(fragment: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{fragment}%"])
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_is_prepared_once_and_then_executed():
    query = ("SELECT count(*) FROM engine_run WHERE id = %(id)s AND last_seq >= %(seq)s", {"id": 0, "seq": 0})
    assert run_script([query])[0].rows == [(0,)]
    assert run_script([query])[0].rows == [(0,)]
    [prepared] = _prepared("FROM engine_run WHERE id = $1 AND last_seq >= $2")
    assert prepared.startswith("PREPARE engine_")


def test_a_name_used_twice_is_one_parameter():
    query = ("SELECT %(n)s::int + %(n)s::int, %(m)s::int", {"m": 1, "n": 20})
    assert run_script([query])[0].rows == [(40, 1)]
    assert _prepared("SELECT $1::int + $1::int, $2::int")


def test_lists_of_any_size_share_one_prepared_statement():
    for node_ids in (["a"], ["a", "b", "c"], [f"n{i}" for i in range(150)]):
        assert run_script([readiness.rows(0, node_ids)])[0].rows == []
    assert len(_prepared("FROM engine_noderun WHERE run_id = $1 AND node_id = ANY($2)")) == 1


def test_a_statement_prepared_in_a_rolled_back_transaction_still_runs():
    query = ("SELECT %(one)s::int + 41", {"one": 1})
    sid = transaction.savepoint()
    assert run_script([query])[0].rows == [(42,)]
    transaction.savepoint_rollback(sid)
    assert run_script([query])[0].rows == [(42,)]


def test_a_script_gives_each_statement_its_own_outcome():
    outcomes = run_script([("SELECT %(a)s::text", {"a": "one"}), ("SELECT %(a)s::int, %(b)s::int", {"a": 2, "b": 3})])
    assert [outcome.rows for outcome in outcomes] == [[("one",)], [(2, 3)]]


@pytest.mark.parametrize(
    "value",
    [0, 7, -7, 2**40, -(2**40), True, False, [], [3], [1, -2, 2**40]],
    ids=["zero", "int", "negative", "bigint", "negative-bigint", "true", "false", "empty-list", "one", "list"],
)
def test_integers_booleans_and_lists_of_ids_reach_the_database_as_given(value):
    """Written into the text without psycopg's adapters (engine/sql/script.py `_literal`): the same values arrive."""
    kind = "boolean" if type(value) is bool else "bigint[]" if type(value) is list else "bigint"
    query = (f"SELECT %(value)s::{kind}, %(value)s::{kind} IS NULL", {"value": value})
    assert run_script([query])[0].rows == [(value, False)]


def test_a_list_of_ids_matches_with_any():
    found = ("SELECT x FROM unnest(ARRAY[1, -2, 3]::bigint[]) AS x WHERE x = ANY(%(ids)s) ORDER BY x", {"ids": [3, -2]})
    assert run_script([found])[0].rows == [(-2,), (3,)]


@pytest.mark.parametrize(
    "value",
    ["running", "", "it's", "ünïcödé ✓", "two\nlines", "back\\slash", NodeStatus.SUCCEEDED],
    ids=["plain", "empty", "quote", "unicode", "newline", "backslash", "choice"],
)
def test_strings_reach_the_database_as_given(value):
    query = ("SELECT %(value)s::text, length(%(value)s::text)", {"value": value})
    assert run_script([query])[0].rows == [(str(value), len(value))]


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 4, 16, 45, 43, 897777, tzinfo=UTC),
        datetime(2026, 12, 4, 16, 45, tzinfo=UTC),
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ],
    ids=["microseconds", "whole-minute", "old-with-offset"],
)
def test_aware_datetimes_reach_the_database_as_given(value):
    query = ("SELECT %(value)s::timestamptz = %(same)s::timestamptz, %(value)s", {"value": value, "same": value})
    [(equal, back)] = run_script([query])[0].rows
    assert equal is True
    assert back == value


@pytest.mark.parametrize(
    "value",
    [{"attempt": 1}, {"handle": None, "cache_hit": False}, {"say": "it's"}, {"text": "two\nlines"}, [1, "é"], {}],
    ids=["plain", "null-and-false", "quote", "escaped", "non-ascii", "empty"],
)
def test_json_values_reach_the_database_as_given(value):
    stored = JSONField().get_db_prep_save(value, connection)
    query = ("SELECT %(value)s::jsonb, jsonb_typeof(%(value)s::jsonb)", {"value": stored})
    [(back, kind)] = run_script([query])[0].rows
    assert json.loads(back) == value, "Django's connection reads jsonb as its text"
    assert kind == ("array" if isinstance(value, list) else "object")


@pytest.mark.parametrize(
    "value",
    [["a"], ["shape", "reply"], ["it's", "a,b", "{x}", " spaced ", "NULL", ""], ['say "hi"'], ["back\\slash"]],
    ids=["one", "two", "special", "double-quote", "backslash"],
)
def test_lists_of_strings_reach_the_database_as_given(value):
    query = ("SELECT %(value)s::text[], cardinality(%(value)s::text[])", {"value": value})
    assert run_script([query])[0].rows == [(value, len(value))]


def test_a_list_of_node_ids_matches_with_any():
    found = (
        "SELECT x FROM unnest(ARRAY['a', 'it''s', 'NULL', 'c']) AS x WHERE x = ANY(%(ids)s) ORDER BY x",
        {"ids": ["it's", "NULL", "zzz"]},
    )
    assert run_script([found])[0].rows == [("NULL",), ("it's",)]
