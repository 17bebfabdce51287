"""Running nodes on a worker: claim, resolve params, run under a lease and a deadline, record.

A task carries one or several node ids (engine.dispatch). Each node's own code runs on a
node thread of this process while the task's thread keeps the leases alive and records each
outcome as it comes. When a deadline passes, or a lease is lost (run cancelled, node taken
over by the reaper), the task stops waiting for that node and its late result is discarded:
every write is fenced by attempt and lease owner. An outcome the database cannot take for
a moment (a lost connection, a restart) is recorded again with backoff while its lease is
kept alive, for up to a lease, instead of being thrown away for the reaper to run again.
"""

import hashlib
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone
from pydantic import ValidationError

from engine import (
    expressions,
    holders,
    ledger,
    live,
    log_context,
    metrics,
    output_limits,
    registry,
    runs,
    spans,
    transient,
    workspace_secrets,
)
from engine.connection_release import release_connection
from engine.errors import NodeError, NodeTimeout, NonRetryableError
from engine.flow import run_graph
from engine.graph import Graph, GraphNode
from engine.models import CachedResult, NodeStatus, RunPurpose
from engine.registry import NodeContext, NodeResult
from engine.runs import child_inline
from engine.sql import node_inputs
from engine.transient import FIRST_DELAY_S, is_transient, next_delay

log = logging.getLogger(__name__)
_node_threads = ThreadPoolExecutor(max_workers=settings.ENGINE_NODE_THREADS, thread_name_prefix="node")
# Time kept free at the end of the task's soft limit when taking on one more node.
INLINE_MARGIN_S = 60


def worker_name() -> str:
    """A lease owner for one batch: this process's holder name (engine.holders) and the batch's own id."""
    return f"{holders.owner_prefix(holders.holder())}{uuid.uuid4().hex[:8]}"


def execute(node_run_ids: Sequence[int]) -> None:
    """Run the given nodes that are still ready, side by side; called by the Celery task with ids only.

    Each node claimed runs on a node thread while this one supervises them all (NodeBatch).
    When a node's success makes others ready, the worker claims one of them in the same
    transaction and runs it too (runs.ClaimNext), for as long as the next node's timeout fits
    in what is left of this task's time limit.
    """
    batch = NodeBatch(worker_name(), time.monotonic())
    # A claim the database refused for a moment is tried again: the message is acknowledged when this
    # task ends, and the nodes, left ready and marked sent, would wait for the reaper's redispatch.
    take = partial(runs.claim_all, node_run_ids, batch.owner, settings.ENGINE_LEASE_S)
    # The claims' prompts go with those of the cheap chains that follow them (live.held); _launch
    # sends them before a node starts on a node thread.
    with live.held():
        claimed = transient.persist(take, f"claim nodes {', '.join(map(str, node_run_ids))}")
        claimed_at = time.monotonic()
        inputs = _shared_inputs(claimed)
        for claim in claimed:
            # Each is started in turn, and a start can take long (a chain of cheap nodes runs to its end): a claim
            # whose turn came a heartbeat or more after it was taken renews its lease first, or is left if it lost it.
            if time.monotonic() - claimed_at >= settings.ENGINE_HEARTBEAT_S and not _renewed(claim):
                log.info("node %s of run %s is no longer ours; not starting it", claim.node_id, claim.run_id)
                continue
            batch.start(claim, inputs.get(claim.pk))
    batch.record_all()


def _shared_inputs(claimed: Sequence[runs.Claim]) -> dict[int, node_inputs.Inputs]:
    """The inputs of claimed nodes that share a run, by node run id, each run's read in one round trip.

    The nodes of one message are mostly branches of one fan-out with the same upstream
    nodes: one read of their outputs serves them all. Each node is given only its own
    upstream's outputs, as its own read would have given it.
    """
    by_run: dict[int, list[runs.Claim]] = {}
    for claim in claimed:
        by_run.setdefault(claim.run_id, []).append(claim)
    shared: dict[int, node_inputs.Inputs] = {}
    for run_id, claims in by_run.items():
        if len(claims) < 2:
            continue
        graph = run_graph(run_id)
        wanted = {claim.pk: graph.upstream.get(claim.node_id, set()) for claim in claims}
        if all(_from_claim(graph, wanted[claim.pk], claim.facts) for claim in claims):
            continue
        run, produced = node_inputs.inputs(run_id, set().union(*wanted.values()))
        for pk, nodes in wanted.items():
            shared[pk] = (run, {node_id: output for node_id, output in produced.items() if node_id in nodes})
    return shared


