"""What scheduling reads under the run lock: the rows of named nodes, and the counts that decide how a run goes on."""

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from engine.models import NodeStatus
from engine.sql.script import Outcome, Statement, among, run_script


class Row(NamedTuple):
    """A node's row as readiness needs it."""

    status: str
    handle: str  # the output handle it chose; blank: all of them
    scheduled: bool  # wake_at is set: it is ready, or will retry or wake later
    pk: int
    attempt: int


class Counts(NamedTuple):
    """A run's nodes that are busy (running, ready or retrying later), waiting, and failed or crashed."""

    busy: int
    waiting: int
    failed: int


def of_nodes(columns: str, run_id: int, node_ids: Iterable[str], status: str | None = None) -> Statement:
    """Read `columns` of the named nodes of a run (in `status` only, if given)."""
    named, params = among("node_id", list(node_ids), "node_ids")
    only = " AND status = %(status)s" if status is not None else ""
    params |= {"run_id": run_id, **({"status": status} if status is not None else {})}
    return f"SELECT {columns} FROM engine_noderun WHERE run_id = %(run_id)s{only} AND {named}", params  # noqa: S608


# What `rows` reads of a node: its node id, then a Row's columns (engine.sql.successor_reads reads them first too).
COLUMNS = "node_id, status, handle, wake_at IS NOT NULL, id, attempt"


def rows(run_id: int, node_ids: Iterable[str]) -> Statement:
    """Read the Row of each named node of a run (see `by_node`)."""
    return of_nodes(COLUMNS, run_id, node_ids)


def by_node(outcome: Outcome) -> dict[str, Row]:
    """The rows a `rows` statement read, by node id."""
    return {found[0]: row(found) for found in outcome.rows}


def row(found: Sequence[Any]) -> Row:
    """The Row of a row that begins with COLUMNS."""
    return Row(found[1], found[2], bool(found[3]), found[4], found[5])


def counts(run_id: int) -> Counts:
    """Count the run's busy, waiting and failed nodes (flow.next_run_status decides from them)."""
    [found] = run_script([count(run_id)])
    return counted(found)


def count(run_id: int) -> Statement:
    """The statement `counts` runs, for a script that sends it with others (see `counted`)."""
    sql = (
        "SELECT "
        "COALESCE(SUM(CASE WHEN status = %(running)s OR (status <> %(waiting)s AND wake_at IS NOT NULL) "
        "THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN status = %(waiting)s THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN status IN (%(failed)s, %(crashed)s) THEN 1 ELSE 0 END), 0) "
        "FROM engine_noderun WHERE run_id = %(run_id)s"
    )
    params = {
        "running": NodeStatus.RUNNING,
        "waiting": NodeStatus.WAITING,
        "failed": NodeStatus.FAILED,
        "crashed": NodeStatus.CRASHED,
        "run_id": run_id,
    }
    return sql, params


def counted(outcome: Outcome) -> Counts:
    """What a `count` statement gave."""
    busy, waiting, failed = outcome.rows[0]
    return Counts(int(busy), int(waiting), int(failed))
