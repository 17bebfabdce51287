"""The benchmark's workflows, as graph JSON v1: no-op `transform` nodes (empty params)."""

import itertools
from typing import Any


def _node(node_id: str, kind: str, x: float, y: float) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "label": node_id, "position": {"x": x, "y": y}, "params": {}}


def _edge(source: str, target: str) -> dict[str, Any]:
    return {
        "id": f"{source}-{target}",
        "source": source,
        "source_handle": "out",
        "target": target,
        "target_handle": "in",
    }


def chain(length: int = 10) -> dict[str, Any]:
    """`length` nodes in a line: the trigger (itself a no-op: it passes the input on) and length-1 transforms."""
    ids = ["trigger", *(f"step_{i}" for i in range(1, length))]
    nodes = [_node(node_id, "trigger" if i == 0 else "transform", 200 * i, 0) for i, node_id in enumerate(ids)]
    edges = [_edge(source, target) for source, target in itertools.pairwise(ids)]
    return {"schema_version": 1, "nodes": nodes, "edges": edges}


def fan_out(width: int = 100) -> dict[str, Any]:
    """trigger → `width` parallel transforms → one transform joining them all: width + 2 nodes."""
    branches = [f"branch_{i:03d}" for i in range(width)]
    nodes = [
        _node("trigger", "trigger", 0, 0),
        *(_node(branch, "transform", 300, 80 * i) for i, branch in enumerate(branches)),
        _node("join", "transform", 600, 0),
    ]
    edges = [_edge("trigger", branch) for branch in branches] + [_edge(branch, "join") for branch in branches]
    return {"schema_version": 1, "nodes": nodes, "edges": edges}