def _from_claim(graph: Graph, upstream: set[str], facts: node_inputs.RunFacts | None) -> node_inputs.Inputs | None:
    """What a node reads before it runs, from its claim alone (the run's facts), when that is all: None otherwise.

    So it is for a node with no upstream (a trigger) and for one whose only upstream is the
    trigger. A trigger's output is its run's input, whether a worker ran it or the start
    recorded it done (runs.trigger_done_at_start), and a node after it is claimed only once it
    succeeded: a trigger has no error output.
    """
    if facts is None:
        return None
    if not upstream:
        return facts, {}
    trigger = graph.trigger()
    if upstream != {trigger.id}:
        return None
    return facts, {trigger.id: facts.input}


@dataclass
class Execution:
    """A node running on a node thread, with what recording its outcome needs."""

    node_run: runs.Claim
    node: GraphNode
    workspace_id: int
    resolved: Any
    key: str | None
    deadline: float
    next_beat: float
    secrets: workspace_secrets.SecretsInUse


@dataclass
class Unrecorded:
    """A finished execution whose outcome the database refused for a moment: tried again at `next_try`."""

    execution: Execution
    write: Callable[[], None]
    doing: str
    give_up: float
    next_try: float
    delay: float = field(default=FIRST_DELAY_S)


@dataclass
class Ready:
    """A claimed node with its params resolved, about to run."""

    kind: type[registry.Node]
    ctx: NodeContext
    execution: Execution

    def cheap(self) -> bool:
        """Whether it runs on the task's thread (Node.runs_inline): not when it reads secrets, caches its
        result or continues an earlier attempt (a resumed wait)."""
        node = self.execution.node
        return (
            not self.kind.secret_params
            and not node.cache.enabled
            and self.ctx.resumed is None
            and self.kind.runs_inline(self.ctx.params)
        )


def _prepare(node_run: runs.Claim, inputs: node_inputs.Inputs | None = None) -> Ready:
    """Read what the node needs (unless given: `inputs`) and render its params; NodeError when it cannot run.

    A node whose only upstream is the trigger, or that has none, reads nothing more than its claim did
    (`_from_claim`).
    """
    graph = run_graph(node_run.run_id)
    node = graph.node(node_run.node_id)
    kind = registry.get(node.type)
    if kind is None:
        raise NonRetryableError(f"There is no node type {node.type!r}", code="unknown_type")
    upstream = graph.upstream[node.id]
    if inputs is None:
        inputs = _from_claim(graph, upstream, node_run.facts)
    run, produced = inputs or node_inputs.inputs(node_run.run_id, upstream)
    scope = expressions.scope(run.input, produced)
    # Rendering the params counts against the node's timeout, as its own run does.
    deadline = time.monotonic() + node.timeout_s
    secret_params = {k: v for k, v in node.params.items() if k in kind.secret_params}
    templates = {k: v for k, v in secret_params.items() if workspace_secrets.referenced(v)}
    in_use = workspace_secrets.SecretsInUse(run.workspace_id, templates, scope)
    in_use.check_exist()
    params = resolve_params(kind, node, scope, in_use.placeholders(), deadline=deadline)
    resolved = params.model_dump(mode="json")
    key = cache_key(node, params, scope) if node.cache.enabled and not kind.side_effect else None
    ctx = NodeContext(
        run_id=node_run.run_id,
        workspace_id=run.workspace_id,
        node_id=node.id,
        attempt=node_run.attempt,
        params=params,
        scope=scope,
        deadline=deadline,
        resumed=node_run.resume or ({"woke": True} if node_run.resumed_from_wait else None),
        http_allowlist=list(run.http_allowlist),
        once=ledger.bind(node_run.run_id, node.id, ledger.Holding(node_run.lease_owner, node_run.attempt, deadline)),
        run_created_by=run.created_by_id,
        workflow_id=run.workflow_id,
        version_number=run.version_number,
        secrets=in_use,
        records_effects=run.purpose == RunPurpose.EVALUATION,
    )
    beat = time.monotonic() + settings.ENGINE_HEARTBEAT_S
    return Ready(kind, ctx, Execution(node_run, node, run.workspace_id, resolved, key, deadline, beat, in_use))


