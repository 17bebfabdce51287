"""Claims: a worker taking a ready node (or, with ClaimNext, the next one its outcome made ready), and its lease."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from engine import graph as graphs
from engine import metrics
from engine.event_types import EventType
from engine.events import Change, Deferred, announce, change
from engine.flow import run_graph
from engine.models import ENDED_RUN, NodeRun, NodeStatus, Run, RunEvent, RunStatus
from engine.registry import NodeResult
from engine.sql import claims, node_inputs, outcomes
from engine.sql.claims import Claim
from engine.sql.script import run_script

CLAIMABLE = list(claims.CLAIMABLE)
# A node attempt as a worker holds it: what a claim gave, or the row itself (the reaper's, a test's).
Attempt = NodeRun | Claim


def claim(node_run_id: int, owner: str, lease_s: float) -> Claim | None:
    """Take a ready node for this worker, or None if it is not ready, taken, or its run ended (see `claim_all`)."""
    claimed = claim_all([node_run_id], owner, lease_s)
    return claimed[0] if claimed else None


def claim_all(node_run_ids: Sequence[int], owner: str, lease_s: float) -> list[Claim]:
    """Take for this worker those of the nodes that are ready, in their order; those not ready, taken, or of a
    run that ended are left out.

    On PostgreSQL the claim is one script (engine.sql.claims.claim) that holds the run lock
    only while the server runs it: every node of a fan-out is claimed under that lock, so it
    must not wait for the worker between statements; the nodes of one message are claimed by
    one script. Elsewhere (SQLite, the embedded mode) each is a change like any other (`_take`),
    all in one transaction, so that a claim tried again after an error takes them all again.
    """
    if not node_run_ids:
        return []
    if connection.vendor == "postgresql":
        return _claim_in_one_script(node_run_ids, owner, lease_s)
    taken = []
    with transaction.atomic():
        for node_run_id in node_run_ids:
            try:
                with change(node_run_id=node_run_id, locked_reads=[claims.node_for_claim(node_run_id)]) as step:
                    found = _take(step, owner, lease_s)
            except Run.DoesNotExist:
                continue
            if found is not None:
                taken.append(found)
    return taken


def _claim_in_one_script(node_run_ids: Sequence[int], owner: str, lease_s: float) -> list[Claim]:
    now = timezone.now()
    # Outside a transaction the script is one of its own (a multi-statement query is atomic).
    alone = not connection.in_atomic_block
    script = claims.claim(node_run_ids, owner, now + timedelta(seconds=lease_s), now, alone=alone)
    taken = []
    for outcome in run_script(script)[-len(node_run_ids) :]:
        if outcome.rows:
            taken.append(_claimed(outcome.rows[0], now))
    return taken


def _claimed(found: Sequence[Any], now: datetime) -> Claim:
    """The Claim of a claim statement's row, its events announced and its run's version at hand."""
    fields = len(claims.CLAIM_FIELDS)
    row, more = found[:fields], found[fields:]
    resumed, run_status, workspace_id, last_seq, due_at, version_id = more[:6]
    metrics.queue_lag.observe(max(0.0, (now - due_at).total_seconds()))
    taken = claims.claim_from(row, resumed_from_wait=resumed, facts=node_inputs.facts(more[6:]))
    graphs.of_pinned_run(taken.run_id, version_id)
    moved = run_status in (RunStatus.QUEUED, RunStatus.WAITING)
    first = last_seq - (1 if moved else 0)
    events = [
        RunEvent(seq=first, type=EventType.NODE_RUNNING, node_id=taken.node_id, payload={"attempt": taken.attempt})
    ]
    if moved:
        events.append(RunEvent(seq=last_seq, type=EventType.RUN_RUNNING, node_id="", payload={}))
    announce(taken.run_id, workspace_id, events, now, RunStatus.RUNNING if moved else None)
    return taken


@dataclass
class Ran:
    """A node that `ClaimNext.inline` ran on the worker's task thread: its result and resolved params."""

    result: NodeResult
    input: Any


@dataclass
class ClaimNext:
    """Asks succeed() to claim, in the same transaction, one node its outcome made ready.

    The worker that finished a node then runs the next one itself: one transaction instead of
    two, and no broker round trip. The claim is an ordinary one (attempt, lease, events), so
    the lease and the reaper cover the claimed node as if it had come through Celery. Only a
    node whose timeout fits in `within_s` (what is left of the Celery task's time limit) is
    taken; the rest are sent as usual. `claimed` holds what was taken.

    With `inline`, a claimed node that is cheap (Node.runs_inline) is run at once, still in
    that transaction and under the run lock (its inputs read with its claim), and its success
    is recorded there too; so is the next one's, for a whole chain of cheap nodes: one commit
    for the chain. `inline` gives None for a node it did not run or that failed; that node
    stays claimed for the caller, which runs it (or records its failure) after the commit. A
    crash before the commit loses the whole chain with the node that began it, whose lease
    the reaper then finds expired.
    """

    owner: str
    lease_s: float
    within_s: float
    claimed: Claim | None = None
    claim: Deferred | None = None
    inline: Callable[[Claim, node_inputs.Inputs], Ran | None] | None = None


