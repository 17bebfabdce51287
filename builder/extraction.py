"""Extract into sub-workflow: selected nodes of a draft move into a new workflow, called by one subworkflow node.

The new workflow's trigger takes what the selection read from outside it (trigger input
fields keep their names; an upstream node's output becomes a field named after the node),
and when nodes after the selection read its outputs, a last `transform` node gives them as
one object keyed by node id, read downstream as `nodes.<new node>.<old node>…`. The caller's
draft is not saved here: the designer applies the returned graph as one undoable step.
"""

import copy
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from jinja2 import Environment, TemplateSyntaxError

from builder.models import Workflow
from builder.versions import publish_version
from engine import graph as graphs
from engine import registry

TRIGGER = "trigger"
SUBWORKFLOW = "subworkflow"
OUTPUT_NODE = "outputs"
# Only lexed, never rendered: the token stream gives back the exact text, so a rewrite changes only the names.
_LEXER = Environment(autoescape=True)


class ExtractRefused(Exception):
    """The selection cannot be extracted; the message says why and `field` names the request field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Extracted:
    """The new workflow, whether it was published (with its problems if not), and the caller's new graph."""

    workflow: Workflow
    version: int | None
    problems: list[graphs.Problem]
    graph: dict[str, Any]
    node_id: str


@dataclass
class _Reads:
    """What the selection reads from outside it: trigger input fields and upstream nodes."""

    fields: set[str] = field(default_factory=set)
    nodes: set[str] = field(default_factory=set)
    whole_input: bool = False


def extract(workflow: Workflow, graph: dict[str, Any], node_ids: list[str], name: str, by: User) -> Extracted:
    """Create the workflow of the selected nodes and return `graph` with one subworkflow node in their place.

    ExtractRefused (naming `node_ids`, `graph` or `name`) when it cannot be done; nothing is created then.
    """
    try:
        parsed = graphs.Graph.model_validate(graph)
    except ValueError:
        raise ExtractRefused("graph", "the graph is not graph JSON v1; save a valid draft first") from None
    selected = _selection(parsed, node_ids)
    crossing_in = [e for e in parsed.edges if e.target in selected and e.source not in selected]
    crossing_out = [e for e in parsed.edges if e.source in selected and e.target not in selected]
    for edge in crossing_out:
        if edge.source_handle != "out":
            raise ExtractRefused(
                "node_ids",
                f"{edge.source!r} leaves the selection through its {edge.source_handle!r} output: a sub-workflow "
                "has one output, so select the branch's targets too, or leave its source out",
            )
    reads = _reads(parsed, selected)
    if reads.whole_input:
        raise ExtractRefused("node_ids", "the selection reads the whole trigger input ({{ input }}); name its fields")
    node_fields = {ref: ref if ref not in reads.fields else f"{ref}_output" for ref in sorted(reads.nodes)}
    read_after = _read_downstream(parsed, selected)
    new_id = _free_id({node.id for node in parsed.nodes} - selected, SUBWORKFLOW)
    child = _child_graph(parsed, selected, crossing_in, node_fields, reads.fields, read_after)
    mapping = {name: f"{{{{ input.{name} }}}}" for name in sorted(reads.fields)}
    mapping |= {name: f"{{{{ nodes.{ref} }}}}" for ref, name in node_fields.items()}
    with transaction.atomic():
        called = Workflow.objects.create(
            workspace_id=workflow.workspace_id,
            name=name,
            description=f"Extracted from {workflow.name}.",
            draft=child,
            created_by=by,
        )
        try:
            version: int | None = publish_version(called, f"Extracted from {workflow.name}", by=by).number
            problems: list[graphs.Problem] = []
        except graphs.GraphInvalid as invalid:
            version, problems = None, invalid.problems
    params = {"workflow_id": called.pk, "version": None, "input": mapping}
    caller = _caller_graph(graph, selected, crossing_in, crossing_out, new_id, name, params)
    return Extracted(called, version, problems, caller, new_id)


