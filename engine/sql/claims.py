"""Taking a ready node for a worker: the claim statements and the `Claim` they give."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from engine.event_types import EventType
from engine.models import ENDED_RUN, NodeRun, NodeStatus, RunStatus
from engine.sql.node_inputs import FACTS_COLUMNS, RunFacts
from engine.sql.run_lock import lock, lock_runs_of
from engine.sql.script import Outcome, Statement, assignments, converted, stored

# What a claim reads of the node; the node's input, output and error are not needed to run it.
CLAIM_FIELDS = ("id", "run_id", "node_id", "status", "attempt", "crashes", "wake_at", "resume", "lease_owner")
CLAIMABLE = (NodeStatus.PENDING, NodeStatus.FAILED, NodeStatus.CRASHED, NodeStatus.WAITING)


@dataclass(frozen=True)
class Claim:
    """A node run as a claim read it (CLAIM_FIELDS), and whether the claim woke it from a wait."""

    pk: int
    run_id: int
    node_id: str
    status: str
    attempt: int
    crashes: int
    wake_at: datetime | None
    resume: Any
    lease_owner: str
    resumed_from_wait: bool = False
    # What the node reads of its run, when the claim read it too (`claim` does).
    facts: RunFacts | None = None


def claim_from(row: Sequence[Any], resumed_from_wait: bool = False, facts: RunFacts | None = None) -> Claim:
    """A Claim from a CLAIM_FIELDS row, its values converted as the ORM's compiler converts them."""
    values = converted(NodeRun, CLAIM_FIELDS, row)
    values["pk"] = values.pop("id")
    return Claim(**values, resumed_from_wait=resumed_from_wait, facts=facts)


def node_for_claim(node_run_id: int) -> Statement:
    """Read what a claim needs of a node (see `claimed`)."""
    return f"SELECT {', '.join(CLAIM_FIELDS)} FROM engine_noderun WHERE id = %(id)s", {"id": node_run_id}  # noqa: S608


def claimed(outcome: Outcome) -> Claim | None:
    """The node `node_for_claim` or `claim_pending` gave, if there was one."""
    return claim_from(outcome.rows[0]) if outcome.rows else None


def take(claim: Claim, values: Mapping[str, Any]) -> Statement:
    """Set `values` on the node if it still has the status and attempt `claim` read (rowcount 0: it moved)."""
    columns, params = assignments(NodeRun, values, "set_")
    sql = (
        f"UPDATE engine_noderun SET {columns} "  # noqa: S608
        "WHERE id = %(id)s AND status = %(was_status)s AND attempt = %(was_attempt)s"
    )
    return sql, {**params, "id": claim.pk, "was_status": claim.status, "was_attempt": claim.attempt}


def claim_pending(node_run_id: int, values: Mapping[str, Any]) -> Statement:
    """Set `values` and a new attempt on a pending node, returning it (see `claimed`) if it was pending."""
    columns, params = assignments(NodeRun, values, "set_")
    sql = (
        f"UPDATE engine_noderun SET {columns}, attempt = attempt + 1 "  # noqa: S608
        f"WHERE id = %(id)s AND status = %(pending)s RETURNING {', '.join(CLAIM_FIELDS)}"
    )
    return sql, {**params, "id": node_run_id, "pending": NodeStatus.PENDING}


def _marks(name: str, values: Sequence[str]) -> tuple[str, dict[str, str]]:
    names = {f"{name}_{i}": value for i, value in enumerate(values)}
    return ", ".join(f"%({n})s" for n in names), names


# Sent first in a claim that is a transaction of its own: its commit does not wait for the WAL flush.
NO_FLUSH_WAIT: Statement = ("SELECT set_config('synchronous_commit', 'off', true)", {})