def _claim_columns(owner: str, lease_s: float, now: Any) -> dict[str, Any]:
    """The columns a claim sets besides the attempt."""
    return {
        "status": NodeStatus.RUNNING,
        "lease_owner": owner,
        "lease_expires_at": now + timedelta(seconds=lease_s),
        "wake_at": None,
        "started_at": now,
        "finished_at": None,
    }


def _take(step: Change, owner: str, lease_s: float) -> Claim | None:
    """The claim of the embedded mode, as a change: the node was read with the lock (step.reads)."""
    if step.run.status in ENDED_RUN:
        return None
    # Read with the lock: no other transition can move this node until it is released.
    found = claims.claimed(step.reads[0])
    if found is None:
        return None
    if found.status not in CLAIMABLE or found.wake_at is None or found.wake_at > step.now:
        return None
    # Resuming after a wait continues the same attempt; anything else is a new one.
    resumed = found.status == NodeStatus.WAITING
    lag = max(0.0, (step.now - found.wake_at).total_seconds())
    transaction.on_commit(lambda: metrics.queue_lag.observe(lag))
    columns = _claim_columns(owner, lease_s, step.now) | {"attempt": found.attempt + (0 if resumed else 1)}
    # Under the run lock the node cannot have moved since it was read, so the conditional
    # UPDATE matches and can wait for the transaction's last script.
    step.defer(claims.take(found, columns))
    taken = replace(
        found,
        status=NodeStatus.RUNNING,
        lease_owner=owner,
        wake_at=None,
        attempt=columns["attempt"],
        resumed_from_wait=resumed,
    )
    _started(step, taken.node_id, taken.attempt)
    return taken


def take_queued(step: Change, then: ClaimNext) -> str | None:
    """Claim for `then` the first node this change made ready, if its timeout fits (see ClaimNext); its node id."""
    node_run_id = step.ready[0]
    node_id, attempt = step.queued[node_run_id]
    if run_graph(step.run.pk).node(node_id).timeout_s > then.within_s:
        return None
    # It was pending and made ready under this lock: one conditional UPDATE claims it, and makes it ready too
    # when that write was not sent yet (the claim then overrides its wake_at, as it would have).
    columns = _claim_columns(then.owner, then.lease_s, step.now)
    if step.unmark(node_run_id):
        columns = outcomes.ready_columns(step.now) | columns
    then.claim = step.defer(claims.claim_pending(node_run_id, columns))
    step.ready.pop(0)
    _started(step, node_id, attempt + 1)
    return node_id


def claimed_by(then: ClaimNext) -> None:
    """The node take_queued claimed, read back from its UPDATE once the transaction is done."""
    if then.claim is None or then.claim.outcome is None:
        return
    taken = claims.claimed(then.claim.outcome)
    if taken is None:
        raise RuntimeError("a node made ready under the run lock could not be claimed under it")
    then.claimed = taken


def claimed_ahead(then: ClaimNext, found: Claim) -> Claim:
    """The node take_queued claimed for `then`, as its claim leaves it, from its row as read before (`found`).

    Under the run lock a pending node made ready cannot move, so its claim can go with the
    next script instead of a round trip of its own: the node's fenced record in that script
    writes nothing if the claim did not apply, and that fails the transaction. A node not run
    in that transaction is read back from its claim once it commits (`claimed_by`).
    """
    return replace(found, status=NodeStatus.RUNNING, attempt=found.attempt + 1, wake_at=None, lease_owner=then.owner)


def _started(step: Change, node_id: str, attempt: int) -> None:
    step.event(EventType.NODE_RUNNING, node_id, attempt=attempt)
    if step.run.status == RunStatus.QUEUED:
        step.set_run(status=RunStatus.RUNNING, started_at=step.now)
        step.event(EventType.RUN_RUNNING)
    elif step.run.status == RunStatus.WAITING:
        step.set_run(status=RunStatus.RUNNING)
        step.event(EventType.RUN_RUNNING)


def fenced(node_run: Attempt) -> Q:
    """Only the worker holding this attempt's lease may write its outcome."""
    return Q(pk=node_run.pk, status=NodeStatus.RUNNING, attempt=node_run.attempt, lease_owner=node_run.lease_owner)


def heartbeat(node_run: Attempt, lease_s: float) -> bool:
    """Extend the lease; False when the node was cancelled or taken over, so the worker should stop."""
    expires = timezone.now() + timedelta(seconds=lease_s)
    return bool(NodeRun.objects.filter(fenced(node_run)).update(lease_expires_at=expires))
