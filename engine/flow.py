"""Scheduling decisions: which nodes become ready, which are skipped, and what status the run moves to.

A node becomes ready when every incoming edge is resolved and at least one is active. An
edge is active when its source succeeded and chose that edge's handle (or chose none: then
all its outputs are active); it is resolved once its source can no longer change. A node
whose incoming edges are all resolved and none active is skipped, which may in turn resolve
the edges after it.

This module only reads and decides; engine/runs/ applies the decisions with their events.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from engine import graph as graphs
from engine.graph import GraphEdge
from engine.models import NodeStatus, Run, RunStatus
from engine.registry import ERROR_HANDLE
from engine.sql import readiness
from engine.sql.readiness import Counts, Row
from engine.sql.script import run_script

ACTIVE, INACTIVE, OPEN = "active", "inactive", "open"
SETTLED = (NodeStatus.SUCCEEDED, NodeStatus.SKIPPED, NodeStatus.CANCELLED)


def run_graph(run_id: int) -> graphs.Graph:
    """The run's parsed graph; read from the database only the first time this process needs it."""
    return graphs.of_run(run_id, lambda: Run.objects.values_list("graph", "version_id").get(pk=run_id))


@dataclass(frozen=True)
class NodeDecision:
    """A pending node that becomes ready (`ready`) or is skipped (not `ready`)."""

    pk: int
    node_id: str
    attempt: int
    ready: bool


@dataclass
class Advance:
    """What `advance` decided, in the order it decided it, and whether it saw a node of the run busy."""

    nodes: list[NodeDecision] = field(default_factory=list)
    busy: bool = False


def _settled(status: str, scheduled: bool) -> bool:
    return status in SETTLED or (status in (NodeStatus.FAILED, NodeStatus.CRASHED) and not scheduled)


def _busy(row: Row) -> bool:
    """Running, ready, or failed with another attempt scheduled (as readiness.counts counts busy)."""
    return row.status == NodeStatus.RUNNING or (row.status != NodeStatus.WAITING and row.scheduled)


def _edge_state(edge: GraphEdge, rows: dict[str, Row]) -> str:
    source = rows[edge.source]
    if source.status == NodeStatus.SUCCEEDED:
        if edge.source_handle == ERROR_HANDLE:
            # Taken only when named: a node that chose no handle activates its normal outputs, not 'error'.
            return ACTIVE if source.handle == ERROR_HANDLE else INACTIVE
        return ACTIVE if source.handle in ("", edge.source_handle) else INACTIVE
    return INACTIVE if _settled(source.status, source.scheduled) else OPEN


def first_reads(graph: graphs.Graph, changed: Iterable[str]) -> set[str]:
    """The nodes whose rows `advance` reads first after the nodes in `changed` settled."""
    targets = {edge.target for node_id in changed for edge in graph.outgoing(node_id)}
    return targets | {edge.source for target in targets for edge in graph.incoming(target)}


def blockers(graph: graphs.Graph, node_id: str) -> list[list[str]] | None:
    """What must still be busy for the node's success to make nothing ready and leave the run going.

    For each successor, its other inputs: while one of them is busy the successor waits. For a
    node with no successors, [[]], meaning any other node of the run: while one is busy the
    run goes on, or None when every other node is upstream of it (nothing else can be busy).
    None when a successor has no other input, so it may become ready. Used by
    engine.sql.outcomes.record_alone.
    """
    targets = dict.fromkeys(edge.target for edge in graph.outgoing(node_id))
    others = [sorted({edge.source for edge in graph.incoming(target)} - {node_id}) for target in targets]
    if not others:
        # Every other node upstream of this one has settled (it ran), so its success ends the run.
        ancestors = graph.upstream.get(node_id, set())
        return None if all(node.id == node_id or node.id in ancestors for node in graph.nodes) else [[]]
    return others if all(others) else None


def advance(run_id: int, changed: Iterable[str] | None = None, known: dict[str, Row] | None = None) -> Advance:
    """Decide which pending nodes become ready and which are skipped after the nodes in `changed` settled.

    Only the successors of the nodes in `changed` can have changed (all nodes when None), so
    only those are looked at. Candidates are examined a generation at a time (a skipped node
    makes its successors the next generation), each generation with one read of the rows it
    needs: a trigger before a 100-wide fan-out costs a handful of statements, not two hundred.
    `known` holds rows read already under this lock (a transition reads `first_reads` with it).
    Call it under the run lock; it writes nothing.
    """
    graph = run_graph(run_id)
    if changed is None:
        generation = [node.id for node in graph.nodes if graph.incoming(node.id)]
    else:
        generation = [edge.target for node_id in changed for edge in graph.outgoing(node_id)]
    rows: dict[str, Row] = dict(known or {})
    seen: set[str] = set()
    decided = Advance()
    while generation:
        candidates = [node_id for node_id in dict.fromkeys(generation) if node_id not in seen]
        seen.update(candidates)
        wanted = {n for node_id in candidates for n in (node_id, *(e.source for e in graph.incoming(node_id)))}
        if missing := wanted - rows.keys():
            rows.update(readiness.by_node(run_script([readiness.rows(run_id, missing)])[0]))
        generation = []
        for node_id in candidates:
            row = rows[node_id]
            if row.status != NodeStatus.PENDING or row.scheduled:
                continue
            states = {_edge_state(edge, rows) for edge in graph.incoming(node_id)}
            if OPEN in states:
                continue
            ready = ACTIVE in states
            decided.nodes.append(NodeDecision(row.pk, node_id, row.attempt, ready))
            if ready:
                rows[node_id] = row._replace(scheduled=True)
            else:
                rows[node_id] = row._replace(status=NodeStatus.SKIPPED)
                generation.extend(edge.target for edge in graph.outgoing(node_id))
    # A join's other inputs still running (a fan-out's branches) say the run is busy without counting.
    decided.busy = any(_busy(row) for row in rows.values())
    return decided


def downstream(graph: graphs.Graph, node_ids: Iterable[str]) -> set[str]:
    """Every node after those in `node_ids`, through any handle (not the nodes themselves, unless on a path)."""
    found: set[str] = set()
    generation = [edge.target for node_id in node_ids for edge in graph.outgoing(node_id)]
    while generation:
        node_id = generation.pop()
        if node_id not in found:
            found.add(node_id)
            generation.extend(edge.target for edge in graph.outgoing(node_id))
    return found


def needs_count(run_status: str, ready: bool, busy: bool) -> bool:
    """Whether the run's status may move: not while it runs and a node is queued or still running."""
    return not ((ready or busy) and run_status == RunStatus.RUNNING)


def next_run_status(run_status: str, counts: Counts) -> RunStatus | None:
    """The status a run that has not ended moves to, from its nodes' counts; None: it stays."""
    if counts.busy:
        return RunStatus.RUNNING if run_status == RunStatus.WAITING else None
    if counts.waiting:
        return RunStatus.WAITING if run_status != RunStatus.WAITING else None
    return RunStatus.FAILED if counts.failed else RunStatus.SUCCEEDED