def run_cheap(run_id: int, node_id: str, inputs: node_inputs.Inputs) -> runs.Ran | None:
    """child_inline's runner: a cheap node of a child run not stored yet, run on this thread with `inputs`.

    None when it is not cheap with its rendered params, or its params or its code raised: the
    child is then started as usual and the node runs (or fails) through Celery.
    """
    # Not stored yet: no node row, so no pk; a first attempt, nothing to resume.
    node_run = runs.Claim(0, run_id, node_id, NodeStatus.RUNNING, 1, 0, None, None, "")
    with log_context.executing(run_id, node_id, 1):
        tried = _run_if_cheap(node_run, inputs)
        if tried is None or tried[1].exception() is not None:
            return None
        ready, future = tried
        return runs.Ran(future.result(), ready.execution.resolved)


def _run_if_cheap(node_run: runs.Claim, inputs: node_inputs.Inputs) -> tuple[Ready, Future[NodeResult]] | None:
    """The node run on this thread, if it is cheap with its rendered params; None when it is not or they raised."""
    try:
        ready = _prepare(node_run, inputs)
    except NodeError:
        return None
    if not ready.cheap():
        return None
    return ready, _ran_here(ready)


child_inline.register(run_cheap)


class NodeBatch:
    """The node executions one task runs at once: started on node threads, each recorded as it finishes.

    The task's thread renews each node's lease, enforces each node's deadline and records
    each outcome; a node whose lease it lost (run cancelled, node taken over by the reaper)
    is abandoned and its late result discarded, since every write is fenced by attempt and
    lease owner.
    """

    def __init__(self, owner: str, began: float) -> None:
        self.owner = owner
        self.began = began
        self.executions: dict[Future[NodeResult], Execution] = {}
        self.unrecorded: list[Unrecorded] = []
        # Cheap nodes run_inline ran in a chain's transaction and that raised, by node run id: recorded by start.
        self.failed_inline: dict[int, tuple[Execution, Future[NodeResult]]] = {}

    def claim_next(self) -> runs.ClaimNext:
        """Asks the next recorded success to claim a node it made ready, within this task's time limit,
        and to run and record cheap ones in its own transaction (run_inline)."""
        left = settings.ENGINE_TASK_SOFT_LIMIT_S - INLINE_MARGIN_S - (time.monotonic() - self.began)
        return runs.ClaimNext(self.owner, settings.ENGINE_LEASE_S, left, inline=self.run_inline)

    def start(self, node_run: runs.Claim | None, inputs: node_inputs.Inputs | None = None) -> None:
        """Start the node (with its `inputs`, if they were read already), and whatever node an outcome
        recorded without running it claimed next."""
        while node_run is not None:
            then = self.claim_next()
            with log_context.executing(node_run.run_id, node_run.node_id, node_run.attempt):
                self._launch(node_run, then, inputs)
            node_run, inputs = then.claimed, None

    def _launch(self, node_run: runs.Claim, then: runs.ClaimNext, inputs: node_inputs.Inputs | None) -> None:
        """Resolve the node's params and hand it to a node thread (a cheap node runs here); record at once
        what needs no run."""
        if (failed := self.failed_inline.pop(node_run.pk, None)) is not None:
            execution, future = failed
            self._record(execution, partial(self.record, execution, future), "record")
            return
        try:
            ready = _prepare(node_run, inputs)
        except NodeError as error:
            runs.fail(node_run, error)
            return
        execution = ready.execution
        if execution.key and (hit := _cached(execution.workspace_id, execution.key)) is not None:
            runs.succeed(node_run, hit, cache_hit=True, input=execution.resolved, then=then)
            return
        if ready.cheap():
            future = _ran_here(ready)
            self._record(execution, partial(self.record, execution, future), "record")
            return
        live.release()
        future = _node_threads.submit(_run_node, ready.kind(), ready.ctx, spans.current_context())
        self.executions[future] = execution

    def run_inline(self, node_run: runs.Claim, inputs: node_inputs.Inputs) -> runs.Ran | None:
        """ClaimNext.inline: run a cheap node just claimed, here, in the transaction that claimed it.

        None leaves it to `start` after the commit: a node that is not cheap runs as usual, and
        one whose params did not render is prepared again there and its error recorded. A node
        that raised is kept in `failed_inline` for `start` to record, without running it again.
        """
        with log_context.executing(node_run.run_id, node_run.node_id, node_run.attempt):
            tried = _run_if_cheap(node_run, inputs)
            if tried is None:
                return None
            ready, future = tried
            if future.exception() is not None:
                self.failed_inline[node_run.pk] = (ready.execution, future)
                return None
            return runs.Ran(future.result(), ready.execution.resolved)

    def record_all(self) -> None:
        """Wait for the running nodes, recording each as it finishes, until none is left to run or record."""
        while self.executions or self.unrecorded:
            release_connection(pooled_only=True)
            wake = min(
                [min(e.deadline, e.next_beat) for e in self.executions.values()]
                + [min(u.next_try, u.execution.next_beat) for u in self.unrecorded]
            )
            timeout = max(0.01, wake - time.monotonic())
            if self.executions:
                done, _ = wait(self.executions, timeout=timeout, return_when=FIRST_COMPLETED)
            else:
                # Only outcomes waiting to be recorded again: nothing to wake for before then.
                time.sleep(timeout)
                done = set()
            for future in done:
                execution = self.executions.pop(future)
                self._record(execution, partial(self.record, execution, future), "record")
            self.retry_records(time.monotonic())
            self.enforce_deadlines_and_renew_leases(time.monotonic())

    def _record(self, execution: Execution, write: Callable[[], None], doing: str) -> None:
        """Make the write that records the execution's outcome; if the database refuses it for a
        moment, try again later (retry_records) rather than leave finished work to the reaper."""
        node_run = execution.node_run
        try:
            with log_context.executing(node_run.run_id, node_run.node_id, node_run.attempt):
                write()
        except Exception as error:  # noqa: BLE001  (logged by _log_refused, or tried again)
            connection.close_if_unusable_or_obsolete()
            if not is_transient(error):
                _log_refused(node_run, doing, "the reaper runs it again when its lease runs out")
                return
            log.warning(
                "could not %s node %s of run %s (attempt %s) for now (%s); trying again",
                doing,
                node_run.node_id,
                node_run.run_id,
                node_run.attempt,
                error,
            )
            now = time.monotonic()
            self.unrecorded.append(
                Unrecorded(execution, write, doing, now + settings.ENGINE_LEASE_S, now + FIRST_DELAY_S)
            )

    def retry_records(self, now: float) -> None:
        """Record again the outcomes due for another try; give up on one after a lease of tries."""
        for pending in [u for u in self.unrecorded if u.next_try <= now]:
            node_run = pending.execution.node_run
            try:
                with log_context.executing(node_run.run_id, node_run.node_id, node_run.attempt):
                    pending.write()
            except Exception as error:  # noqa: BLE001  (logged by _log_refused, or tried again)
                connection.close_if_unusable_or_obsolete()
                if is_transient(error) and now + pending.delay < pending.give_up:
                    pending.delay = next_delay(pending.delay)
                    pending.next_try = now + pending.delay
                    continue
                _log_refused(node_run, pending.doing, "the reaper runs it again when its lease runs out")
            self.unrecorded.remove(pending)

    def enforce_deadlines_and_renew_leases(self, now: float) -> None:
        """Fail the nodes past their deadline; renew due leases, dropping the nodes no longer ours.

        The lease of a finished node whose outcome waits to be recorded again is renewed too,
        so that the reaper does not take it while the database comes back.
        """
        for future, execution in list(self.executions.items()):
            node_run = execution.node_run
            if now >= execution.deadline:
                del self.executions[future]
                late = NodeTimeout("The node did not finish within its timeout")
                self._record(
                    execution,
                    partial(_fail_late, node_run, late, execution.resolved),
                    "record the timeout of",
                )
            elif now >= execution.next_beat:
                execution.next_beat = now + settings.ENGINE_HEARTBEAT_S
                if not _renewed(node_run):
                    del self.executions[future]
                    log.info("node %s of run %s is no longer ours; abandoning it", node_run.node_id, node_run.run_id)
        for pending in list(self.unrecorded):
            execution = pending.execution
            if now >= execution.next_beat:
                execution.next_beat = now + settings.ENGINE_HEARTBEAT_S
                if not _renewed(execution.node_run):
                    self.unrecorded.remove(pending)
                    log.info(
                        "node %s of run %s is no longer ours; not recording it",
                        execution.node_run.node_id,
                        execution.node_run.run_id,
                    )

    def record(self, execution: Execution, future: Future[NodeResult]) -> None:
        """Record the outcome of a finished execution; start the node its success claimed next, if any."""
        node_run = execution.node_run
        secrets = execution.secrets
        try:
            outcome = future.result()
        except NodeError as error:
            runs.fail(node_run, secrets.redact_error(error), "", input=execution.resolved)
            return
        except Exception as error:  # noqa: BLE001  (a node's bug is that node's failure, not the worker's)
            # The traceback goes to the log only: it shows code, paths and values, not something to show users.
            trace = secrets.redact(traceback.format_exc())
            log.error("node %s of run %s failed unexpectedly:\n%s", node_run.node_id, node_run.run_id, trace)
            failure = NodeError(f"The node failed unexpectedly ({type(error).__name__})", code="unexpected_error")
            runs.fail(node_run, failure, "", input=execution.resolved)
            return
        if secrets.revealed:
            outcome.output, outcome.answer = secrets.redact(outcome.output), secrets.redact(outcome.answer)
        then = self.claim_next()
        stored = runs.succeed(node_run, outcome, input=execution.resolved, then=then)
        if stored and execution.key and outcome.wait_until is None and not outcome.park:
            _store(execution.workspace_id, execution.key, execution.node, outcome)
        self.start(then.claimed)


