"""The engine's hot path as plain SQL: the run lock, claims, outcomes, readiness, events.

Every node passes through these statements a few times. Through the ORM, building and
compiling each statement cost several times what the database spends running it, and the run
row stays locked meanwhile (docs/benchmarks.md). Values are prepared by the models' own fields
(`get_db_prep_save`), so what is stored is exactly what the ORM would store. The SQL is
written for PostgreSQL and SQLite (the embedded mode) alike; `FOR UPDATE` only where the
database has it.

A transition holds its run's lock from its first statement to COMMIT, and every transition
of the run waits for it. So on PostgreSQL the statements of a transition go as two scripts
(`run_script`): the lock with the reads it needs, then the writes with COMMIT. The lock is
held for one client round trip, not one per statement. Each statement is a server-side
prepared statement of the connection that runs it (`EXECUTE`), planned once per connection
rather than at every run: planning the claim's and the outcome's statements took longer than
running them.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from django.db import connection
from django.db.models import Field, Model

from engine.models import ENDED_RUN, NodeRun, NodeStatus, Run, RunEvent, RunStatus

# What a transition reads of the run row. The graph and the input are left out: they never
# change, and decoding a wide graph under the lock was most of a fan-out's serial time.
LOCKED_FIELDS = ("id", "workspace_id", "status", "last_seq")
# What a claim reads of the node; the node's input, output and error are not needed to run it.
CLAIM_FIELDS = ("id", "run_id", "node_id", "status", "attempt", "crashes", "wake_at", "resume", "lease_owner")
CLAIMABLE = (NodeStatus.PENDING, NodeStatus.FAILED, NodeStatus.CRASHED, NodeStatus.WAITING)

M = TypeVar("M", bound=Model)

# A node's row as readiness needs it: status, chosen handle, whether wake_at is set, pk, attempt.
Row = tuple[str, str, bool, int, int]
# SQL with its %s parameters.
Statement = tuple[str, list[Any]]


@dataclass
class Outcome:
    """What one statement of a script gave: its rows (empty for a write without RETURNING) and rowcount."""

    rows: list[tuple[Any, ...]]
    rowcount: int


def run_script(statements: Sequence[Statement], *, commit: bool = False) -> list[Outcome]:
    """Run `statements` in order and give each one's outcome.

    On PostgreSQL they go as one query string (the simple query protocol runs each statement
    with its own snapshot, as separate calls would), so a script costs one round trip; with
    `commit`, COMMIT ends the string and the transaction ends with it. Elsewhere they run one
    by one and `commit` is left to the caller's transaction.
    """
    outcomes = []
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            for sql, params in statements:
                cursor.execute(sql, params)
                outcomes.append(_outcome(cursor))
            return outcomes
        calls = [_execute(cursor, sql, len(params)) for sql, params in statements]
        text = "; ".join([*calls, *(["COMMIT"] if commit else [])])
        if not text:
            return []
        cursor.execute(text, [param for _, params in statements for param in params])
        outcomes.append(_outcome(cursor))
        while cursor.nextset():
            outcomes.append(_outcome(cursor))
    return outcomes[: len(statements)]


class _Prepared:
    """The names of the statements prepared on each PostgreSQL connection (by its psycopg object).

    PREPARE lasts as long as the session and survives a rolled-back transaction, so a name is
    recorded once its PREPARE has run. A connection holds at most LIMIT of them; statements
    beyond that run unprepared, which bounds what an unusual text costs the server.
    """

    LIMIT = 200

    def __init__(self) -> None:
        self.names: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        self.lock = threading.Lock()

    def of(self, raw: Any) -> set[str]:
        with self.lock:
            return self.names.setdefault(raw, set())


_prepared_names = _Prepared()


def _execute(cursor: Any, sql: str, count: int) -> str:
    """`sql` as a call of its prepared statement on the cursor's connection (prepared first if needed)."""
    name = "engine_" + hashlib.sha1(sql.encode(), usedforsecurity=False).hexdigest()[:20]
    names = _prepared_names.of(cursor.connection)
    if name not in names:
        if len(names) >= _Prepared.LIMIT:
            return sql
        numbered = sql.split("%s")
        body = numbered[0] + "".join(f"${i}{part}" for i, part in enumerate(numbered[1:], start=1))
        cursor.execute(f"PREPARE {name} AS {body}")
        names.add(name)
    return f"EXECUTE {name}({_marks(count)})" if count else f"EXECUTE {name}"


