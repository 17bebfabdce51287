"""New runs inserted with their node rows and first events as one script: one round trip and one commit.

Through the ORM a start took a transaction of its own for the run and its nodes, then a
second one under the run lock for its first events and the trigger's readiness: seven round
trips and two WAL flushes for rows nobody else can see yet (docs/benchmarks.md, "API trigger
throughput"). Here the node and event rows take their run's id from the run table's
sequence (`currval` on PostgreSQL, `sqlite_sequence` on SQLite, both the id this session's
last run insert drew), so no round trip waits for the id, and several new runs may follow one
another in one script (the statements of each in turn).
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Field, Model

from engine.models import NodeRun, Run, RunEvent
from engine.sql.script import Statement, run_script

# Values whose preparation for a column depends on the value alone, and which cannot change once prepared.
PLAIN = frozenset({str, int, bool, Decimal, datetime, type(None)})


@dataclass
class NewRun:
    """A run not yet stored, with its node rows and first events: `insert` sets their ids."""

    run: Run
    nodes: list[NodeRun]
    events: list[RunEvent]


def insert(new_runs: Sequence[NewRun]) -> None:
    """Store every run with its nodes and events, atomically; IntegrityError (nothing stored) if a row clashes.

    Outside a transaction on PostgreSQL the script is one query string, which the server runs
    as one implicit transaction: no BEGIN, no COMMIT, one round trip. Inside one (or on
    SQLite, which runs the statements one by one) it runs under a savepoint, so that a clash
    leaves the caller's transaction usable.
    """
    script = [statement for new in new_runs for statement in statements(new)]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        outcomes = run_script(script)
    else:
        with transaction.atomic():
            outcomes = run_script(script)
    for i, new in enumerate(new_runs):
        run_rows, node_rows = outcomes[3 * i].rows, outcomes[3 * i + 1].rows
        _stored(new.run, run_rows[0][0])
        ids = {node_id: pk for pk, node_id in node_rows}
        for node in new.nodes:
            node.run = new.run
            _stored(node, ids[node.node_id])
        for event in new.events:
            event.run = new.run


def statements(new: NewRun) -> list[Statement]:
    """The INSERTs of the run (giving its id), of its nodes (giving their ids and node ids) and of its events."""
    if not new.nodes or not new.events:
        raise ValueError("a new run has at least a trigger node and a first event")
    run_sql, params = _insert(Run, [new.run], "r", None)
    node_sql, node_params = _insert(NodeRun, new.nodes, "n", "run_id")
    event_sql, event_params = _insert(RunEvent, new.events, "e", "run_id")
    return [
        (f"{run_sql} RETURNING id", params),
        (f"{node_sql} RETURNING id, node_id", node_params),
        (event_sql, event_params),
    ]


def _insert(model: type[Model], rows: Sequence[Model], prefix: str, run_column: str | None) -> Statement:
    """An INSERT of `rows`; their `run_column` is the run's id from its sequence."""
    fields = _fields(model, run_column)
    db = connections[DEFAULT_DB_ALIAS]  # this thread's connection, not the proxy that looks it up at every use
    params: dict[str, Any] = {}
    nulls = _nulls(model, run_column)
    # The rows of one start share most of their values (a run's nodes differ in their node id, kind and attempts
    # allowed): each column prepares each distinct plain value once. A 300-node start then prepares its node ids
    # and a few values more, not some 6,000 (a third less CPU for its statements, bench/trigger_profile.py).
    prepared: list[dict[Any, Any]] = [{} for _ in fields]
    for i, row in enumerate(rows):
        names = _names(model, run_column, prefix, i)
        for field, none_is_null, name, seen in zip(fields, nulls, names, prepared, strict=True):
            # What the ORM's INSERT sends: pre_save fills auto_now_add, get_db_prep_save adapts the value.
            value = field.pre_save(row, True)
            if value is None and none_is_null:
                params[name] = None
            elif type(value) not in PLAIN:
                params[name] = field.get_db_prep_save(value, db)
            else:
                key = (type(value), value)
                if key not in seen:
                    seen[key] = field.get_db_prep_save(value, db)
                params[name] = seen[key]
    return _text(model, len(rows), prefix, run_column, db.vendor), params


@functools.lru_cache(maxsize=16)
def _fields(model: type[Model], run_column: str | None) -> "tuple[Field[Any, Any], ...]":
    """The columns an insert gives a value as a parameter: all but the primary key and `run_column`."""
    return tuple(f for f in model._meta.concrete_fields if not f.primary_key and f.column != run_column)


@functools.lru_cache(maxsize=16)
def _nulls(model: type[Model], run_column: str | None) -> tuple[bool, ...]:
    """For each of `_fields`, whether None is NULL without asking the field: true of Django's own field classes
    (JSONField too: None is SQL NULL, not JSON null), whose preparation of the values was 8 % of a trigger's CPU in
    process, and more than a third of a start's values are None. A field class of another module is asked."""
    return tuple(type(f).__module__.startswith("django.db.models.fields") for f in _fields(model, run_column))


@functools.lru_cache(maxsize=256)
def _names(model: type[Model], run_column: str | None, prefix: str, row: int) -> tuple[str, ...]:
    """The parameter names of row `row`'s values, as `_text` writes them."""
    return tuple(f"{prefix}{row}_{f.column}" for f in _fields(model, run_column))


@functools.lru_cache(maxsize=64)
def _text(model: type[Model], count: int, prefix: str, run_column: str | None, vendor: str) -> str:
    """The INSERT of `count` rows (the same text for every start of the same size: built once)."""
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if not field.primary_key:
            columns.append(connection.ops.quote_name(field.column))
    for i in range(count):
        placeholders = [
            _last_run_id(vendor) if field.column == run_column else f"%({prefix}{i}_{field.column})s"
            for field in model._meta.concrete_fields
            if not field.primary_key
        ]
        values.append(f"({', '.join(placeholders)})")
    return f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) VALUES {', '.join(values)}"  # noqa: S608


def _last_run_id(vendor: str) -> str:
    """SQL for the id of the run this session inserted last (within the same transaction on SQLite)."""
    table = Run._meta.db_table
    if vendor == "postgresql":
        return f"currval(pg_get_serial_sequence('{table}', 'id'))"
    # AUTOINCREMENT tables (Django's on SQLite) record the last id drawn; SQLite has one writer at a time.
    return f"(SELECT seq FROM sqlite_sequence WHERE name = '{table}')"  # noqa: S608  (a table name of ours)


def _stored(row: Model, pk: int) -> None:
    row.pk = pk
    row._state.adding = False
    row._state.db = connection.alias