def _fail_late(node_run: runs.Claim, late: NodeTimeout, resolved: Any) -> None:
    runs.fail(node_run, late, "", input=resolved)


def _log_refused(node_run: runs.Claim, doing: str, then: str) -> None:
    log.exception(
        "could not %s node %s of run %s (attempt %s); %s",
        doing,
        node_run.node_id,
        node_run.run_id,
        node_run.attempt,
        then,
    )


@contextmanager
def _refused(node_run: runs.Claim, doing: str, then: str) -> Iterator[None]:
    """If the database will not take what the block writes about the node, log it and go on.

    The other nodes of the batch still have their deadlines enforced and leases renewed, and
    are recorded as they finish, instead of waiting out their own leases too.
    """
    try:
        yield
    except Exception:  # noqa: BLE001  (logged by _log_refused)
        _log_refused(node_run, doing, then)
        connection.close_if_unusable_or_obsolete()


def _renewed(node_run: runs.Claim) -> bool:
    """Renew the node's lease; False when it is no longer ours.

    A renewal the database refuses (a failover, a dropped connection) is tried again at the
    next beat: a lease outlives a few beats, and giving up would leave every node of this
    batch to run again once its lease ran out.
    """
    ours = True
    with _refused(node_run, "renew the lease of", "trying again at the next beat"):
        ours = runs.heartbeat(node_run, settings.ENGINE_LEASE_S)
    return ours


