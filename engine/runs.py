"""Every change of a run's or node's status: conditional updates paired with events.

Each function takes the run lock (engine.events.change), checks with a conditional UPDATE
that the row is still in the state it expects ("0 rows" means someone else got there
first: a reaper, a cancel, a newer attempt) and records what happened as RunEvents.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jsonschema
from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from engine import graph as graphs
from engine import retry, statements
from engine.errors import NodeError
from engine.events import Change, Deferred, announce, change
from engine.flow import advance, blockers, first_reads, run_graph, settle
from engine.models import ENDED_RUN, NodeRun, NodeStatus, Run, RunEvent, RunStatus, TriggerKind
from engine.registry import NodeResult

CLAIMABLE = list(statements.CLAIMABLE)


@dataclass(frozen=True)
class RunSource:
    """Where a run's graph comes from: a published version, or a draft for a test run."""

    workspace_id: int
    graph: dict[str, Any]
    workflow_id: int | None = None
    workflow_name: str = ""
    version_id: int | None = None
    version_number: int | None = None
    callback_urls: tuple[str, ...] = ()


class RunRejected(Exception):
    """The run cannot start; `problems` say why, each with a path."""

    def __init__(self, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass
class Options:
    trigger_kind: str = TriggerKind.MANUAL
    created_by: User | None = None
    is_test: bool = False
    idempotency_key: str = ""


def start_run(source: RunSource, input: Any, options: Options | None = None) -> Run:
    """Validate the graph and the input against the trigger's schema, store the run, queue its trigger.

    With an idempotency key, a second start with the same key returns the first run unchanged.
    """
    options = options or Options()
    if options.idempotency_key and (earlier := _same_key(source, options.idempotency_key)) is not None:
        return earlier
    try:
        graph = graphs.parse(source.graph, workspace_id=source.workspace_id)
    except graphs.GraphInvalid as invalid:
        raise RunRejected("The workflow graph is invalid", [p.as_dict() for p in invalid.problems]) from None
    trigger = graph.trigger()
    schema = trigger.params.get("input_schema") or {"type": "object"}
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(input), key=lambda e: list(e.path))
    if errors:
        problems = [
            {"path": ".".join(["input", *map(str, e.path)]), "code": "bad_input", "message": e.message} for e in errors
        ]
        raise RunRejected("The input does not match the trigger's schema", problems)
    try:
        with transaction.atomic():
            run = create(source, graph, input, options)
    except IntegrityError:
        # A concurrent start with the same idempotency key won the insert.
        earlier = _same_key(source, options.idempotency_key)
        if earlier is None:
            raise
        return earlier
    with change(run.pk) as step:
        step.event("run.queued", trigger=options.trigger_kind, version=source.version_number)
        _make_ready(step, NodeRun.objects.get(run=run, node_id=trigger.id))
    run.refresh_from_db()
    return run


def _same_key(source: RunSource, key: str) -> Run | None:
    return Run.objects.filter(
        workspace_id=source.workspace_id, workflow_id=source.workflow_id, idempotency_key=key
    ).first()


def create(source: RunSource, graph: graphs.Graph, input: Any, options: Options) -> Run:
    """The run's row and a pending row per node; callers wrap it in a transaction. Nothing is queued yet."""
    run = Run.objects.create(
        workspace_id=source.workspace_id,
        workflow_id=source.workflow_id,
        workflow_name=source.workflow_name,
        version_id=source.version_id,
        version_number=source.version_number,
        graph=graph.model_dump(mode="json"),
        input=input,
        trigger_kind=options.trigger_kind,
        is_test=options.is_test,
        created_by=options.created_by,
        idempotency_key=options.idempotency_key,
        callback_urls=list(dict.fromkeys(source.callback_urls)),
    )
    NodeRun.objects.bulk_create(
        NodeRun(run=run, node_id=node.id, node_type=node.type, max_attempts=node.retry.max_attempts)
        for node in graph.nodes
    )
    return run