def _outcome(cursor: Any) -> Outcome:
    return Outcome(cursor.fetchall() if cursor.description else [], cursor.rowcount)


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def _among(column: str, values: Sequence[Any]) -> Statement:
    """`column` is one of `values`: one array parameter on PostgreSQL, so that every list size is one
    prepared statement; a list of parameters elsewhere."""
    if not values:
        return "FALSE", []
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({_marks(len(values))})", list(values)


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


def _update(model: type[Model], values: dict[str, Any], where: str, where_params: Sequence[Any]) -> Statement:
    columns, params = _prepared(model, values)
    assignments = ", ".join(f"{column} = %s" for column in columns)
    return f"UPDATE {model._meta.db_table} SET {assignments} WHERE {where}", [*params, *where_params]  # noqa: S608


def lock(run_id: int | None = None, node_run_id: int | None = None) -> Statement:
    """Lock and read the run row, named by its id or by one of its nodes'."""
    target = "%s" if run_id is not None else "(SELECT run_id FROM engine_noderun WHERE id = %s)"
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = f"SELECT {', '.join(LOCKED_FIELDS)} FROM engine_run WHERE id = {target}{lock}"  # noqa: S608
    return sql, [run_id if run_id is not None else node_run_id]


def locked_run(outcome: Outcome) -> Run:
    """The run that `lock` read; Run.DoesNotExist if there is none."""
    if not outcome.rows:
        raise Run.DoesNotExist
    return _instance(Run, dict(zip(LOCKED_FIELDS, outcome.rows[0], strict=True)))


def save(run: Run, fields: Iterable[str], events: list[RunEvent], at: datetime) -> list[Statement]:
    """Statements that write the run's changed fields and insert its new events (stamped `at`)."""
    run_columns, run_params = _prepared(Run, {name: getattr(run, name) for name in fields})
    update = f"UPDATE engine_run SET {', '.join(f'{c} = %s' for c in run_columns)} WHERE id = %s"  # noqa: S608
    run_params.append(run.pk)
    if not events:
        return [(update, run_params)]
    payload = _field(RunEvent, "payload")
    event_params: list[Any] = []
    for event in events:
        event.created_at = at
        prepared = payload.get_db_prep_save(event.payload, connection)
        event_params += [run.pk, event.seq, event.type, event.node_id, prepared, at]
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(events))
    insert = f"INSERT INTO engine_runevent (run_id, seq, type, node_id, payload, created_at) VALUES {rows}"  # noqa: S608
    if connection.vendor == "postgresql":
        return [(f"WITH inserted AS ({insert}) {update}", [*event_params, *run_params])]
    return [(insert, event_params), (update, run_params)]


def node_for_claim(node_run_id: int) -> Statement:
    """Read what a claim needs of a node (see `claimed_node`)."""
    return f"SELECT {', '.join(CLAIM_FIELDS)} FROM engine_noderun WHERE id = %s", [node_run_id]  # noqa: S608


def claimed_node(outcome: Outcome) -> NodeRun | None:
    """The node `node_for_claim` or `claim_pending` gave, if there was one."""
    return node_from(outcome.rows[0]) if outcome.rows else None