def _selection(graph: graphs.Graph, node_ids: list[str]) -> set[str]:
    """The selected ids, refused when empty, unknown, with the trigger, or not connected among themselves."""
    known = {node.id: node for node in graph.nodes}
    selected = set(node_ids)
    if not selected:
        raise ExtractRefused("node_ids", "select the nodes to extract")
    if unknown := sorted(selected - set(known)):
        raise ExtractRefused("node_ids", f"the graph has no node {unknown[0]!r}")
    if triggers := sorted(i for i in selected if known[i].type == TRIGGER):
        raise ExtractRefused("node_ids", f"{triggers[0]!r} is the trigger: it stays; select what runs after it")
    neighbours: dict[str, set[str]] = {i: set() for i in selected}
    for edge in graph.edges:
        if edge.source in selected and edge.target in selected:
            neighbours[edge.source].add(edge.target)
            neighbours[edge.target].add(edge.source)
    first = min(selected)
    reached, queue = {first}, deque([first])
    while queue:
        for other in neighbours[queue.popleft()] - reached:
            reached.add(other)
            queue.append(other)
    if apart := sorted(selected - reached):
        raise ExtractRefused(
            "node_ids", f"{apart[0]!r} is not connected to {first!r} inside the selection: extract connected nodes"
        )
    return selected


def _templates(node: graphs.GraphNode) -> list[tuple[str, bool]]:
    """(key, is_bare_expression) of the node's params the engine evaluates."""
    kind = registry.get(node.type)
    if kind is None:
        return []
    return [(key, key in kind.expression_params) for key in node.params if key not in kind.literal_params]


def _rewrite(value: Any, bare: bool, replace: Callable[[str, str], str | None]) -> Any:
    """`value` with each `input.<key>` / `nodes.<key>` reference that `replace(root, key)` answers replaced."""
    if isinstance(value, dict):
        return {k: _rewrite(v, bare, replace) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, bare, replace) for v in value]
    if not isinstance(value, str) or ("nodes" not in value and "input" not in value):
        return value
    source = f"{{{{{value}}}}}" if bare else value
    try:
        tokens = [(kind, text) for _, kind, text in _LEXER.lex(source)]
    except TemplateSyntaxError:
        return value  # validation reports it; nothing in it can be rewritten safely
    out: list[str] = []
    i = 0
    while i < len(tokens):
        text = tokens[i][1]
        reference = _reference(tokens, i)
        if reference is not None:
            root, key, length = reference
            replaced = replace(root, key)
            if replaced is not None:
                out.append(replaced)
                i += length
                continue
        out.append(text)
        i += 1
    result = "".join(out)
    return result[2:-2] if bare else result


def _reference(tokens: list[tuple[str, str]], i: int) -> tuple[str, str, int] | None:
    """(root, key, token count) when tokens[i:] start `input.key`, `nodes.key` or `nodes["key"]`; a bare
    `input` gives key ""."""
    kind, text = tokens[i]
    if kind != "name" or text not in ("input", "nodes"):
        return None
    before = next((t for k, t in reversed(tokens[:i]) if k != "whitespace"), "")
    if before == ".":
        return None  # an attribute that happens to be called so, not the scope's name
    rest = tokens[i + 1 : i + 4]
    if len(rest) >= 2 and rest[0] == ("operator", ".") and rest[1][0] == "name":
        return text, rest[1][1], 3
    if len(rest) == 3 and rest[0] == ("operator", "[") and rest[1][0] == "string" and rest[2] == ("operator", "]"):
        return text, rest[1][1][1:-1], 4
    return (text, "", 1) if text == "input" else None


def _reads(graph: graphs.Graph, selected: set[str]) -> _Reads:
    reads = _Reads()

    def note(root: str, key: str) -> None:
        if root == "input":
            if key:
                reads.fields.add(key)
            else:
                reads.whole_input = True
        elif key not in selected:
            reads.nodes.add(key)

    for node in graph.nodes:
        if node.id in selected:
            for key, bare in _templates(node):
                _rewrite(node.params[key], bare, lambda root, key: note(root, key))
    return reads


def _read_downstream(graph: graphs.Graph, selected: set[str]) -> list[str]:
    """Selected nodes whose outputs nodes outside the selection read."""
    read: set[str] = set()

    def seen(root: str, key: str) -> None:
        if root == "nodes" and key in selected:
            read.add(key)

    for node in graph.nodes:
        if node.id not in selected:
            for key, bare in _templates(node):
                _rewrite(node.params[key], bare, lambda root, key: seen(root, key))
    return sorted(read)


def _free_id(used: set[str], base: str) -> str:
    """`base`, or `base_<n>` with the first n that no id in `used` has."""
    if base not in used:
        return base
    return next(f"{base}_{n}" for n in range(1, len(used) + 2) if f"{base}_{n}" not in used)