def rerun(run: Run, options: Options) -> Run:
    """A new run with the same input on the same graph (and so the same pinned version)."""
    source = RunSource(
        workspace_id=run.workspace_id,
        graph=run.graph,
        workflow_id=run.workflow_id,
        workflow_name=run.workflow_name,
        version_id=run.version_id,
        version_number=run.version_number,
        callback_urls=tuple(run.callback_urls),
    )
    options.is_test = run.is_test
    return start_run(source, run.input, options)


def _make_ready(step: Change, node_run: NodeRun) -> None:
    NodeRun.objects.filter(pk=node_run.pk).update(wake_at=step.now, dispatched_at=step.now)
    step.ready.append(node_run.pk)
    step.event("node.queued", node_run.node_id)


def claim(node_run_id: int, owner: str, lease_s: float) -> NodeRun | None:
    """Take a ready node for this worker, or None if it is not ready, taken, or its run ended.

    On PostgreSQL the claim is one script (statements.claim) that holds the run lock only
    while the server runs it: every node of a fan-out is claimed under that lock, so it must
    not wait for the worker between statements. Elsewhere it is a change like any other.
    """
    if connection.vendor == "postgresql":
        return _claim_in_one_script(node_run_id, owner, lease_s)
    try:
        with change(node_run_id=node_run_id, prelude=[statements.node_for_claim(node_run_id)]) as step:
            return _take(step, owner, lease_s)
    except Run.DoesNotExist:
        return None


def _claim_in_one_script(node_run_id: int, owner: str, lease_s: float) -> NodeRun | None:
    now = timezone.now()
    script = statements.claim(node_run_id, owner, now + timedelta(seconds=lease_s), now)
    # Outside a transaction the script is one of its own (a multi-statement query is atomic).
    found = statements.run_script(script)[1].rows
    if not found:
        return None
    *row, resumed, run_status, workspace_id, last_seq = found[0]
    node_run = statements.node_from(row)
    node_run.resumed_from_wait = resumed  # type: ignore[attr-defined]
    moved = run_status in (RunStatus.QUEUED, RunStatus.WAITING)
    first = last_seq - (1 if moved else 0)
    events = [RunEvent(seq=first, type="node.running", node_id=node_run.node_id, payload={"attempt": node_run.attempt})]
    if moved:
        events.append(RunEvent(seq=last_seq, type="run.running", node_id="", payload={}))
    announce(node_run.run_id, workspace_id, events, now, RunStatus.RUNNING if moved else None)
    return node_run


@dataclass
class Then:
    """Asks succeed() to claim, in the same transaction, one node its outcome made ready.

    The worker that finished a node then runs the next one itself: one transaction instead of
    two, and no broker round trip. The claim is an ordinary one (attempt, lease, events), so
    the lease and the reaper cover the claimed node as if it had come through Celery. Only a
    node whose timeout fits in `within_s` (what is left of the Celery task's time limit) is
    taken; the rest are sent as usual. `claimed` holds what was taken.
    """

    owner: str
    lease_s: float
    within_s: float
    claimed: NodeRun | None = None
    claim: Deferred | None = None


def _lease(owner: str, lease_s: float, now: Any) -> dict[str, Any]:
    """The columns a claim sets besides the attempt."""
    return {
        "status": NodeStatus.RUNNING,
        "lease_owner": owner,
        "lease_expires_at": now + timedelta(seconds=lease_s),
        "wake_at": None,
        "started_at": now,
        "finished_at": None,
    }