def _run_node(node: registry.Node, ctx: NodeContext, trace_parent: Any) -> NodeResult:
    """The node's code on a node thread, which then gives back any database connection it opened.

    Node threads outlive their nodes; a connection a node opened (to bill a model call, say)
    would otherwise stay open with the idle thread, up to one per thread per worker process.
    """
    try:
        return _node_code(node, ctx, trace_parent)
    finally:
        connections.close_all()


def _ran_here(ready: Ready) -> Future[NodeResult]:
    """A cheap node's code run on this thread, as a finished future (its result or its error)."""
    future: Future[NodeResult] = Future()
    try:
        future.set_result(_node_code(ready.kind(), ready.ctx, spans.current_context()))
    except Exception as error:  # noqa: BLE001  (recorded as the node's failure, as a node thread's would be)
        future.set_exception(error)
    return future


def _node_code(node: registry.Node, ctx: NodeContext, trace_parent: Any) -> NodeResult:
    """The node's code, in its span (a child of the task's: `trace_parent`) and with its secrets in use."""
    token = workspace_secrets.in_use.set(ctx.secrets)
    began, outcome = time.monotonic(), "failed"
    try:
        with (
            spans.node_attempt(trace_parent, ctx.run_id, ctx.node_id, node.kind, ctx.attempt) as span,
            log_context.executing(ctx.run_id, ctx.node_id, ctx.attempt),
        ):
            try:
                result = node.run(ctx)
                output_limits.check(result)  # here, so that a huge output is measured off the supervising thread
                outcome = "succeeded"
            finally:
                span.set_attribute("switchyard.node.status", outcome)
        return result
    finally:
        metrics.node_duration.labels(node.kind, outcome).observe(time.monotonic() - began)
        workspace_secrets.in_use.reset(token)


