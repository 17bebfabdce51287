"""Which nodes may run next, which can no longer run, and when the run has ended.

A node becomes ready when every incoming edge is resolved and at least one is active. An
edge is active when its source succeeded and chose that edge's handle (or chose none: then
all its outputs are active); it is resolved once its source can no longer change. A node
whose incoming edges are all resolved and none active is skipped, which may in turn resolve
the edges after it.
"""

from collections.abc import Iterable

from engine import graph as graphs
from engine import statements
from engine.events import Change
from engine.graph import GraphEdge
from engine.models import ENDED_RUN, NodeStatus, Run, RunStatus
from engine.statements import Row

ACTIVE, INACTIVE, OPEN = "active", "inactive", "open"
SETTLED = (NodeStatus.SUCCEEDED, NodeStatus.SKIPPED, NodeStatus.CANCELLED)


def run_graph(run_id: int) -> graphs.Graph:
    """The run's parsed graph; read from the database only the first time this process needs it."""
    return graphs.of_run(run_id, lambda: Run.objects.values_list("graph", flat=True).get(pk=run_id))


def _settled(status: str, scheduled: bool) -> bool:
    return status in SETTLED or (status in (NodeStatus.FAILED, NodeStatus.CRASHED) and not scheduled)


def _busy(status: str, scheduled: bool) -> bool:
    """Running, ready, or failed with another attempt scheduled (as statements.counts counts busy)."""
    return status == NodeStatus.RUNNING or (status != NodeStatus.WAITING and scheduled)


def _edge_state(edge: GraphEdge, rows: dict[str, Row]) -> str:
    status, handle, scheduled, _, _ = rows[edge.source]
    if status == NodeStatus.SUCCEEDED:
        return ACTIVE if handle in ("", edge.source_handle) else INACTIVE
    return INACTIVE if _settled(status, scheduled) else OPEN


def first_reads(graph: graphs.Graph, changed: Iterable[str]) -> set[str]:
    """The nodes whose rows `advance` reads first after the nodes in `changed` settled."""
    targets = {edge.target for node_id in changed for edge in graph.outgoing(node_id)}
    return targets | {edge.source for target in targets for edge in graph.incoming(target)}


def blockers(graph: graphs.Graph, node_id: str) -> list[list[str]] | None:
    """What must still be busy for the node's success to make nothing ready and leave the run going.

    For each successor, its other inputs: while one of them is busy the successor waits. For a
    node with no successors, [[]], meaning any other node of the run: while one is busy the
    run goes on. None when a successor has no other input, so it may become ready. Used by
    statements.record_alone.
    """
    targets = dict.fromkeys(edge.target for edge in graph.outgoing(node_id))
    others = [sorted({edge.source for edge in graph.incoming(target)} - {node_id}) for target in targets]
    if not others:
        return [[]]
    return others if all(others) else None


def advance(step: Change, changed: Iterable[str] | None = None, known: dict[str, Row] | None = None) -> None:
    """Queue the nodes that became ready and skip those that can no longer run.

    Only the successors of the nodes in `changed` can have changed (all nodes when None), so
    only those are looked at. Candidates are examined a generation at a time (a skipped node
    makes its successors the next generation), each generation with one read of the rows it
    needs, and the nodes queued or skipped are written with one statement each at the end:
    a trigger before a 100-wide fan-out costs a handful of statements, not two hundred.
    `known` holds rows read already under this lock (a transition's prelude reads
    `first_reads`); the writes are deferred to the transaction's last script.
    """
    graph = run_graph(step.run.pk)
    if changed is None:
        generation = [node.id for node in graph.nodes if graph.incoming(node.id)]
    else:
        generation = [edge.target for node_id in changed for edge in graph.outgoing(node_id)]
    rows: dict[str, Row] = dict(known or {})
    seen: set[str] = set()
    ready: list[int] = []
    skipped: list[int] = []
    while generation:
        candidates = [node_id for node_id in dict.fromkeys(generation) if node_id not in seen]
        seen.update(candidates)
        wanted = {n for node_id in candidates for n in (node_id, *(e.source for e in graph.incoming(node_id)))}
        if missing := wanted - rows.keys():
            rows.update(statements.by_node(statements.run_script([statements.rows(step.run.pk, missing)])[0]))
        generation = []
        for node_id in candidates:
            status, handle, scheduled, pk, attempt = rows[node_id]
            if status != NodeStatus.PENDING or scheduled:
                continue
            states = {_edge_state(edge, rows) for edge in graph.incoming(node_id)}
            if OPEN in states:
                continue
            if ACTIVE in states:
                rows[node_id] = (status, handle, True, pk, attempt)
                ready.append(pk)
                step.queued[pk] = (node_id, attempt)
                step.event("node.queued", node_id)
            else:
                rows[node_id] = (NodeStatus.SKIPPED, handle, scheduled, pk, attempt)
                skipped.append(pk)
                step.event("node.skipped", node_id)
                generation.extend(edge.target for edge in graph.outgoing(node_id))
    # A join's other inputs still running (a fan-out's branches) say the run is busy without counting.
    step.busy = step.busy or any(_busy(status, scheduled) for status, _, scheduled, _, _ in rows.values())
    if ready:
        step.defer(statements.update_nodes(ready, {"wake_at": step.now, "dispatched_at": step.now}))
        step.ready.extend(ready)
    if skipped:
        step.defer(statements.update_nodes(skipped, {"status": NodeStatus.SKIPPED, "finished_at": step.now}))


def settle(step: Change) -> None:
    """Set the run's status from its nodes: running, waiting on a person or a timer, or ended."""
    if step.run.status in ENDED_RUN:
        return
    if (step.ready or step.busy) and step.run.status == RunStatus.RUNNING:
        return  # a node is queued or still running: the run goes on, and nothing needs counting
    step.flush()
    busy, waiting, failed = statements.counts(step.run.pk)
    if busy:
        if step.run.status == RunStatus.WAITING:
            step.set_run(status=RunStatus.RUNNING)
            step.event("run.running")
    elif waiting:
        if step.run.status != RunStatus.WAITING:
            step.set_run(status=RunStatus.WAITING)
            step.event("run.waiting")
    else:
        final = RunStatus.FAILED if failed else RunStatus.SUCCEEDED
        step.set_run(status=final, finished_at=step.now)
        step.event(f"run.{final}")