def _take(step: Change, owner: str, lease_s: float) -> NodeRun | None:
    if step.run.status in ENDED_RUN:
        return None
    # Read with the lock (the prelude): no other transition can move this node until it is released.
    node_run = statements.claimed_node(step.prelude[0])
    if node_run is None:
        return None
    current = node_run.status
    if current not in CLAIMABLE or node_run.wake_at is None or node_run.wake_at > step.now:
        return None
    # Resuming after a wait continues the same attempt; anything else is a new one.
    claimed = _lease(owner, lease_s, step.now) | {
        "attempt": node_run.attempt + (0 if current == NodeStatus.WAITING else 1)
    }
    # Under the run lock the node cannot have moved since the prelude read it, so the
    # conditional UPDATE matches and can wait for the transaction's last script.
    step.defer(statements.update_node(node_run.pk, claimed, status=current, attempt=node_run.attempt))
    for field, value in claimed.items():
        setattr(node_run, field, value)
    _started(step, node_run.node_id, node_run.attempt)
    node_run.resumed_from_wait = current == NodeStatus.WAITING  # type: ignore[attr-defined]
    return node_run


def _take_queued(step: Change, then: Then) -> None:
    """Claim for `then` the first node this change made ready, if its timeout fits (see Then)."""
    node_run_id = step.ready[0]
    node_id, attempt = step.queued[node_run_id]
    if run_graph(step.run.pk).node(node_id).timeout_s > then.within_s:
        return
    # It was pending and made ready under this lock: one conditional UPDATE claims it.
    then.claim = step.defer(statements.claim_pending(node_run_id, _lease(then.owner, then.lease_s, step.now)))
    step.ready.pop(0)
    _started(step, node_id, attempt + 1)


def _claimed_by(then: Then) -> None:
    """The node _take_queued claimed, read back from its UPDATE once the transaction is done."""
    if then.claim is None or then.claim.outcome is None:
        return
    node_run = statements.claimed_node(then.claim.outcome)
    if node_run is None:
        raise RuntimeError("a node made ready under the run lock could not be claimed under it")
    node_run.resumed_from_wait = False  # type: ignore[attr-defined]
    then.claimed = node_run


def _started(step: Change, node_id: str, attempt: int) -> None:
    step.event("node.running", node_id, attempt=attempt)
    if step.run.status == RunStatus.QUEUED:
        step.set_run(status=RunStatus.RUNNING, started_at=step.now)
        step.event("run.running")
    elif step.run.status == RunStatus.WAITING:
        step.set_run(status=RunStatus.RUNNING)
        step.event("run.running")


def resume(node_run_id: int, payload: dict[str, Any]) -> bool:
    """Wake a waiting node now with `payload` (a person's decision); False if it is not waiting any more.

    The node runs again and finds the payload in ctx.resumed. Only one of two concurrent
    resumes gets the waiting row, so the run continues once.
    """
    run_id = NodeRun.objects.filter(pk=node_run_id).values_list("run_id", flat=True).first()
    if run_id is None:
        return False
    with change(run_id) as step:
        if step.run.status in ENDED_RUN:
            return False
        woke = NodeRun.objects.filter(pk=node_run_id, status=NodeStatus.WAITING, resume__isnull=True).update(
            wake_at=step.now, resume=payload, dispatched_at=step.now
        )
        if not woke:
            return False
        step.ready.append(node_run_id)
        step.event("node.resumed", NodeRun.objects.values_list("node_id", flat=True).get(pk=node_run_id))
    return True


def _fenced(node_run: NodeRun) -> Q:
    """Only the worker holding this attempt's lease may write its outcome."""
    return Q(pk=node_run.pk, status=NodeStatus.RUNNING, attempt=node_run.attempt, lease_owner=node_run.lease_owner)


def _record(node_run: NodeRun, values: dict[str, Any]) -> statements.Statement:
    """Write an outcome, fenced as _fenced says (through the hot path's SQL; rowcount 0: fenced out)."""
    fence = {"status": NodeStatus.RUNNING, "attempt": node_run.attempt, "lease_owner": node_run.lease_owner}
    return statements.update_node(node_run.pk, values, **fence)


def heartbeat(node_run: NodeRun, lease_s: float) -> bool:
    """Extend the lease; False when the node was cancelled or taken over, so the worker should stop."""
    expires = timezone.now() + timedelta(seconds=lease_s)
    return bool(NodeRun.objects.filter(_fenced(node_run)).update(lease_expires_at=expires))