def claim(
    node_run_ids: Sequence[int], owner: str, lease_expires_at: datetime, now: datetime, *, alone: bool = False
) -> list[Statement]:
    """A whole claim of one or several nodes on PostgreSQL, for `run_script` (see runs.claim): lock, claims, events.

    `alone`: the script is a transaction of its own, and its commit does not wait for the
    WAL to reach the disk (`synchronous_commit` off for it alone; NO_FLUSH_WAIT comes first
    and gives a row of its own). A claim is the one write of a node that may be lost to a
    crash of PostgreSQL without harm: the node is then ready again, as if the claim had
    never run, and the worker that ran it is fenced out by its lease owner (every claim sets
    a new one). Any later commit that waits for the flush (the node's outcome, a heartbeat,
    an effect in the ledger, anyone's) makes it durable too, since the WAL is written in
    order. On the benchmark machine a flush costs about 6 ms, and a claim was one of the two
    flushes of a chain of cheap nodes (docs/benchmarks.md).

    The first statement takes the run lock (the locks of all the nodes' runs, in the order of
    their ids, so that two claims of nodes of the same runs cannot wait for each other); then
    one statement per node, each with its own snapshot taken under the lock, claims the node
    if it is due and its run has not ended, moves a queued or waiting run to running, and
    inserts node.running (and run.running) with the next seqs. Each returns the claimed node
    (CLAIM_FIELDS), whether the node was waiting, the run's status before the claim, its
    workspace, its last seq, when the node became due (its wake_at before the claim), the
    run's version (engine.graph.of_pinned_run) and what the node reads of its run
    (node_inputs.FACTS_COLUMNS): nothing if nothing was claimed.

    The nodes of one message (engine.dispatch: several of a fan-out) are claimed by one
    script: one round trip and one hold of the run lock instead of one for each.
    """
    claimable, claimable_params = _marks("claimable", CLAIMABLE)
    ended, ended_params = _marks("ended", sorted(ENDED_RUN))
    sql = f"""
        WITH before AS (
            SELECT n.status AS node_status, r.status AS run_status, r.workspace_id, n.wake_at AS due_at,
                r.version_id
            FROM engine_noderun n JOIN engine_run r ON r.id = n.run_id WHERE n.id = %(id)s
        ), claimed AS (
            UPDATE engine_noderun SET status = %(running)s, lease_owner = %(owner)s, lease_expires_at = %(expires)s,
                wake_at = NULL, started_at = %(now)s, finished_at = NULL,
                attempt = attempt + CASE WHEN status = %(waiting)s THEN 0 ELSE 1 END
            WHERE id = %(id)s AND status IN ({claimable}) AND wake_at IS NOT NULL AND wake_at <= %(now)s
                AND (SELECT run_status FROM before) NOT IN ({ended})
            RETURNING {", ".join(CLAIM_FIELDS)}
        ), moved AS (
            UPDATE engine_run
            SET last_seq = last_seq + CASE WHEN status IN (%(queued)s, %(run_waiting)s) THEN 2 ELSE 1 END,
                status = %(run_running)s, started_at = CASE WHEN status = %(queued)s THEN %(now)s ELSE started_at END
            WHERE id = (SELECT run_id FROM claimed)
            RETURNING last_seq
        ), inserted AS (
            INSERT INTO engine_runevent (run_id, seq, type, node_id, payload, created_at)
            SELECT c.run_id, m.last_seq - CASE WHEN b.run_status IN (%(queued)s, %(run_waiting)s) THEN 1 ELSE 0 END,
                %(node_running_event)s, c.node_id, jsonb_build_object('attempt', c.attempt), %(now)s::timestamptz
            FROM claimed c, moved m, before b
            UNION ALL
            SELECT c.run_id, m.last_seq, %(run_running_event)s, '', '{{}}'::jsonb, %(now)s::timestamptz
            FROM claimed c, moved m, before b WHERE b.run_status IN (%(queued)s, %(run_waiting)s)
        )
        SELECT c.*, b.node_status = %(waiting)s, b.run_status, b.workspace_id, m.last_seq, b.due_at, b.version_id,
            {FACTS_COLUMNS}
        FROM claimed c, moved m, before b, engine_run r JOIN accounts_workspace w ON w.id = r.workspace_id
        WHERE r.id = c.run_id
    """  # noqa: S608
    params = {
        "owner": owner,
        "expires": stored(NodeRun, "lease_expires_at", lease_expires_at),
        "now": stored(NodeRun, "started_at", now),
        "running": NodeStatus.RUNNING,
        "waiting": NodeStatus.WAITING,
        "queued": RunStatus.QUEUED,
        "run_waiting": RunStatus.WAITING,
        "run_running": RunStatus.RUNNING,
        "node_running_event": EventType.NODE_RUNNING,
        "run_running_event": EventType.RUN_RUNNING,
        **claimable_params,
        **ended_params,
    }
    assert connection.vendor == "postgresql", "the one-statement claim is PostgreSQL's (runs.claim)"
    locks = lock(node_run_id=node_run_ids[0]) if len(node_run_ids) == 1 else lock_runs_of(node_run_ids)
    claims = [(sql, {**params, "id": node_run_id}) for node_run_id in node_run_ids]
    return [*([NO_FLUSH_WAIT] if alone else []), locks, *claims]