def _child_graph(
    graph: graphs.Graph,
    selected: set[str],
    crossing_in: list[graphs.GraphEdge],
    node_fields: dict[str, str],
    input_fields: set[str],
    read_after: list[str],
) -> dict[str, Any]:
    """The new workflow's draft: a trigger, the selected nodes (reads of upstream nodes now read the input)."""
    nodes = [n.model_dump(mode="json") for n in graph.nodes if n.id in selected]
    trigger_id = _free_id(selected, "start")
    names = sorted(input_fields | set(node_fields.values()))
    schema = {"type": "object", "properties": {n: {} for n in names}, "required": names}
    left = min((n["position"]["x"] for n in nodes), default=0)
    top = min((n["position"]["y"] for n in nodes), default=0)

    def from_input(root: str, key: str) -> str | None:
        return f"input.{node_fields[key]}" if root == "nodes" and key in node_fields else None

    for node, parsed in zip(nodes, (n for n in graph.nodes if n.id in selected), strict=True):
        node["position"] = {"x": node["position"]["x"] - left + 300, "y": node["position"]["y"] - top}
        for key, bare in _templates(parsed):
            node["params"][key] = _rewrite(node["params"][key], bare, from_input)
    trigger = {"id": trigger_id, "type": TRIGGER, "label": "Start", "position": {"x": 0, "y": 0}}
    trigger["params"] = {"input_schema": schema}
    edges = [e.model_dump(mode="json") for e in graph.edges if e.source in selected and e.target in selected]
    entries = dict.fromkeys(e.target for e in crossing_in)
    entries |= dict.fromkeys(i for i in sorted(selected) if not any(e.target == i for e in graph.edges))
    edges += [_edge(trigger_id, "out", target, "in") for target in entries]
    if read_after:
        right = max(n["position"]["x"] for n in nodes) + 300
        fields = {ref: f"{{{{ nodes.{ref} }}}}" for ref in read_after}
        output_id = _free_id(selected | {trigger_id}, OUTPUT_NODE)
        nodes.append(
            {
                "id": output_id,
                "type": "transform",
                "label": "Outputs",
                "position": {"x": right, "y": 0},
                "params": {"fields": fields},
            }
        )
        edges += [_edge(ref, "out", output_id, "in") for ref in read_after]
    return {"schema_version": 1, "nodes": [trigger, *nodes], "edges": edges}


def _caller_graph(
    graph: dict[str, Any],
    selected: set[str],
    crossing_in: list[graphs.GraphEdge],
    crossing_out: list[graphs.GraphEdge],
    new_id: str,
    label: str,
    params: dict[str, Any],
) -> dict[str, Any]:
    """`graph` with the selection replaced by the subworkflow node `new_id`, on the edges that crossed it."""
    result = copy.deepcopy(graph)
    kept = [n for n in result["nodes"] if n.get("id") not in selected]
    positions = [n.get("position") or {"x": 0, "y": 0} for n in result["nodes"] if n.get("id") in selected]
    x = sum(p.get("x", 0) for p in positions) / len(positions)
    y = sum(p.get("y", 0) for p in positions) / len(positions)

    def downstream(root: str, key: str) -> str | None:
        return f"nodes.{new_id}.{key}" if root == "nodes" and key in selected else None

    parsed = {n.id: n for n in graphs.Graph.model_validate(graph).nodes}
    for node in kept:
        for key, bare in _templates(parsed[node["id"]]):
            node["params"][key] = _rewrite(node["params"][key], bare, downstream)
    kept.append({"id": new_id, "type": SUBWORKFLOW, "label": label, "position": {"x": x, "y": y}, "params": params})
    edges = [e for e in result["edges"] if e.get("source") not in selected and e.get("target") not in selected]
    joined: dict[tuple[str, str, str, str], None] = {}
    for edge in crossing_in:
        joined[(edge.source, edge.source_handle, new_id, "in")] = None
    for edge in crossing_out:
        joined[(new_id, "out", edge.target, edge.target_handle)] = None
    edges += [_edge(*link) for link in joined]
    return {**result, "nodes": kept, "edges": edges}


def _edge(source: str, source_handle: str, target: str, target_handle: str) -> dict[str, str]:
    return {
        "id": f"{source}-{source_handle}-{target}",
        "source": source,
        "source_handle": source_handle,
        "target": target,
        "target_handle": target_handle,
    }
