"""What a success reads when its only successor may run next on the same thread: one statement.

Sent under the run lock after the success's fenced write (engine.runs.outcomes, a chain of
cheap nodes). The successor and its upstream nodes are read in one go: the rows readiness
decides from (`readiness.rows`: the successor's and its inputs'), the successor's row as a
claim reads it (`claims.CLAIM_FIELDS`), and the outputs of its upstream nodes that succeeded
(`node_inputs`). They were three statements, each one more result for the worker to take apart
(docs/benchmarks.md, nineteenth round). The successor's inputs are among its upstream nodes, so
the rows read are its upstream's and its own.
"""

from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from engine.models import NodeRun, NodeStatus
from engine.sql import readiness
from engine.sql.script import Outcome, Statement, among, from_json


class Read(NamedTuple):
    """What `statement` gave: readiness's rows by node id, the successor's row as a claim reads it (the columns of
    claims.CLAIM_FIELDS, in their order; None: no such row), and the outputs of its upstream nodes that succeeded,
    by node id."""

    rows: dict[str, readiness.Row]
    successor: tuple[Any, ...] | None
    produced: dict[str, Any]


def statement(run_id: int, successor: str, upstream: Collection[str]) -> Statement:
    """Read the rows of `successor` and of its `upstream` nodes (see `read`)."""
    named, params = among("node_id", sorted({successor, *upstream}), "node_ids")
    # A node's resume is read for the successor only: it is its claim's, and can be large.
    sql = (
        f"SELECT {readiness.COLUMNS}, "  # noqa: S608
        "run_id, crashes, wake_at, CASE WHEN node_id = %(successor)s THEN resume END, lease_owner, output "
        f"FROM engine_noderun WHERE run_id = %(run_id)s AND {named}"
    )
    return sql, {**params, "run_id": run_id, "successor": successor}


def read(outcome: Outcome, successor: str, reads: Collection[str]) -> Read:
    """What `statement` gave, with readiness's rows of the nodes in `reads` only (what `readiness.rows` reads)."""
    rows: dict[str, readiness.Row] = {}
    produced: dict[str, Any] = {}
    found: tuple[Any, ...] | None = None
    for row in outcome.rows:
        node_id, status = row[0], row[1]
        if node_id in reads:
            rows[node_id] = readiness.row(row)
        if node_id == successor:
            found = _claim_row(row)
        elif status == NodeStatus.SUCCEEDED:
            produced[node_id] = from_json(NodeRun, "output", row[11])
    return Read(rows, found, produced)


def _claim_row(row: Sequence[Any]) -> tuple[Any, ...]:
    """A row of `statement` as claims.CLAIM_FIELDS: id, run_id, node_id, status, attempt, crashes, wake_at, resume,
    lease_owner."""
    return (row[4], row[6], row[0], row[1], row[5], row[7], row[8], row[9], row[10])