def succeed(
    node_run: NodeRun, result: NodeResult, *, cache_hit: bool = False, input: Any = None, then: Then | None = None
) -> bool:
    """Record the node's result (and its resolved params as `input`): done, or parked to wait.

    With `then`, one of the nodes that became ready is claimed for the caller (see Then).
    The fenced write of the result and the rows that decide what follows are read with the
    run lock, in one round trip (change's prelude).
    """
    now = timezone.now()
    values: dict[str, Any] = {"output": result.output, "handle": result.handle or "", "usage": result.usage}
    if input is not None:
        values["input"] = input
    parks = result.park or result.wait_until is not None
    if parks:
        values |= {"status": NodeStatus.WAITING, "wake_at": result.wait_until, "lease_owner": "", "resume": None}
    else:
        values |= {"status": NodeStatus.SUCCEEDED, "finished_at": now, "cache_hit": cache_hit}
    graph = run_graph(node_run.run_id)
    plain = not parks and result.answer is None and result.escalation is None
    if plain and connection.vendor == "postgresql" and (waiting := blockers(graph, node_run.node_id)):
        event = RunEvent(
            type="node.succeeded", node_id=node_run.node_id, payload={"handle": result.handle, "cache_hit": cache_hit}
        )
        if _recorded_alone(node_run, values, waiting, event):
            return True
    # A parked node resolves no edge: only the run's status may move (to waiting).
    changed = [] if parks else [node_run.node_id]
    reads = first_reads(graph, changed)
    prelude = [_record(node_run, values), *([statements.rows(node_run.run_id, reads)] if reads else [])]
    with change(node_run.run_id, prelude=prelude, now=now) as step:
        if not step.prelude[0].rowcount:
            return False
        if parks:
            if result.wait_until is not None:
                step.later.append((node_run.pk, result.wait_until))
            until = result.wait_until.isoformat() if result.wait_until else None
            step.event("node.waiting", node_run.node_id, until=until)
        else:
            step.event("node.succeeded", node_run.node_id, handle=result.handle, cache_hit=cache_hit)
        if result.answer is not None:
            step.set_run(output=result.answer)
        if result.escalation is not None:
            step.set_run(escalation_reason=result.escalation)
            step.event("run.escalated", node_run.node_id, reason=result.escalation)
        progress(step, changed, statements.by_node(step.prelude[1]) if reads else {})
        if then is not None and step.ready and step.run.status not in ENDED_RUN:
            _take_queued(step, then)
    if then is not None:
        _claimed_by(then)
    return True


def _recorded_alone(node_run: NodeRun, values: dict[str, Any], waiting: list[list[str]], event: RunEvent) -> bool:
    """Record a success that makes nothing ready in one script (statements.record_alone); False if it did not apply.

    A fan-out's branches finish this way: each holds the run lock only while the server runs
    the script, instead of across two round trips to this worker.
    """
    at = timezone.now()
    found = statements.run_script(statements.record_alone(node_run, values, waiting, event, at))[1].rows
    if not found:
        return False
    event.seq, workspace_id = found[0]
    announce(node_run.run_id, workspace_id, [event], at, None)
    return True


def fail(node_run: NodeRun, error: NodeError, trace: str = "", input: Any = None) -> bool:
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
        if not statements.run_script([_record(node_run, values)])[0].rowcount:
            return False
        retry_at = wake_at.isoformat() if wake_at else None
        step.event(
            "node.failed",
            node_run.node_id,
            attempt=node_run.attempt,
            code=error.code,
            error=str(error),
            retry_at=retry_at,
        )
        _after_failure(step, node_run, str(error), wake_at)
    return True


