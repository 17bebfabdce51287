"""Writing what happened to nodes: a fenced outcome, the nodes made ready or skipped, a success recorded alone."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from engine.models import NodeRun, NodeStatus, RunEvent, RunStatus
from engine.sql.run_lock import lock
from engine.sql.script import Statement, among, assignments, stored


def record(node_run_id: int, attempt: int, lease_owner: str, values: Mapping[str, Any]) -> Statement:
    """Set `values` on a running node only while this attempt holds its lease (rowcount 0: fenced out)."""
    columns, params = assignments(NodeRun, values, "set_")
    sql = (
        f"UPDATE engine_noderun SET {columns} "  # noqa: S608
        "WHERE id = %(id)s AND status = %(running)s AND attempt = %(attempt)s AND lease_owner = %(owner)s"
    )
    fence = {"id": node_run_id, "running": NodeStatus.RUNNING, "attempt": attempt, "owner": lease_owner}
    return sql, {**params, **fence}


def ready_columns(now: datetime) -> dict[str, Any]:
    """What makes a pending node ready: due now, and taken for sent (its message goes once the change commits)."""
    return {"wake_at": now, "dispatched_at": now}


def mark_nodes(pks: Sequence[int], values: Mapping[str, Any]) -> Statement:
    """Set `values` on the nodes with these ids (the ones scheduling made ready or skipped)."""
    columns, params = assignments(NodeRun, values, "set_")
    where, where_params = among("id", pks, "ids")
    return f"UPDATE engine_noderun SET {columns} WHERE {where}", {**params, **where_params}  # noqa: S608


def record_alone(
    node_run_id: int,
    run_id: int,
    fence: tuple[int, str],
    values: Mapping[str, Any],
    blockers: Sequence[Sequence[str]],
    event: RunEvent,
    at: datetime,
) -> list[Statement]:
    """A node's success as one script, for when it can make nothing ready (PostgreSQL; see runs.succeed).

    Under the run lock, it records `values` (fenced by the attempt and lease owner in `fence`)
    and `event` (numbered next) only if the run is running and, for each list in `blockers`
    (see flow.blockers), one of its nodes (an empty list: any other node of the run) is still
    busy, running or scheduled: then no successor can become ready or be skipped, and the run
    cannot end or wait. Otherwise it writes nothing and returns no row, and the caller takes
    the general path. The row it returns on success is the event's seq and the run's workspace.
    """
    columns, params = assignments(NodeRun, values, "set_")
    busy = "status = %(running)s OR (status <> %(waiting)s AND wake_at IS NOT NULL)"
    waits = []
    for i, sources in enumerate(blockers):
        named, named_params = among("node_id", sources, f"blockers_{i}") if sources else ("id <> %(id)s", {})
        params |= named_params
        waits.append(f"EXISTS (SELECT 1 FROM engine_noderun WHERE run_id = %(run_id)s AND {named} AND ({busy}))")  # noqa: S608
    attempt, lease_owner = fence
    sql = f"""
        WITH fast AS (
            SELECT 1 FROM engine_run WHERE id = %(run_id)s AND status = %(run_running)s AND {" AND ".join(waits)}
        ), recorded AS (
            UPDATE engine_noderun SET {columns}
            WHERE id = %(id)s AND status = %(running)s AND attempt = %(attempt)s AND lease_owner = %(owner)s
                AND EXISTS (SELECT 1 FROM fast)
            RETURNING run_id
        ), moved AS (
            UPDATE engine_run SET last_seq = last_seq + 1 WHERE id = (SELECT run_id FROM recorded)
            RETURNING last_seq, workspace_id
        ), inserted AS (
            INSERT INTO engine_runevent (run_id, seq, type, node_id, payload, created_at)
            SELECT %(run_id)s, last_seq, %(type)s, %(node_id)s, %(payload)s, %(at)s FROM moved
        )
        SELECT last_seq, workspace_id FROM moved
    """  # noqa: S608
    params |= {
        "id": node_run_id,
        "run_id": run_id,
        "run_running": RunStatus.RUNNING,
        "running": NodeStatus.RUNNING,
        "waiting": NodeStatus.WAITING,
        "attempt": attempt,
        "owner": lease_owner,
        "type": str(event.type),
        "node_id": event.node_id,
        "payload": stored(RunEvent, "payload", event.payload),
        "at": at,
    }
    return [lock(run_id), (sql, params)]
