"""The engine's hot path as plain SQL: the run lock, claims, outcomes, readiness, events.

Every node passes through these statements a few times. Through the ORM, building and
compiling each statement cost several times what the database spends running it, and the run
row stays locked meanwhile (docs/benchmarks.md). Values are prepared by the models' own fields
(`get_db_prep_save`), so what is stored is exactly what the ORM would store. The SQL is
written for PostgreSQL and SQLite (the embedded mode) alike; `FOR UPDATE` only where the
database has it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from django.db import connection
from django.db.models import Field, Model

from engine.models import NodeRun, NodeStatus, Run, RunEvent

# What a transition reads of the run row. The graph and the input are left out: they never
# change, and decoding a wide graph under the lock was most of a fan-out's serial time.
LOCKED_FIELDS = ("id", "workspace_id", "status", "last_seq")
# What a claim reads of the node; the node's input, output and error are not needed to run it.
CLAIM_FIELDS = ("id", "run_id", "node_id", "status", "attempt", "crashes", "wake_at", "resume", "lease_owner")
CLAIMABLE = (NodeStatus.PENDING, NodeStatus.FAILED, NodeStatus.CRASHED, NodeStatus.WAITING)

M = TypeVar("M", bound=Model)

# A node's row as readiness needs it: status, chosen handle, whether wake_at is set, pk.
Row = tuple[str, str, bool, int]


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    return cast("Field[Any, Any]", model._meta.get_field(name))


def _prepared(model: type[Model], values: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """Quoted column names and their values as the model's fields store them."""
    columns, params = [], []
    for name, value in values.items():
        field = _field(model, name)
        columns.append(connection.ops.quote_name(field.column))
        params.append(field.get_db_prep_save(value, connection))
    return columns, params


def _update(model: type[Model], values: dict[str, Any], where: str, where_params: Sequence[Any]) -> int:
    columns, params = _prepared(model, values)
    assignments = ", ".join(f"{column} = %s" for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {model._meta.db_table} SET {assignments} WHERE {where}", [*params, *where_params])  # noqa: S608
        return int(cursor.rowcount)


def lock_run(run_id: int | None = None, node_run_id: int | None = None) -> Run:
    """Lock and read the run row (by its id, or by one of its nodes'); Run.DoesNotExist if there is none."""
    target = "%s" if run_id is not None else "(SELECT run_id FROM engine_noderun WHERE id = %s)"
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(LOCKED_FIELDS)} FROM engine_run WHERE id = {target}{lock}",  # noqa: S608
            [run_id if run_id is not None else node_run_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise Run.DoesNotExist
    return _instance(Run, dict(zip(LOCKED_FIELDS, row, strict=True)))


def save(run: Run, fields: Iterable[str], events: list[RunEvent], at: datetime) -> None:
    """Write the run's changed fields and insert its new events (stamped `at`)."""
    run_columns, run_params = _prepared(Run, {name: getattr(run, name) for name in fields})
    update = f"UPDATE engine_run SET {', '.join(f'{c} = %s' for c in run_columns)} WHERE id = %s"  # noqa: S608
    run_params.append(run.pk)
    if not events:
        with connection.cursor() as cursor:
            cursor.execute(update, run_params)
        return
    payload = _field(RunEvent, "payload")
    event_params: list[Any] = []
    for event in events:
        event.created_at = at
        prepared = payload.get_db_prep_save(event.payload, connection)
        event_params += [run.pk, event.seq, event.type, event.node_id, prepared, at]
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(events))
    insert = f"INSERT INTO engine_runevent (run_id, seq, type, node_id, payload, created_at) VALUES {rows}"  # noqa: S608
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Both in one statement: one round trip less while the run row is locked.
            cursor.execute(f"WITH inserted AS ({insert}) {update}", [*event_params, *run_params])
        else:
            cursor.execute(insert, event_params)
            cursor.execute(update, run_params)


def node_for_claim(node_run_id: int) -> NodeRun | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(CLAIM_FIELDS)} FROM engine_noderun WHERE id = %s", [node_run_id])  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        return None
    return _node(row)


