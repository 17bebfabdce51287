"""Running one node on a worker: claim, resolve params, run under a lease and a deadline, record.

The node's own code runs in a thread of this process while the worker thread keeps its
lease alive. When the deadline passes, or the lease is lost (run cancelled, node taken over
by the reaper), the worker stops waiting and the node thread's late result is discarded:
every write is fenced by attempt and lease owner.
"""

import hashlib
import json
import logging
import os
import socket
import time
import traceback
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone
from pydantic import ValidationError

from engine import expressions, ledger, registry, runs, statements
from engine.errors import NodeError, NodeTimeout, NonRetryableError
from engine.flow import run_graph
from engine.graph import GraphNode
from engine.models import CachedResult, NodeRun
from engine.registry import NodeContext, NodeResult

log = logging.getLogger(__name__)
_node_threads = ThreadPoolExecutor(max_workers=64, thread_name_prefix="node")
# Time kept free at the end of the task's soft limit when taking on one more node.
INLINE_MARGIN_S = 60


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def execute(node_run_id: int) -> None:
    """Run one node if it is still ready; called by the Celery task with the id only.

    When the node's success makes others ready, the worker claims one of them in the same
    transaction and runs it too (runs.Then), for as long as the next node's timeout fits in
    what is left of this task's time limit.
    """
    began = time.monotonic()
    owner = worker_name()
    node_run = runs.claim(node_run_id, owner, settings.ENGINE_LEASE_S)
    while node_run is not None:
        left = settings.ENGINE_TASK_SOFT_LIMIT_S - INLINE_MARGIN_S - (time.monotonic() - began)
        then = runs.Then(owner, settings.ENGINE_LEASE_S, left)
        _run(node_run, then)
        node_run = then.claimed


def _run(node_run: NodeRun, then: runs.Then) -> None:
    run = statements.context(node_run.run_id)
    graph = run_graph(node_run.run_id)
    node = graph.node(node_run.node_id)
    kind = registry.get(node.type)
    if kind is None:
        runs.fail(node_run, NonRetryableError(f"There is no node type {node.type!r}", code="unknown_type"))
        return
    scope = expressions.scope(run["input"], statements.outputs(node_run.run_id, graph.upstream[node.id]))
    try:
        params = resolve_params(kind, node, scope)
    except NodeError as error:
        runs.fail(node_run, error)
        return
    resolved = params.model_dump(mode="json")
    key = cache_key(node, params, scope) if node.cache.enabled and not kind.side_effect else None
    if key and (hit := _cached(run["workspace_id"], key)) is not None:
        runs.succeed(node_run, hit, cache_hit=True, input=resolved, then=then)
        return
    ctx = NodeContext(
        run_id=node_run.run_id,
        workspace_id=run["workspace_id"],
        node_id=node.id,
        attempt=node_run.attempt,
        params=params,
        scope=scope,
        deadline=time.monotonic() + node.timeout_s,
        resumed=node_run.resume or ({"woke": True} if node_run.resumed_from_wait else None),  # type: ignore[attr-defined]
        http_allowlist=list(run["http_allowlist"]),
        once=ledger.bind(node_run.run_id, node.id),
        run_created_by=run["created_by_id"],
        workflow_id=run["workflow_id"],
        version_number=run["version_number"],
    )
    future = _node_threads.submit(_run_node, kind(), ctx)
    _release_connection()
    outcome = _supervise(node_run, future, ctx.deadline)
    if isinstance(outcome, NodeResult):
        stored = runs.succeed(node_run, outcome, input=resolved, then=then)
        if stored and key and outcome.wait_until is None and not outcome.park:
            _store(run["workspace_id"], key, node, outcome)
    elif outcome is not None:
        runs.fail(node_run, *outcome, input=resolved)


def _run_node(node: registry.Node, ctx: NodeContext) -> NodeResult:
    """The node's code, on a node thread that gives back any database connection it opened.

    Node threads outlive their nodes; a connection a node opened (to bill a model call, say)
    would otherwise stay open with the idle thread, up to one per thread per worker process.
    """
    try:
        return node.run(ctx)
    finally:
        connections.close_all()


def _release_connection() -> None:
    """Give a pooled connection back while the node runs: the worker needs it again only to record.

    Without a pool (DB_POOL_SIZE) the thread keeps its connection, since closing it would mean
    connecting again for the outcome.
    """
    if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
        connection.close()


def _supervise(
    node_run: NodeRun, future: Future[NodeResult], deadline: float
) -> NodeResult | tuple[NodeError, str] | None:
    """Wait for the node while renewing the lease; None means the node is no longer ours."""
    while True:
        try:
            return future.result(timeout=max(0.01, min(settings.ENGINE_HEARTBEAT_S, deadline - time.monotonic())))
        except FutureTimeout:
            if time.monotonic() >= deadline:
                return NodeTimeout("The node did not finish within its timeout"), ""
            alive = runs.heartbeat(node_run, settings.ENGINE_LEASE_S)
            _release_connection()
            if not alive:
                log.info("node %s of run %s is no longer ours; abandoning it", node_run.node_id, node_run.run_id)
                return None
        except NodeError as error:
            return error, ""
        except Exception as error:  # noqa: BLE001  (a node's bug is that node's failure, not the worker's)
            return NodeError(f"{type(error).__name__}: {error}", code="unexpected_error"), traceback.format_exc()


def resolve_params(kind: type[registry.Node], node: GraphNode, scope: dict[str, Any]) -> Any:
    """Render the node's templates against the run so far and check them against its schema."""
    raw = dict(node.params)
    verbatim = kind.literal_params | kind.expression_params
    try:
        rendered = {key: value if key in verbatim else expressions.render(value, scope) for key, value in raw.items()}
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
