"""Recording a node's outcome: its result (succeed), its error (fail), or its worker's death (crash)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from engine import graph as graphs
from engine import retry
from engine.errors import NodeError
from engine.event_types import EventType
from engine.events import Change, announce, change
from engine.flow import blockers, first_reads, run_graph
from engine.models import ENDED_RUN, NodeRun, NodeStatus, RunEvent, RunStatus
from engine.registry import ERROR_HANDLE, NodeResult
from engine.runs.children import open_round
from engine.runs.claims import Attempt, ClaimNext, claimed_ahead, claimed_by, fenced, take_queued
from engine.runs.progress import cancel_open_nodes, progress
from engine.sql import claims, node_inputs, outcomes, readiness, successor_reads
from engine.sql.script import Outcome, Statement, run_script


def _record(node_run: Attempt, values: Mapping[str, Any]) -> Statement:
    """Write an outcome, fenced as `fenced` says (through the hot path's SQL; rowcount 0: fenced out)."""
    return outcomes.record(node_run.pk, node_run.attempt, node_run.lease_owner, values)


def succeed(
    node_run: Attempt,
    result: NodeResult,
    *,
    cache_hit: bool = False,
    input: Any = None,
    then: ClaimNext | None = None,
) -> bool:
    """Record the node's result (and its resolved params as `input`): done, or parked to wait.

    With `then`, one of the nodes that became ready is claimed for the caller (see ClaimNext),
    and cheap ones are run and recorded in this transaction too (ClaimNext.inline).
    The fenced write of the result and the rows that decide what follows are sent with the
    run lock, in one round trip (change's `locked_reads`).
    """
    now = timezone.now()
    values = _success(result, cache_hit, input, now)
    graph = run_graph(node_run.run_id)
    plain = not _parks(result) and result.answer is None and result.escalation is None
    if plain and connection.vendor == "postgresql" and (waiting := blockers(graph, node_run.node_id)):
        event = RunEvent(
            type=EventType.NODE_SUCCEEDED,
            node_id=node_run.node_id,
            payload={"handle": result.handle, "cache_hit": cache_hit},
        )
        if _recorded_alone(node_run, values, waiting, event):
            return True
    reads = _reads(node_run, result, then)
    with change(node_run.run_id, locked_reads=[_record(node_run, values), *reads.statements], now=now) as step:
        if not step.reads[0].rowcount:
            return False
        known, ahead = reads.given(step.reads[1:])
        _succeeded(step, node_run, result, cache_hit, known)
        if then is not None:
            _claim_next(step, then, ahead)
    if then is not None:
        claimed_by(then)
    return True


def _parks(result: NodeResult) -> bool:
    return result.park or result.wait_until is not None


def _success(result: NodeResult, cache_hit: bool, input: Any, now: Any) -> dict[str, Any]:
    """The columns a node's success writes: done, or parked to wait."""
    values: dict[str, Any] = {"output": result.output, "handle": result.handle or "", "usage": result.usage}
    if input is not None:
        values["input"] = input
    if _parks(result):
        return values | {"status": NodeStatus.WAITING, "wake_at": result.wait_until, "lease_owner": "", "resume": None}
    return values | {"status": NodeStatus.SUCCEEDED, "finished_at": now, "cache_hit": cache_hit}


class _Known(NamedTuple):
    """What scheduling read with a success's write: rows by node id, and the run's counts if read."""

    rows: dict[str, readiness.Row]
    counts: readiness.Counts | None


class _Ahead(NamedTuple):
    """A successor as read with its only input's success, before it was claimed: what it reads, and its row."""

    node_id: str
    inputs: node_inputs.Inputs
    row: claims.Claim


@dataclass(frozen=True)
class _Reads:
    """What scheduling reads after a success, sent with its write (see `_reads`), and what it reads ahead."""

    statements: list[Statement]
    counting: bool = False
    # The successor read ahead (see `_reads`), the nodes readiness reads, and the run's facts if known.
    ahead_of: str | None = None
    first: frozenset[str] = frozenset()
    facts: node_inputs.RunFacts | None = None

    def given(self, outcomes: Sequence[Outcome]) -> tuple[_Known, _Ahead | None]:
        """What the statements gave (`outcomes`, in their order), and the successor read ahead if its row was found."""
        if not self.statements:
            return _Known({}, None), None
        if self.counting:
            return _Known({}, readiness.counted(outcomes[0])), None
        if self.ahead_of is None:
            return _Known(readiness.by_node(outcomes[0]), None), None
        read = successor_reads.read(outcomes[0], self.ahead_of, self.first)
        known = _Known(read.rows, None)
        if read.successor is None:
            return known, None
        facts = self.facts or node_inputs.facts(outcomes[1].rows[0])
        row = claims.claim_from(read.successor, facts=facts)
        return known, _Ahead(self.ahead_of, (facts, read.produced), row)


def _reads(node_run: Attempt, result: NodeResult, then: ClaimNext | None = None) -> _Reads:
    """The rows of the node's successors and of their inputs (flow.first_reads); a parked node resolves no edge.

    A node with no successor makes nothing ready, so the run may end: its counts are read
    instead, and settle the run without a round trip of their own (progress._settle).

    When the worker runs cheap successors here (`then.inline`) and the node is the only input
    of its only successor, what that successor would read once claimed (its run's facts, its
    upstream's outputs, this one's as just written) and its row are read in the same statement
    as readiness's rows (engine.sql.successor_reads): if it becomes ready, _claim_next claims
    and runs it without a round trip of its own for them. The run's facts are read only when the
    node's claim did not read them: a run's facts do not change but for its workspace's
    allowlist, which a cheap node does not use (it makes no network call).
    """
    parks = _parks(result)
    graph = run_graph(node_run.run_id)
    reads = first_reads(graph, [] if parks else [node_run.node_id])
    if not reads:
        return _Reads([]) if parks else _Reads([readiness.count(node_run.run_id)], counting=True)
    successor = _sole_successor(node_run.node_id, graph) if then is not None and then.inline and not parks else None
    if successor is None:
        return _Reads([readiness.rows(node_run.run_id, reads)])
    statements = [successor_reads.statement(node_run.run_id, successor, graph.upstream[successor])]
    facts = node_run.facts if isinstance(node_run, claims.Claim) else None
    if facts is None:
        statements.append(node_inputs.facts_statement(node_run.run_id))
    return _Reads(statements, ahead_of=successor, first=frozenset(reads), facts=facts)


def _sole_successor(node_id: str, graph: graphs.Graph) -> str | None:
    """The node's only successor, if the node is its only input: it becomes ready or is skipped by this node alone."""
    targets = {edge.target for edge in graph.outgoing(node_id)}
    if len(targets) != 1:
        return None
    [target] = targets
    return target if {edge.source for edge in graph.incoming(target)} == {node_id} else None


def _succeeded(step: Change, node_run: Attempt, result: NodeResult, cache_hit: bool, known: _Known) -> None:
    """What follows a success whose fenced write applied: its events, the run's answer, the next nodes."""
    parks = _parks(result)
    if parks:
        for plan in result.child_plans():
            open_round(step, node_run.node_id, plan)
        if result.wait_until is not None:
            step.later.append((node_run.pk, result.wait_until))
        until = result.wait_until.isoformat() if result.wait_until else None
        step.event(EventType.NODE_WAITING, node_run.node_id, until=until)
    else:
        step.event(EventType.NODE_SUCCEEDED, node_run.node_id, handle=result.handle, cache_hit=cache_hit)
    if result.answer is not None:
        step.set_run(output=result.answer)
    if result.escalation is not None:
        step.set_run(escalation_reason=result.escalation)
        step.event(EventType.RUN_ESCALATED, node_run.node_id, reason=result.escalation)
    progress(step, [] if parks else [node_run.node_id], known.rows, known.counts)


def _claim_next(step: Change, then: ClaimNext, ahead: _Ahead | None) -> None:
    """Claim for `then` a node this change made ready; run and record cheap ones here, one after another.

    Only a chain runs here: when the claimed node was not the only one made ready, it is left
    for the caller, as the others are sent, to run side by side.

    Each node `then.inline` ran is recorded as any success is (its fenced write, then what
    follows it), under the lock this change holds, so its claim cannot have moved: a write
    that does not apply is a bug, not a race. A node read ahead with the last success
    (`ahead`, see `_reads`) is claimed with its own record's script; any other is claimed
    with the read of its inputs, a round trip of its own.
    """
    while step.ready and step.run.status not in ENDED_RUN:
        pk = step.ready[0]
        node_id = take_queued(step, then)
        # A chain only: the nodes of a fan-out are sent to run side by side, the claimed one included.
        if node_id is None or then.inline is None or step.ready:
            return
        node_run: claims.Claim | None
        if ahead is not None and ahead.node_id == node_id and ahead.row.pk == pk:
            node_run, inputs = claimed_ahead(then, ahead.row), ahead.inputs
        else:
            upstream = run_graph(step.run.pk).upstream[node_id]
            read = step.flush(node_inputs.statements(step.run.pk, upstream))
            claimed_by(then)
            node_run, inputs = then.claimed, node_inputs.read(read)
        ran = then.inline(node_run, inputs) if node_run is not None else None
        if node_run is None or ran is None:
            return
        then.claimed = then.claim = None
        # What earlier reads saw busy included this node, now ended: the run's status is counted afresh.
        step.busy = False
        values = _success(ran.result, False, ran.input, timezone.now())
        reads = _reads(node_run, ran.result, then)
        # The claim, if it was left for this script, goes first (step.flush), then the record.
        recorded, *read = step.flush([_record(node_run, values), *reads.statements])
        if not recorded.rowcount:
            raise RuntimeError("a node claimed under the run lock was moved under it")
        known, ahead = reads.given(read)
        _succeeded(step, node_run, ran.result, False, known)


def _recorded_alone(node_run: Attempt, values: dict[str, Any], waiting: list[list[str]], event: RunEvent) -> bool:
    """Record a success that makes nothing ready in one script (outcomes.record_alone); False if it did not apply.

    A fan-out's branches finish this way: each holds the run lock only while the server runs
    the script, instead of across two round trips to this worker.
    """
    at = timezone.now()
    fence = (node_run.attempt, node_run.lease_owner)
    script = outcomes.record_alone(node_run.pk, node_run.run_id, fence, values, waiting, event, at)
    found = run_script(script)[1].rows
    if not found:
        return False
    event.seq, workspace_id = found[0]
    announce(node_run.run_id, workspace_id, [event], at, None)
    return True


def fail(node_run: Attempt, error: NodeError, trace: str = "", input: Any = None) -> bool:
    """Record the node's error; schedule the next attempt if the policy allows, else fail the run."""
    with change(node_run.run_id) as step:
        policy = run_graph(step.run.pk).node(node_run.node_id).retry
        details = {"code": error.code, "message": str(error), "details": error.details, "traceback": trace}
        tries = node_run.attempt - node_run.crashes  # attempts a crash cut short are not the node's failures
        again = retry.may_retry(policy, tries, error)
        wake_at = step.now + timedelta(seconds=retry.wait_s(policy, tries, error)) if again else None
        values = {"status": NodeStatus.FAILED, "error": details, "wake_at": wake_at, "finished_at": step.now}
        if input is not None:
            values["input"] = input
        if not run_script([_record(node_run, values)])[0].rowcount:
            return False
        retry_at = wake_at.isoformat() if wake_at else None
        step.event(
            EventType.NODE_FAILED,
            node_run.node_id,
            attempt=node_run.attempt,
            code=error.code,
            error=str(error),
            retry_at=retry_at,
        )
        _after_failure(step, node_run, details, wake_at)
    return True


class CrashReason(StrEnum):
    """How a node's worker was found dead: its lease ran out, or its process stopped beating (engine.holders)."""

    LEASE_EXPIRED = "lease_expired"
    WORKER_DIED = "worker_died"


CRASH_MESSAGES = {
    CrashReason.LEASE_EXPIRED: "The worker running this node stopped answering (its lease ran out)",
    CrashReason.WORKER_DIED: "The worker process running this node died (its heartbeats stopped)",
}


def crash(node_run: Attempt, reason: CrashReason = CrashReason.LEASE_EXPIRED) -> bool:
    """The worker died holding this node: run it again at once, a few times.

    Seen by the reaper when the lease expired, or as soon as the worker process's beats
    stopped (WORKER_DIED, engine.holders), lease or not. A crash is not the node's failure,
    so it does not spend the node's retry policy; it is capped separately so a node that
    kills every worker it lands on cannot loop forever.
    """
    with change(node_run.run_id) as step:
        lost = NodeError(CRASH_MESSAGES[reason], code="worker_lost")
        again = node_run.crashes < settings.ENGINE_CRASH_RETRIES
        wake_at = step.now if again else None
        error = {"code": lost.code, "message": str(lost), "reason": str(reason)}
        values = {
            "crashes": F("crashes") + 1,
            "status": NodeStatus.CRASHED,
            "wake_at": wake_at,
            "finished_at": step.now,
            "error": error,
        }
        gone = fenced(node_run)
        if reason == CrashReason.LEASE_EXPIRED:
            gone &= Q(lease_expires_at__lt=step.now)
        if not NodeRun.objects.filter(gone).update(**values):
            return False
        step.event(
            EventType.NODE_CRASHED,
            node_run.node_id,
            attempt=node_run.attempt,
            reason=str(reason),
            retry_at=wake_at.isoformat() if wake_at else None,
        )
        _after_failure(step, node_run, error, wake_at)
    return True


def _after_failure(step: Change, node_run: Attempt, error: dict[str, Any], wake_at: Any) -> None:
    node_id = node_run.node_id
    if wake_at is not None:
        NodeRun.objects.filter(pk=node_run.pk).update(dispatched_at=None)
        step.later.append((node_run.pk, wake_at))
        progress(step, [])
        return
    if step.run.status in ENDED_RUN:
        return
    if run_graph(step.run.pk).node(node_id).continues_on_failure:
        _continue_on_error(step, node_run, error)
        return
    message = error["message"]
    cancel_open_nodes(step, include_running=False)
    step.set_run(status=RunStatus.FAILED, finished_at=step.now, error=f"{node_id}: {message}")
    step.event(EventType.RUN_FAILED, node_id, error=message)


def _continue_on_error(step: Change, node_run: Attempt, error: dict[str, Any]) -> None:
    """The node's last attempt failed and it continues on failure: it succeeds on its 'error' handle.

    Its output is {code, message, attempt}, so only the edges from 'error' become active and
    the run goes on down them; `error` keeps the details, marked `continued`, by which
    retry_from_failed knows to run it again. Recorded after its node.failed event, in the same
    transaction, so its history reads `… → failed → succeeded`.
    """
    output = {"code": error["code"], "message": error["message"], "attempt": node_run.attempt}
    NodeRun.objects.filter(pk=node_run.pk).update(
        status=NodeStatus.SUCCEEDED, handle=ERROR_HANDLE, output=output, error={**error, "continued": True}
    )
    step.event(EventType.NODE_SUCCEEDED, node_run.node_id, handle=ERROR_HANDLE, cache_hit=False)
    progress(step, [node_run.node_id])
