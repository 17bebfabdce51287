"""Small builders for graph JSON in tests: readable graphs without repeating the schema."""

import itertools
from typing import Any


def node(id: str, type: str, **params: Any) -> dict[str, Any]:
    extra = {key: params.pop(key) for key in ("retry", "timeout_s", "cache", "on_failure") if key in params}
    return {"id": id, "type": type, "params": params, **extra}


def edge(source: str, target: str, handle: str = "out", target_handle: str = "in") -> dict[str, Any]:
    return {
        "id": f"{source}-{handle}-{target}",
        "source": source,
        "source_handle": handle,
        "target": target,
        "target_handle": target_handle,
    }


def graph(*nodes: dict[str, Any], edges: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"schema_version": 1, "nodes": list(nodes), "edges": edges or []}


def chain(*nodes: dict[str, Any]) -> dict[str, Any]:
    """Nodes connected one after another through their default handles."""
    return graph(*nodes, edges=[edge(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)])


def generate(**params: Any) -> dict[str, Any]:
    """A generate node "draft" asking model gpt-test of the provider "fake" (the `provider` fixture) to reply."""
    return node(
        "draft",
        "generate",
        **{"provider": "fake", "model": "gpt-test", "prompt": "Reply to: {{ input.body }}", **params},
    )


TRIGGER = node("start", "trigger")
