"""Which nodes may run next, which can no longer run, and when the run has ended.

A node becomes ready when every incoming edge is resolved and at least one is active. An
edge is active when its source succeeded and chose that edge's handle (or chose none: then
all its outputs are active); it is resolved once its source can no longer change. A node
whose incoming edges are all resolved and none active is skipped, which may in turn resolve
the edges after it.
"""

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q

from engine import graph as graphs
from engine.events import Change
from engine.graph import GraphEdge
from engine.models import ENDED_RUN, NodeRun, NodeStatus, RunStatus

ACTIVE, INACTIVE, OPEN = "active", "inactive", "open"
SETTLED = (NodeStatus.SUCCEEDED, NodeStatus.SKIPPED, NodeStatus.CANCELLED)

Row = tuple[str, str, Any, int]  # status, handle, wake_at, pk


def _settled(status: str, wake_at: Any) -> bool:
    return status in SETTLED or (status in (NodeStatus.FAILED, NodeStatus.CRASHED) and wake_at is None)


def _edge_state(edge: GraphEdge, rows: dict[str, Row]) -> str:
    status, handle, wake_at, _ = rows[edge.source]
    if status == NodeStatus.SUCCEEDED:
        return ACTIVE if handle in ("", edge.source_handle) else INACTIVE
    return INACTIVE if _settled(status, wake_at) else OPEN


def advance(step: Change, changed: Iterable[str] | None = None) -> None:
    """Queue the nodes that became ready and skip those that can no longer run.

    Only the successors of the nodes in `changed` can have changed (all nodes when None), so
    only those are looked at: a join after a wide fan-out costs one small query per finish.
    """
    graph = graphs.of_run(step.run.pk, step.run.graph)
    if changed is None:
        candidates = [node.id for node in graph.nodes if graph.incoming(node.id)]
    else:
        candidates = [edge.target for node_id in changed for edge in graph.outgoing(node_id)]
    seen: set[str] = set()
    while candidates:
        node_id = candidates.pop(0)
        if node_id in seen:
            continue
        seen.add(node_id)
        incoming = graph.incoming(node_id)
        wanted = {node_id, *(edge.source for edge in incoming)}
        found = NodeRun.objects.filter(run=step.run, node_id__in=wanted)
        rows: dict[str, Row] = {
            row[0]: row[1:] for row in found.values_list("node_id", "status", "handle", "wake_at", "pk")
        }
        status, _, wake_at, pk = rows[node_id]
        if status != NodeStatus.PENDING or wake_at is not None:
            continue
        states = {_edge_state(edge, rows) for edge in incoming}
        if OPEN in states:
            continue
        if ACTIVE in states:
            NodeRun.objects.filter(pk=pk).update(wake_at=step.now, dispatched_at=step.now)
            step.ready.append(pk)
            step.event("node.queued", node_id)
        else:
            NodeRun.objects.filter(pk=pk).update(status=NodeStatus.SKIPPED, finished_at=step.now)
            step.event("node.skipped", node_id)
            candidates.extend(edge.target for edge in graph.outgoing(node_id))


def settle(step: Change) -> None:
    """Set the run's status from its nodes: running, waiting on a person or a timer, or ended."""
    if step.run.status in ENDED_RUN:
        return
    scheduled = ~Q(status=NodeStatus.WAITING) & Q(wake_at__isnull=False)  # ready, or retrying later
    counts = NodeRun.objects.filter(run=step.run).aggregate(
        busy=Count("pk", filter=Q(status=NodeStatus.RUNNING) | scheduled),
        waiting=Count("pk", filter=Q(status=NodeStatus.WAITING)),
        failed=Count("pk", filter=Q(status__in=[NodeStatus.FAILED, NodeStatus.CRASHED])),
    )
    if counts["busy"]:
        if step.run.status == RunStatus.WAITING:
            step.set_run(status=RunStatus.RUNNING)
            step.event("run.running")
    elif counts["waiting"]:
        if step.run.status != RunStatus.WAITING:
            step.set_run(status=RunStatus.WAITING)
            step.event("run.waiting")
    else:
        final = RunStatus.FAILED if counts["failed"] else RunStatus.SUCCEEDED
        step.set_run(status=final, finished_at=step.now)
        step.event(f"run.{final}")