def claim_pending(node_run_id: int, values: dict[str, Any]) -> Statement:
    """Set `values` and a new attempt on a pending node, returning it (see `claimed_node`) if it was pending."""
    columns, params = _prepared(NodeRun, values)
    assignments = ", ".join([*(f"{column} = %s" for column in columns), "attempt = attempt + 1"])
    sql = (
        f"UPDATE engine_noderun SET {assignments} "  # noqa: S608
        f"WHERE id = %s AND status = %s RETURNING {', '.join(CLAIM_FIELDS)}"
    )
    return sql, [*params, node_run_id, NodeStatus.PENDING]


def node_from(row: Sequence[Any]) -> NodeRun:
    """A NodeRun from a CLAIM_FIELDS row, its values converted as the ORM's compiler converts them."""
    return _instance(NodeRun, _converted(NodeRun, CLAIM_FIELDS, row))


def _converted(model: type[Model], names: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    """A row's values by field name, converted as the ORM's compiler converts them."""
    converted = {}
    for name, value in zip(names, row, strict=True):
        column = _field(model, name).get_col(model._meta.db_table)
        for convert in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
            value = convert(value, column, connection)
        converted[name] = value
    return converted


def instances(
    model: type[M], where: Statement, order_by: str = "", limit: int | None = None, only: Sequence[str] = ()
) -> list[M]:
    """Rows of `model` matching `where` (SQL and its parameters), read as one prepared statement.

    For lookups made on every model call (prices, providers, budgets, the run a call bills):
    compiling them through the ORM took several times what running them does. `only` names
    the fields to read (as QuerySet.only), else all of them.
    """
    fields = [field for field in model._meta.concrete_fields if not only or field.attname in only or field.primary_key]
    names = [field.attname for field in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    condition, params = where
    sql = f"SELECT {columns} FROM {model._meta.db_table} WHERE {condition}"  # noqa: S608
    if order_by:
        sql += f" ORDER BY {order_by}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    [found] = run_script([(sql, params)])
    return [_instance(model, _converted(model, names, row)) for row in found.rows]


def _instance(model: type[M], values: dict[str, Any]) -> M:
    """A model instance with only `values` loaded; from_db wants them in the model's field order."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])


def update_node(node_run_id: int, values: dict[str, Any], **expected: Any) -> Statement:
    """UPDATE one node if its columns still hold `expected` (rowcount 0: another writer got there first)."""
    conditions = " AND ".join(["id = %s", *(f"{connection.ops.quote_name(name)} = %s" for name in expected)])
    return _update(NodeRun, values, conditions, [node_run_id, *expected.values()])


def update_nodes(pks: list[int], values: dict[str, Any]) -> Statement:
    return _update(NodeRun, values, *_among("id", pks))


def _of_nodes(columns: str, run_id: int, node_ids: Iterable[str], status: str | None = None) -> Statement:
    """Read `columns` of the named nodes of a run (in `status` only, if given)."""
    only = " AND status = %s" if status is not None else ""
    names, wanted = _among("node_id", list(node_ids))
    sql = f"SELECT {columns} FROM engine_noderun WHERE run_id = %s{only} AND {names}"  # noqa: S608
    return sql, [run_id, *([status] if status is not None else []), *wanted]


def rows(run_id: int, node_ids: Iterable[str]) -> Statement:
    """Read status, handle, whether wake_at is set, pk and attempt of the named nodes of a run (see `by_node`)."""
    return _of_nodes("node_id, status, handle, wake_at IS NOT NULL, id, attempt", run_id, node_ids)


def by_node(outcome: Outcome) -> dict[str, Row]:
    """The rows a `rows` statement read, by node id."""
    return {row[0]: (row[1], row[2], bool(row[3]), row[4], row[5]) for row in outcome.rows}


def counts(run_id: int) -> tuple[int, int, int]:
    """Nodes of a run that are busy (running, ready or retrying later), waiting, and failed or crashed."""
    sql = (
        "SELECT "
        "COALESCE(SUM(CASE WHEN status = %s OR (status <> %s AND wake_at IS NOT NULL) THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN status = %s THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN status IN (%s, %s) THEN 1 ELSE 0 END), 0) "
        "FROM engine_noderun WHERE run_id = %s"
    )
    params = [NodeStatus.RUNNING, NodeStatus.WAITING, NodeStatus.WAITING, NodeStatus.FAILED, NodeStatus.CRASHED, run_id]
    [found] = run_script([(sql, params)])
    busy, waiting, failed = found.rows[0]
    return int(busy), int(waiting), int(failed)


def inputs(run_id: int, upstream: Collection[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a node needs of its run (with its workspace's outbound allowlist), and the outputs of
    the nodes named in `upstream` that succeeded: read fresh for each node, in one round trip."""
    names = ("input", "workspace_id", "created_by_id", "workflow_id", "version_number")
    run_sql = (
        f"SELECT {', '.join(f'r.{n}' for n in names)}, w.http_allowlist FROM engine_run r "  # noqa: S608
        "JOIN accounts_workspace w ON w.id = r.workspace_id WHERE r.id = %s"
    )
    found, produced = run_script(
        [(run_sql, [run_id]), _of_nodes("node_id, output", run_id, upstream, NodeStatus.SUCCEEDED)]
    )
    run = dict(zip((*names, "http_allowlist"), found.rows[0], strict=True))
    run["input"] = _json(Run, "input", run["input"])
    from accounts.models import Workspace

    run["http_allowlist"] = _json(Workspace, "http_allowlist", run["http_allowlist"])
    return run, {node_id: _json(NodeRun, "output", output) for node_id, output in produced.rows}


def _json(model: type[Model], name: str, value: Any) -> Any:
    return _field(model, name).from_db_value(value, None, connection)  # type: ignore[attr-defined]


def claim(node_run_id: int, owner: str, lease_expires_at: datetime, now: datetime) -> list[Statement]:
    """A whole claim on PostgreSQL, for `run_script` (see runs.claim): lock, claim, events.

    The first statement takes the run lock; the second, with its own snapshot taken under
    the lock, claims the node if it is due and its run has not ended, moves a queued or
    waiting run to running, and inserts node.running (and run.running) with the next seqs.
    It returns the claimed node (CLAIM_FIELDS), whether the node was waiting, the run's
    status before the claim, its workspace and its last seq: nothing if nothing was claimed.
    """
    moving = (RunStatus.QUEUED, RunStatus.WAITING)
    stamp = _field(NodeRun, "started_at").get_db_prep_save(now, connection)
    expires = _field(NodeRun, "lease_expires_at").get_db_prep_save(lease_expires_at, connection)
    sql = f"""
        WITH before AS (
            SELECT n.status AS node_status, r.status AS run_status, r.workspace_id
            FROM engine_noderun n JOIN engine_run r ON r.id = n.run_id WHERE n.id = %s
        ), claimed AS (
            UPDATE engine_noderun SET status = %s, lease_owner = %s, lease_expires_at = %s, wake_at = NULL,
                started_at = %s, finished_at = NULL, attempt = attempt + CASE WHEN status = %s THEN 0 ELSE 1 END
            WHERE id = %s AND status IN ({_marks(len(CLAIMABLE))}) AND wake_at IS NOT NULL AND wake_at <= %s
                AND (SELECT run_status FROM before) NOT IN ({_marks(len(ENDED_RUN))})
            RETURNING {", ".join(CLAIM_FIELDS)}
        ), moved AS (
            UPDATE engine_run SET last_seq = last_seq + CASE WHEN status IN (%s, %s) THEN 2 ELSE 1 END,
                status = %s, started_at = CASE WHEN status = %s THEN %s ELSE started_at END
            WHERE id = (SELECT run_id FROM claimed)
            RETURNING last_seq
        ), inserted AS (
            INSERT INTO engine_runevent (run_id, seq, type, node_id, payload, created_at)
            SELECT c.run_id, m.last_seq - CASE WHEN b.run_status IN (%s, %s) THEN 1 ELSE 0 END, 'node.running',
                c.node_id, jsonb_build_object('attempt', c.attempt), %s::timestamptz
            FROM claimed c, moved m, before b
            UNION ALL
            SELECT c.run_id, m.last_seq, 'run.running', '', '{{}}'::jsonb, %s::timestamptz
            FROM claimed c, moved m, before b WHERE b.run_status IN (%s, %s)
        )
        SELECT c.*, b.node_status = %s, b.run_status, b.workspace_id, m.last_seq FROM claimed c, moved m, before b
    """  # noqa: S608
    params = [
        node_run_id,
        NodeStatus.RUNNING, owner, expires, stamp, NodeStatus.WAITING,
        node_run_id, *CLAIMABLE, stamp, *sorted(ENDED_RUN),
        *moving, RunStatus.RUNNING, RunStatus.QUEUED, stamp,
        *moving, stamp,
        stamp, *moving,
        NodeStatus.WAITING,
    ]  # fmt: skip
    return [lock(node_run_id=node_run_id), (sql, params)]


def record_alone(
    node_run: NodeRun, values: dict[str, Any], blockers: Sequence[Sequence[str]], event: RunEvent, at: datetime
) -> list[Statement]:
    """A node's success as one script, for when it can make nothing ready (PostgreSQL; see runs.succeed).

    Under the run lock, it records `values` (fenced by attempt and lease owner) and `event`
    (numbered next) only if the run is running and, for each list in `blockers` (see
    flow.blockers), one of its nodes (an empty list: any other node of the run) is still
    busy, running or scheduled: then no successor can become ready or be skipped, and the
    run cannot end or wait. Otherwise it writes nothing and returns no row, and the caller takes the general
    path. The row it returns on success is the event's seq and the run's workspace.
    """
    columns, params = _prepared(NodeRun, values)
    assignments = ", ".join(f"{column} = %s" for column in columns)
    busy = "status = %s OR (status <> %s AND wake_at IS NOT NULL)"
    waits, wait_params = [], []
    for sources in blockers:
        named, named_params = _among("node_id", sources) if sources else ("id <> %s", [node_run.pk])
        waits.append(f"EXISTS (SELECT 1 FROM engine_noderun WHERE run_id = %s AND {named} AND ({busy}))")  # noqa: S608
        wait_params += [node_run.run_id, *named_params, NodeStatus.RUNNING, NodeStatus.WAITING]
    payload = _field(RunEvent, "payload").get_db_prep_save(event.payload, connection)
    sql = f"""
        WITH fast AS (
            SELECT 1 FROM engine_run WHERE id = %s AND status = %s AND {" AND ".join(waits)}
        ), recorded AS (
            UPDATE engine_noderun SET {assignments}
            WHERE id = %s AND status = %s AND attempt = %s AND lease_owner = %s AND EXISTS (SELECT 1 FROM fast)
            RETURNING run_id
        ), moved AS (
            UPDATE engine_run SET last_seq = last_seq + 1 WHERE id = (SELECT run_id FROM recorded)
            RETURNING last_seq, workspace_id
        ), inserted AS (
            INSERT INTO engine_runevent (run_id, seq, type, node_id, payload, created_at)
            SELECT %s, last_seq, %s, %s, %s, %s FROM moved
        )
        SELECT last_seq, workspace_id FROM moved
    """  # noqa: S608
    sql_params = [
        node_run.run_id, RunStatus.RUNNING, *wait_params,
        *params, node_run.pk, NodeStatus.RUNNING, node_run.attempt, node_run.lease_owner,
        node_run.run_id, event.type, event.node_id, payload, at,
    ]  # fmt: skip
    return [lock(node_run.run_id), (sql, sql_params)]
