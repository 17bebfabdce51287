"""The run row under its lock: the statement that locks and reads it, and the one that saves it with its events."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from engine.models import Run, RunEvent
from engine.sql.script import Outcome, Statement, among, assignments, from_json, instance, stored

# What a transition reads of the run row. The graph and the input are left out: they never
# change, and decoding a wide graph under the lock was most of a fan-out's serial time. The
# parent and the callbacks are what a run's end needs (its parent counts it, its webhooks are
# queued): read here, a run that ends needs no further round trip for them.
LOCKED_FIELDS = ("id", "workspace_id", "workflow_id", "status", "last_seq", "parent_run_id", "callback_urls")


def lock(run_id: int | None = None, node_run_id: int | None = None) -> Statement:
    """Lock and read the run row, named by its id or by one of its nodes'."""
    params: dict[str, int | None]
    if run_id is not None:
        target, params = "%(run_id)s", {"run_id": run_id}
    else:
        target, params = "(SELECT run_id FROM engine_noderun WHERE id = %(node_run_id)s)", {"node_run_id": node_run_id}
    for_update = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return f"SELECT {', '.join(LOCKED_FIELDS)} FROM engine_run WHERE id = {target}{for_update}", params  # noqa: S608


def lock_runs_of(node_run_ids: Sequence[int]) -> Statement:
    """Lock the runs of the given nodes, in the order of their ids (PostgreSQL locks the sorted rows in turn)."""
    named, params = among("n.id", node_run_ids, "node_run_ids")
    sql = (
        "SELECT r.id FROM engine_run r WHERE r.id IN "  # noqa: S608
        f"(SELECT n.run_id FROM engine_noderun n WHERE {named}) ORDER BY r.id FOR UPDATE"
    )
    return sql, params


def locked_run(outcome: Outcome) -> Run:
    """The run that `lock` read; Run.DoesNotExist if there is none."""
    if not outcome.rows:
        raise Run.DoesNotExist
    values = dict(zip(LOCKED_FIELDS, outcome.rows[0], strict=True))
    values["callback_urls"] = from_json(Run, "callback_urls", values["callback_urls"])
    return instance(Run, values)


def save(run: Run, fields: Iterable[str], events: list[RunEvent], at: datetime) -> list[Statement]:
    """Statements that write the run's changed fields and insert its new events (stamped `at`)."""
    columns, params = assignments(Run, {name: getattr(run, name) for name in fields}, "set_")
    params["run_id"] = run.pk
    update = f"UPDATE engine_run SET {columns} WHERE id = %(run_id)s"  # noqa: S608
    if not events:
        return [(update, params)]
    event_params: dict[str, Any] = {"run_id": run.pk, "at": at}
    rows = []
    for i, event in enumerate(events):
        event.created_at = at
        rows.append(f"(%(run_id)s, %(seq_{i})s, %(type_{i})s, %(node_{i})s, %(payload_{i})s, %(at)s)")
        event_params |= {
            f"seq_{i}": event.seq,
            f"type_{i}": str(event.type),
            f"node_{i}": event.node_id,
            f"payload_{i}": stored(RunEvent, "payload", event.payload),
        }
    insert = f"INSERT INTO engine_runevent (run_id, seq, type, node_id, payload, created_at) VALUES {', '.join(rows)}"  # noqa: S608
    if connection.vendor == "postgresql":
        return [(f"WITH inserted AS ({insert}) {update}", {**event_params, **params})]
    return [(insert, event_params), (update, params)]
