"""Test runs that start part-way: "run from here" in the designer.

The new run executes the chosen node and everything downstream of it. Every other node keeps
the result it had in an earlier run of the same workflow (its output, its chosen branch), so
the chosen node sees the same upstream outputs without calling a model or a URL again. Reused
nodes are copied as they ended and cost nothing in the new run. This module decides what is
reused; engine.runs.start_reusing records it.
"""

from engine import graph as graphs
from engine import runs
from engine.models import NodeRun, NodeStatus, Run
from engine.runs import Options, RunRejected, RunSource

REUSABLE = (NodeStatus.SUCCEEDED, NodeStatus.SKIPPED)


def downstream(graph: graphs.Graph, node_id: str) -> set[str]:
    """`node_id` and every node after it."""
    found, queue = {node_id}, [node_id]
    while queue:
        for edge in graph.outgoing(queue.pop()):
            if edge.target not in found:
                found.add(edge.target)
                queue.append(edge.target)
    return found


def start_from_node(source: RunSource, previous: Run, node_id: str, options: Options) -> Run:
    """A new run of `source.graph` that reuses `previous`'s results for every node not after `node_id`.

    Raises RunRejected when the graph is invalid, the node is not in it, or a node before it has
    no result in `previous` to reuse (it was added since, failed, or never ran).
    """
    try:
        graph = graphs.parse(source.graph, workspace_id=source.workspace_id)
    except graphs.GraphInvalid as invalid:
        raise RunRejected("The workflow graph is invalid", [p.as_dict() for p in invalid.problems]) from None
    if node_id not in {node.id for node in graph.nodes}:
        raise RunRejected(f"node_id: there is no node {node_id!r} in the draft")
    earlier = {n.node_id: n for n in NodeRun.objects.filter(run=previous, status__in=REUSABLE)}
    needed = sorted(graph.upstream.get(node_id, set()) - earlier.keys())
    if needed:
        raise RunRejected(
            f"node_id: {', '.join(needed)} before {node_id!r} has no result in run {previous.pk} to reuse; "
            "run the whole workflow first",
            [{"path": "node_id", "code": "nothing_to_reuse", "message": f"No result for {n!r}"} for n in needed],
        )
    return runs.start_reusing(source, graph, previous, earlier, downstream(graph, node_id), options, node_id)
