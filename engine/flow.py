"""Which nodes may run next, which can no longer run, and when the run has ended.

A node becomes ready when every incoming edge is resolved and at least one is active. An
edge is active when its source succeeded and chose that edge's handle (or chose none: then
all its outputs are active); it is resolved once its source can no longer change. A node
whose incoming edges are all resolved and none active is skipped, which may in turn resolve
the edges after it.
"""

from engine.events import Change
from engine.graph import Graph, GraphEdge
from engine.models import ENDED_RUN, NodeRun, NodeStatus, RunStatus

ACTIVE, INACTIVE, OPEN = "active", "inactive", "open"


def _settled(node_run: NodeRun) -> bool:
    if node_run.status in (NodeStatus.SUCCEEDED, NodeStatus.SKIPPED, NodeStatus.CANCELLED):
        return True
    return node_run.status in (NodeStatus.FAILED, NodeStatus.CRASHED) and node_run.wake_at is None


def _edge_state(edge: GraphEdge, nodes: dict[str, NodeRun]) -> str:
    source = nodes[edge.source]
    if source.status == NodeStatus.SUCCEEDED:
        return ACTIVE if source.handle in ("", edge.source_handle) else INACTIVE
    return INACTIVE if _settled(source) else OPEN


def advance(step: Change) -> None:
    """Queue the nodes that became ready and skip those that can no longer run."""
    graph = Graph.model_validate(step.run.graph)
    nodes = {node_run.node_id: node_run for node_run in NodeRun.objects.filter(run=step.run)}
    changed = True
    while changed:
        changed = False
        for node in graph.nodes:
            node_run = nodes[node.id]
            incoming = graph.incoming(node.id)
            if node_run.status != NodeStatus.PENDING or node_run.wake_at is not None or not incoming:
                continue
            states = {_edge_state(edge, nodes) for edge in incoming}
            if OPEN in states:
                continue
            if ACTIVE in states:
                node_run.wake_at = step.now
                NodeRun.objects.filter(pk=node_run.pk).update(wake_at=step.now, dispatched_at=None)
                step.ready.append(node_run.pk)
                step.event("node.queued", node.id)
            else:
                node_run.status = NodeStatus.SKIPPED
                NodeRun.objects.filter(pk=node_run.pk).update(status=NodeStatus.SKIPPED, finished_at=step.now)
                step.event("node.skipped", node.id)
                changed = True


def settle(step: Change) -> None:
    """Set the run's status from its nodes: running, waiting on a person or a timer, or ended."""
    if step.run.status in ENDED_RUN:
        return
    statuses = list(NodeRun.objects.filter(run=step.run).values_list("status", "wake_at"))
    busy = any(
        status == NodeStatus.RUNNING or (status != NodeStatus.WAITING and wake_at is not None)
        for status, wake_at in statuses
    )
    waiting = any(status == NodeStatus.WAITING for status, _ in statuses)
    if busy:
        if step.run.status == RunStatus.WAITING:
            step.set_run(status=RunStatus.RUNNING)
            step.event("run.running")
    elif waiting:
        if step.run.status != RunStatus.WAITING:
            step.set_run(status=RunStatus.WAITING)
            step.event("run.waiting")
    else:
        failed = any(status in (NodeStatus.FAILED, NodeStatus.CRASHED) for status, _ in statuses)
        final = RunStatus.FAILED if failed else RunStatus.SUCCEEDED
        step.set_run(status=final, finished_at=step.now)
        step.event(f"run.{final}")
