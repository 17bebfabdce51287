"""A model call's bill on PostgreSQL as one statement: its entry, its node's, run's and day's sums.

Through the ORM a bill was a transaction of four round trips (BEGIN, the entry, the day's
rollup, COMMIT; two more when it cost anything) and the entry's save built and compiled an
INSERT of 25 columns: about 1.5 ms of a worker's CPU per call, for each of a fan-out's
hundred calls (docs/benchmarks.md, "Model-call fan-out"). Here the entry is inserted unless
its call has one already (a redelivered task), and only the inserted entry is added to the
sums, all in one prepared statement, so one statement's atomicity keeps them in step.
SQLite (the embedded mode) has no data-modifying WITH: engine.costs writes the same rows
through the ORM there.
"""

import functools
from typing import Any

from django.db import connection
from django.db.models import Field

from engine.models import CostDaily, CostEntry, NodeRun, Run
from engine.models.costs import ROLLUP_DIMENSIONS
from engine.sql.script import Statement, field

# The rollup's sums; on a day's row that exists already, each is added to.
SUMS = ("calls", "cached_calls", "tokens_in", "tokens_out", "cost", "saved")


def bill(entry: CostEntry, day: Any) -> Statement:
    """Insert `entry` (its call's first bill) and add it to its node, run and `day`'s rollup;
    the statement's one row is the entry's id, none when the call was billed already."""
    params = {
        f"e_{column.column}": column.get_db_prep_save(column.pre_save(entry, True), connection)
        for column in _entry_fields()
    }
    return _text(), {**params, "day": day}


@functools.cache
def _entry_fields() -> "tuple[Field[Any, Any], ...]":
    return tuple(f for f in CostEntry._meta.concrete_fields if not f.primary_key)


@functools.cache
def _text() -> str:
    """The statement (the same text for every bill: built once per process)."""
    entries, nodes, runs, daily = (m._meta.db_table for m in (CostEntry, NodeRun, Run, CostDaily))
    columns = [f.column for f in _entry_fields()]
    unique = ", ".join(field(CostEntry, name).column for name in ("run", "node_id", "attempt", "call"))
    # The rollup's row from the entry, as engine.costs values it on SQLite.
    rollup = {
        "workspace_id": "e.workspace_id",
        "day": "CAST(%(day)s AS date)",
        "workflow_id": "COALESCE(e.workflow_id, 0)",
        "workflow_name": "e.workflow_name",
        "version_number": "COALESCE(e.version_number, 0)",
        "node_id": "e.node_id",
        "node_type": "e.node_type",
        "trigger_kind": "e.trigger_kind",
        "provider": "e.provider",
        "provider_kind": "e.provider_kind",
        "model": "e.model",
        "calls": "1",
        "cached_calls": "CASE WHEN e.cached THEN 1 ELSE 0 END",
        "tokens_in": "e.tokens_in",
        "tokens_out": "e.tokens_out",
        "cost": "e.cost",
        "saved": "e.saved",
    }
    dimensions = [f.column for f in CostDaily._meta.concrete_fields if f.name in ROLLUP_DIMENSIONS]
    sums = ", ".join(f"{name} = {daily}.{name} + excluded.{name}" for name in SUMS)
    # Identifiers come from the models' own metadata; every value is a parameter.
    return (
        f"WITH e AS (INSERT INTO {entries} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(f'%(e_{column})s' for column in columns)}) "
        f"ON CONFLICT ({unique}) DO NOTHING RETURNING *), "
        f"n AS (UPDATE {nodes} SET cost = {nodes}.cost + e.cost FROM e "
        f"WHERE {nodes}.run_id = e.run_id AND {nodes}.node_id = e.node_id AND e.cost <> 0), "
        f"r AS (UPDATE {runs} SET cost = {runs}.cost + e.cost FROM e WHERE {runs}.id = e.run_id AND e.cost <> 0), "
        f"d AS (INSERT INTO {daily} ({', '.join(rollup)}) SELECT {', '.join(rollup.values())} FROM e "
        f"ON CONFLICT ({', '.join(dimensions)}) DO UPDATE SET {sums}, workflow_name = excluded.workflow_name) "
        "SELECT id FROM e"
    )