def resolve_params(
    kind: type[registry.Node],
    node: GraphNode,
    scope: dict[str, Any],
    secrets: dict[str, str] | None = None,
    *,
    deadline: float | None = None,
) -> Any:
    """Render the node's templates against the run so far and check them against its schema.

    `secrets` (names to placeholders) is visible to the node's secret params only; the real
    values are filled in by the node itself, just before its call (NodeContext.reveal).
    """
    raw = dict(node.params)
    verbatim = kind.literal_params | kind.expression_params
    with_secrets = {**scope, "secrets": secrets or {}}

    def seen_by(key: str) -> dict[str, Any]:
        return with_secrets if key in kind.secret_params else scope

    try:
        with expressions.budget(deadline):  # one time and size budget for all of the node's params
            rendered = {
                key: value if key in verbatim else expressions.render(value, seen_by(key)) for key, value in raw.items()
            }
    except expressions.ExpressionError as error:
        raise NonRetryableError(f"An expression failed: {error}", code="expression_error") from None
    try:
        return kind.Params.model_validate(rendered)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise NonRetryableError(f"After rendering, the params are invalid: {problems}", code="bad_params") from None


def cache_key(node: GraphNode, params: Any, scope: dict[str, Any]) -> str:
    material = {"type": node.type, "params": params.model_dump(mode="json"), "inputs": scope}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _cached(workspace_id: int, key: str) -> NodeResult | None:
    row = CachedResult.objects.filter(workspace_id=workspace_id, key=key, expires_at__gt=timezone.now()).first()
    return NodeResult(output=row.output, handle=row.handle or None) if row else None


def _store(workspace_id: int, key: str, node: GraphNode, result: NodeResult) -> None:
    CachedResult.objects.update_or_create(
        workspace_id=workspace_id,
        key=key,
        defaults={
            "node_type": node.type,
            "output": result.output,
            "handle": result.handle or "",
            "expires_at": timezone.now() + timedelta(seconds=node.cache.ttl_s),
        },
    )