def claim_pending(node_run_id: int, values: dict[str, Any]) -> NodeRun | None:
    """Set `values` and a new attempt on a pending node; the claimed node, or None if it was not pending."""
    columns, params = _prepared(NodeRun, values)
    assignments = ", ".join([*(f"{column} = %s" for column in columns), "attempt = attempt + 1"])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE engine_noderun SET {assignments} "  # noqa: S608
            f"WHERE id = %s AND status = %s RETURNING {', '.join(CLAIM_FIELDS)}",
            [*params, node_run_id, NodeStatus.PENDING],
        )
        row = cursor.fetchone()
    return _node(row) if row is not None else None


def _node(row: Sequence[Any]) -> NodeRun:
    """A NodeRun from a CLAIM_FIELDS row, its values converted as the ORM's compiler converts them."""
    converted = {}
    for name, value in zip(CLAIM_FIELDS, row, strict=True):
        column = _field(NodeRun, name).get_col(NodeRun._meta.db_table)
        for convert in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
            value = convert(value, column, connection)
        converted[name] = value
    return _instance(NodeRun, converted)


def _instance(model: type[M], values: dict[str, Any]) -> M:
    """A model instance with only `values` loaded; from_db wants them in the model's field order."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])


def update_node(node_run_id: int, values: dict[str, Any], **expected: Any) -> bool:
    """UPDATE one node if its columns still hold `expected`; False when another writer got there first."""
    conditions = " AND ".join(["id = %s", *(f"{connection.ops.quote_name(name)} = %s" for name in expected)])
    return bool(_update(NodeRun, values, conditions, [node_run_id, *expected.values()]))


def update_nodes(pks: list[int], values: dict[str, Any]) -> None:
    _update(NodeRun, values, f"id IN ({_marks(len(pks))})", pks)


def _of_nodes(columns: str, run_id: int, node_ids: Iterable[str], status: str | None = None) -> list[tuple[Any, ...]]:
    """`columns` of the named nodes of a run (in `status` only, if given)."""
    wanted = list(node_ids)
    if not wanted:
        return []
    only = " AND status = %s" if status is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM engine_noderun WHERE run_id = %s{only} AND node_id IN ({_marks(len(wanted))})",  # noqa: S608
            [run_id, *([status] if status is not None else []), *wanted],
        )
        return cursor.fetchall()


def rows(run_id: int, node_ids: Iterable[str]) -> dict[str, Row]:
    """Status, handle, whether wake_at is set, and pk of the named nodes of a run."""
    found = _of_nodes("node_id, status, handle, wake_at IS NOT NULL, id", run_id, node_ids)
    return {node_id: (status, handle, bool(woken), pk) for node_id, status, handle, woken, pk in found}


def counts(run_id: int) -> tuple[int, int, int]:
    """Nodes of a run that are busy (running, ready or retrying later), waiting, and failed or crashed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT "
            "COALESCE(SUM(CASE WHEN status = %s OR (status <> %s AND wake_at IS NOT NULL) THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN status = %s THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN status IN (%s, %s) THEN 1 ELSE 0 END), 0) "
            "FROM engine_noderun WHERE run_id = %s",
            [
                NodeStatus.RUNNING,
                NodeStatus.WAITING,
                NodeStatus.WAITING,
                NodeStatus.FAILED,
                NodeStatus.CRASHED,
                run_id,
            ],
        )
        busy, waiting, failed = cursor.fetchone()
    return int(busy), int(waiting), int(failed)


def context(run_id: int) -> dict[str, Any]:
    """What a node needs of its run, and its workspace's outbound allowlist, read fresh for each node."""
    names = ("input", "workspace_id", "created_by_id", "workflow_id", "version_number")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(f'r.{n}' for n in names)}, w.http_allowlist FROM engine_run r "  # noqa: S608
            "JOIN accounts_workspace w ON w.id = r.workspace_id WHERE r.id = %s",
            [run_id],
        )
        row = cursor.fetchone()
    found = dict(zip((*names, "http_allowlist"), row, strict=True))
    found["input"] = _json(Run, "input", found["input"])
    from accounts.models import Workspace

    found["http_allowlist"] = _json(Workspace, "http_allowlist", found["http_allowlist"])
    return found


def outputs(run_id: int, node_ids: Iterable[str]) -> dict[str, Any]:
    """The outputs of the named nodes that succeeded."""
    found = _of_nodes("node_id, output", run_id, node_ids, NodeStatus.SUCCEEDED)
    return {node_id: _json(NodeRun, "output", output) for node_id, output in found}


def _json(model: type[Model], name: str, value: Any) -> Any:
    return _field(model, name).from_db_value(value, None, connection)  # type: ignore[attr-defined]