def crash(node_run: NodeRun) -> bool:
    """The worker died holding this node (its lease expired): run it again at once, a few times.

    A crash is not the node's failure, so it does not spend the node's retry policy; it is
    capped separately so a node that kills every worker it lands on cannot loop forever.
    """
    with change(node_run.run_id) as step:
        lost = NodeError("The worker running this node stopped answering", code="worker_lost")
        again = node_run.crashes < settings.ENGINE_CRASH_RETRIES
        wake_at = step.now if again else None
        values = {
            "crashes": F("crashes") + 1,
            "status": NodeStatus.CRASHED,
            "wake_at": wake_at,
            "finished_at": step.now,
            "error": {"code": lost.code, "message": str(lost)},
        }
        expired = _fenced(node_run) & Q(lease_expires_at__lt=step.now)
        if not NodeRun.objects.filter(expired).update(**values):
            return False
        step.event(
            "node.crashed",
            node_run.node_id,
            attempt=node_run.attempt,
            retry_at=wake_at.isoformat() if wake_at else None,
        )
        _after_failure(step, node_run, str(lost), wake_at)
    return True


def _after_failure(step: Change, node_run: NodeRun, message: str, wake_at: Any) -> None:
    node_id = node_run.node_id
    if wake_at is not None:
        NodeRun.objects.filter(pk=node_run.pk).update(dispatched_at=None)
        step.later.append((node_run.pk, wake_at))
        progress(step, [])
        return
    if step.run.status in ENDED_RUN:
        return
    _cancel_open_nodes(step, include_running=False)
    step.set_run(status=RunStatus.FAILED, finished_at=step.now, error=f"{node_id}: {message}")
    step.event("run.failed", node_id, error=message)


def _cancel_open_nodes(step: Change, *, include_running: bool) -> None:
    open_nodes = Q(status__in=[NodeStatus.PENDING, NodeStatus.WAITING]) | Q(
        status__in=[NodeStatus.FAILED, NodeStatus.CRASHED], wake_at__isnull=False
    )
    if include_running:
        open_nodes |= Q(status=NodeStatus.RUNNING)
    nodes = NodeRun.objects.filter(open_nodes, run=step.run)
    for node_id in nodes.values_list("node_id", flat=True):
        step.event("node.cancelled", node_id)
    nodes.update(status=NodeStatus.CANCELLED, wake_at=None, lease_owner="", finished_at=step.now)


def progress(step: Change, changed: list[str] | None, known: dict[str, statements.Row] | None = None) -> None:
    """After nodes in `changed` settled (None: any may have), queue what follows and settle the run.

    `known`: rows read already under this lock (see flow.advance).
    """
    if step.run.status in ENDED_RUN:
        return
    advance(step, changed, known)
    settle(step)


def cancel_run(run: Run, by: User | None = None) -> bool:
    """Cancel a run that has not ended.

    Pending and waiting nodes are cancelled at once; running ones too, and their workers stop
    at the next heartbeat, when the lease they hold no longer matches.
    """
    with change(run.pk) as step:
        if step.run.status in ENDED_RUN:
            return False
        _cancel_open_nodes(step, include_running=True)
        step.set_run(status=RunStatus.CANCELLED, finished_at=step.now)
        step.event("run.cancelled", by=by.get_username() if by else "")
    return True


def retry_from_failed(run: Run, by: User | None = None) -> bool:
    """Reopen an ended run from its failed nodes, keeping every completed node's output."""
    with change(run.pk) as step:
        if step.run.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
            return False
        failed = NodeRun.objects.filter(run=step.run, status__in=[NodeStatus.FAILED, NodeStatus.CRASHED])
        reopened = NodeRun.objects.filter(run=step.run, status=NodeStatus.CANCELLED)
        if not failed.exists() and not reopened.exists():
            return False
        step.set_run(status=RunStatus.RUNNING, finished_at=None, error="")
        step.event("run.retried", by=by.get_username() if by else "")
        for node_run in failed:
            step.event("node.queued", node_run.node_id, retry_of_attempt=node_run.attempt)
        ids = list(failed.values_list("pk", flat=True))
        failed.update(
            status=NodeStatus.PENDING, attempt=0, wake_at=step.now, error=None, lease_owner="", dispatched_at=step.now
        )
        step.ready.extend(ids)
        reopened.update(status=NodeStatus.PENDING, wake_at=None, finished_at=None)
        progress(step, None)
    return True
