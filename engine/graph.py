"""Graph JSON v1: the pydantic model that is the single source of its JSON Schema, and `validate`.

Validation only reads the graph: it never runs a node, renders a template or fetches a URL.
It returns every problem it finds as {path, code, message}, with paths such as
`nodes.2.params.url` or `edges.0.target`, so the canvas can show each on its node and field.
"""

import json
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine import expressions, registry, workspace_secrets

MAX_NODES = 500
MAX_EDGES = 2000
MAX_GRAPH_BYTES = 2_000_000
NODE_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
OnFailure = Literal["fail_run", "continue"]


class RetryPolicy(BaseModel):
    """How often and how soon a failed node is tried again (see engine/retry.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_attempts: int = Field(1, ge=1, le=20)
    initial_delay_s: float = Field(1.0, ge=0, le=3600)
    backoff: float = Field(2.0, ge=1, le=10)
    max_delay_s: float = Field(300.0, ge=0, le=86400)
    jitter: float = Field(0.2, ge=0, le=1)
    non_retryable: list[str] = Field(default_factory=list, description="error codes that are never retried")


class CachePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = False
    ttl_s: int = Field(3600, ge=1, le=30 * 86400)


class Position(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: float = 0
    y: float = 0


class GraphNode(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=NODE_ID_PATTERN, description="usable in expressions as nodes.<id>")
    type: str = Field(min_length=1, max_length=64)
    label: str = Field("", max_length=200)
    position: Position = Field(default_factory=Position)
    params: dict[str, Any] = Field(default_factory=dict)
    retry: RetryPolicy = Field(default_factory=lambda: RetryPolicy())
    timeout_s: float = Field(300.0, gt=0, le=3600)
    cache: CachePolicy = Field(default_factory=lambda: CachePolicy())
    on_failure: OnFailure = Field(
        registry.FAIL_RUN,
        description="once its attempts are spent: fail the run, or continue through the 'error' handle "
        "with {code, message, attempt} as the node's output",
    )

    @property
    def continues_on_failure(self) -> bool:
        return self.on_failure == registry.CONTINUE


def output_handles(node: GraphNode, kind: type[registry.Node]) -> tuple[str, ...]:
    """The node's output handles: its kind's, and 'error' when it continues on failure (a trigger never fails)."""
    handles = kind.output_handles(node.params)
    if node.continues_on_failure and not kind.is_trigger and registry.ERROR_HANDLE not in handles:
        return (*handles, registry.ERROR_HANDLE)
    return handles


class GraphEdge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=128)
    source: str
    source_handle: str = "out"
    target: str
    target_handle: str = "in"


class StickyNote(BaseModel):
    """A note on the designer canvas. Not a node: it has no type, no edges and never runs."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64)
    text: str = Field("", max_length=5000)
    position: Position = Field(default_factory=Position)
    width: float = Field(200, gt=0, le=4000)
    height: float = Field(120, gt=0, le=4000)


class Graph(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1] = 1
    nodes: list[GraphNode] = Field(default_factory=list)
    edges: list[GraphEdge] = Field(default_factory=list)
    notes: list[StickyNote] = Field(default_factory=list, max_length=500, description="designer sticky notes")

    def node(self, node_id: str) -> GraphNode:
        return self._by_id[node_id]

    def incoming(self, node_id: str) -> list[GraphEdge]:
        return self._incoming.get(node_id, [])

    def outgoing(self, node_id: str) -> list[GraphEdge]:
        return self._outgoing.get(node_id, [])

    @cached_property
    def _by_id(self) -> dict[str, GraphNode]:
        return {node.id: node for node in self.nodes}

    @cached_property
    def _incoming(self) -> dict[str, list[GraphEdge]]:
        found: dict[str, list[GraphEdge]] = defaultdict(list)
        for edge in self.edges:
            found[edge.target].append(edge)
        return found

    @cached_property
    def _outgoing(self) -> dict[str, list[GraphEdge]]:
        found: dict[str, list[GraphEdge]] = defaultdict(list)
        for edge in self.edges:
            found[edge.source].append(edge)
        return found

    def trigger(self) -> GraphNode:
        return next(node for node in self.nodes if (kind := registry.get(node.type)) and kind.is_trigger)

    @cached_property
    def upstream(self) -> dict[str, set[str]]:
        """Every node's transitive upstream nodes (the graph must be acyclic)."""
        parents: dict[str, set[str]] = defaultdict(set)
        for edge in self.edges:
            parents[edge.target].add(edge.source)
        found: dict[str, set[str]] = {}

        def visit(node_id: str) -> set[str]:
            if node_id not in found:
                found[node_id] = set()
                for parent in parents[node_id]:
                    found[node_id] |= {parent} | visit(parent)
            return found[node_id]

        for node in self.nodes:
            visit(node.id)
        return found


@dataclass(frozen=True)
class Problem:
    path: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class GraphInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"the graph has {len(problems)} problem(s): " + "; ".join(p.message for p in problems[:3]))
        self.problems = problems


_run_graphs: OrderedDict[int, Graph] = OrderedDict()
RUN_GRAPHS_KEPT = 256
# The graphs of the runs of a published version, by version id: a run of a version carries that version's graph.
_pinned_graphs: OrderedDict[int, Graph] = OrderedDict()
PINNED_GRAPHS_KEPT = 64


Kept = TypeVar("Kept")


def _keep(cache: OrderedDict[int, Kept], key: int, value: Kept, kept: int) -> None:
    cache[key] = value
    if len(cache) > kept:
        cache.popitem(last=False)


def of_run(run_id: int, load: Callable[[], tuple[Any, int | None]]) -> Graph:
    """The parsed graph of a run. A run's graph never changes, so each process loads and parses it once.

    `load` gives the stored graph and the run's version id (None for a draft's run): the graph
    of a version's run is kept by version too, so the next runs of that version read none
    (see `of_pinned_run`).
    """
    graph = _run_graphs.get(run_id)
    if graph is None:
        data, version_id = load()
        graph = Graph.model_validate(data)
        _keep(_run_graphs, run_id, graph, RUN_GRAPHS_KEPT)
        if version_id is not None:
            _keep(_pinned_graphs, version_id, graph, PINNED_GRAPHS_KEPT)
    return graph


def of_pinned_run(run_id: int, version_id: int | None) -> None:
    """A claim read the run's version: if this process parsed a run of that version, the run's graph is known."""
    if version_id is None or run_id in _run_graphs:
        return
    graph = _pinned_graphs.get(version_id)
    if graph is not None:
        _keep(_run_graphs, run_id, graph, RUN_GRAPHS_KEPT)


# Each param string that may send secrets and names some: its path and the names.
SecretUses = tuple[tuple[str, frozenset[str]], ...]


@dataclass(frozen=True)
class _Version:
    """A published version's valid graph, and what each start checks again: the answers of its workspace."""

    graph: Graph
    secrets: SecretUses
    # The nodes whose kind checks params against the workspace (Node.workspace_problems), by index.
    checked: tuple[int, ...]


_version_graphs: OrderedDict[int, _Version] = OrderedDict()
VERSION_GRAPHS_KEPT = 256


def of_version(version_id: int, data: Any, workspace_id: int) -> Graph:
    """The valid Graph of a published version (`data`, or a function reading it), or GraphInvalid as `parse`
    raises it.

    A version never changes, so its graph is validated once per process and kept, and a function
    given as `data` is called only the first time: a trigger then does not read the version's
    graph again (docs/benchmarks.md, a 300-node graph is 135 kB of JSON to read). Each start
    then checks again only what depends on the workspace and may have changed since: that the
    secrets the graph reads still exist, and each node kind's workspace checks (an approval's
    assignees still reviewing members). Validating the reference workflow in full took about
    8 ms of CPU, most of it parsing its templates (docs/benchmarks.md).
    """
    version = _version_graphs.get(version_id)
    if version is None:
        graph = parse(data() if callable(data) else data, workspace_id=workspace_id)
        _keep(_version_graphs, version_id, _Version(graph, _secret_uses(graph), _checked(graph)), VERSION_GRAPHS_KEPT)
        return graph
    problems = [
        *_unknown_secrets(version.secrets, workspace_id),
        *_in_workspace(version.graph, workspace_id, version.checked),
    ]
    if problems:
        raise GraphInvalid(problems)
    return version.graph


def _secret_uses(graph: Graph) -> SecretUses:
    uses = []
    for i, node in enumerate(graph.nodes):
        for path, text, bare, may_use_secrets in _param_strings(node, i):
            used = expressions.referenced_secrets(text, expression=bare)
            if used and may_use_secrets:
                uses.append((path, frozenset(used)))
    return tuple(uses)


def _unknown_secrets(uses: SecretUses, workspace_id: int) -> Iterator[Problem]:
    names = workspace_secrets.names(workspace_id) if uses else set()
    for path, used in uses:
        yield from _missing(path, used, names)


def _missing(path: str, used: Iterable[str], names: set[str]) -> Iterator[Problem]:
    for name in sorted(set(used) - names):
        yield Problem(path, "unknown_secret", f"There is no secret {name} in this workspace")


def _checked(graph: Graph) -> tuple[int, ...]:
    """The nodes whose kind has workspace checks of its own (the base kind's find nothing)."""
    base = registry.Node.workspace_problems.__func__  # type: ignore[attr-defined]
    return tuple(
        i
        for i, node in enumerate(graph.nodes)
        if (kind := registry.get(node.type)) is not None and kind.workspace_problems.__func__ is not base  # type: ignore[attr-defined]
    )


def remember(run_id: int, graph: Graph) -> None:
    """Keep `graph`, already parsed, as the graph of a run this process has just created (child runs share one)."""
    _run_graphs[run_id] = graph
    if len(_run_graphs) > RUN_GRAPHS_KEPT:
        _run_graphs.popitem(last=False)


def json_schema() -> dict[str, Any]:
    return Graph.model_json_schema()


def parse(data: Any, *, workspace_id: int | None = None) -> Graph:
    """A valid Graph, or GraphInvalid listing every problem (with a workspace, Node.workspace_problems too)."""
    found = validate(data, workspace_id=workspace_id)
    if found:
        raise GraphInvalid(found)
    return Graph.model_validate(data)


def validate(data: Any, *, secret_names: set[str] | None = None, workspace_id: int | None = None) -> list[Problem]:
    """Every problem of the graph; with `secret_names` or `workspace_id`, secrets it lacks are problems too.

    With `workspace_id`, params naming what that workspace lacks (Node.workspace_problems), e.g. a
    non-member as an approval's assignee."""
    size = len(json.dumps(data, default=str))
    if size > MAX_GRAPH_BYTES:
        return [Problem("", "too_large", f"The graph is {size} bytes; the limit is {MAX_GRAPH_BYTES}")]
    try:
        graph = Graph.model_validate(data)
    except ValidationError as error:
        return [Problem(_dotted(e["loc"]), "schema", e["msg"]) for e in error.errors()]
    problems = list(_limits(graph))
    if problems:
        return problems
    if secret_names is None and workspace_id is not None:
        secret_names = workspace_secrets.names(workspace_id)
    problems += _nodes(graph, secret_names)
    problems += _edges(graph)
    problems += _triggers(graph)
    cyclic = _cycle_members(graph)
    problems += [
        Problem(f"nodes.{i}", "cycle", f"Node {n.id!r} is part of a cycle") for i, n in _indexed(graph, cyclic)
    ]
    if not cyclic:
        problems += _unreachable(graph)
        problems += _references(graph)
    if workspace_id is not None:
        problems += _in_workspace(graph, workspace_id, _checked(graph))
    return problems


def _in_workspace(graph: Graph, workspace_id: int, checked: Iterable[int]) -> Iterator[Problem]:
    for i in checked:
        node = graph.nodes[i]
        kind = registry.get(node.type)
        assert kind is not None  # _checked takes only known kinds
        for path, message in kind.workspace_problems(node.params, workspace_id):
            yield Problem(f"nodes.{i}.params.{path}", "not_in_workspace", message)


def _dotted(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _indexed(graph: Graph, ids: set[str]) -> Iterator[tuple[int, GraphNode]]:
    return ((i, node) for i, node in enumerate(graph.nodes) if node.id in ids)


def _limits(graph: Graph) -> Iterator[Problem]:
    if len(graph.nodes) > MAX_NODES:
        yield Problem("nodes", "too_many_nodes", f"{len(graph.nodes)} nodes; the limit is {MAX_NODES}")
    if len(graph.edges) > MAX_EDGES:
        yield Problem("edges", "too_many_edges", f"{len(graph.edges)} edges; the limit is {MAX_EDGES}")


def strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside `value` with its dotted path, for template checks."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{path}.{index}")


def _expression_strings(node: GraphNode, index: int) -> Iterator[tuple[str, str, bool]]:
    """(path, text, is_bare_expression) for every param string the engine will evaluate."""
    for path, text, bare, _ in _param_strings(node, index):
        yield path, text, bare


def _param_strings(node: GraphNode, index: int) -> Iterator[tuple[str, str, bool, bool]]:
    """(path, text, is_bare_expression, may_use_secrets) for every param string the engine will evaluate."""
    kind = registry.get(node.type)
    if kind is None:
        return
    for key, value in node.params.items():
        if key in kind.literal_params:
            continue
        for path, text in strings(value, f"nodes.{index}.params.{key}"):
            yield path, text, key in kind.expression_params, key in kind.secret_params


def _nodes(graph: Graph, secret_names: set[str] | None) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, node in enumerate(graph.nodes):
        if node.id in seen:
            yield Problem(f"nodes.{i}.id", "duplicate_id", f"Another node already has the id {node.id!r}")
        seen.add(node.id)
        kind = registry.get(node.type)
        if kind is None:
            yield Problem(f"nodes.{i}.type", "unknown_type", f"There is no node type {node.type!r}")
            continue
        try:
            kind.Params.model_validate(node.params)
        except ValidationError as error:
            for e in error.errors():
                yield Problem(f"nodes.{i}.params.{_dotted(e['loc'])}".rstrip("."), "bad_params", e["msg"])
        for path, text, bare, may_use_secrets in _param_strings(node, i):
            for message in expressions.problems(text, expression=bare, secrets=True):
                # Too deep to read is refused at save, like an oversized graph; other problems are unfinished work.
                yield Problem(path, "too_deep" if message == expressions.TOO_DEEP else "bad_expression", message)
            used = expressions.referenced_secrets(text, expression=bare)
            if used and not may_use_secrets:
                allowed = ", ".join(sorted(kind.secret_params)) or "none of this node's params"
                message = f"secrets.{min(used)} cannot be used here; secrets are allowed in {allowed}"
                yield Problem(path, "secret_not_allowed", message)
            elif secret_names is not None:
                yield from _missing(path, used, secret_names)


def _edges(graph: Graph) -> Iterator[Problem]:
    nodes = {node.id: node for node in graph.nodes}
    seen_ids: set[str] = set()
    seen_links: set[tuple[str, str, str, str]] = set()
    for j, edge in enumerate(graph.edges):
        if edge.id in seen_ids:
            yield Problem(f"edges.{j}.id", "duplicate_id", f"Another edge already has the id {edge.id!r}")
        seen_ids.add(edge.id)
        link = (edge.source, edge.source_handle, edge.target, edge.target_handle)
        if link in seen_links:
            yield Problem(f"edges.{j}", "duplicate_edge", "The same two handles are already connected")
        seen_links.add(link)
        for end, node_id in (("source", edge.source), ("target", edge.target)):
            if node_id not in nodes:
                yield Problem(f"edges.{j}.{end}", "dangling_edge", f"The edge's {end} {node_id!r} is not a node")
        source, target = nodes.get(edge.source), nodes.get(edge.target)
        source_kind = registry.get(source.type) if source else None
        if source and source_kind and edge.source_handle not in output_handles(source, source_kind):
            yield _unknown_output(j, edge, source, source_kind)
        target_kind = registry.get(target.type) if target else None
        if target and target_kind and edge.target_handle not in target_kind.inputs:
            yield Problem(
                f"edges.{j}.target_handle",
                "unknown_handle",
                f"{target.id!r} has no input {edge.target_handle!r}"
                + (" (a trigger takes no input)" if target_kind.is_trigger else ""),
            )


def _unknown_output(j: int, edge: GraphEdge, source: GraphNode, kind: type[registry.Node]) -> Problem:
    path = f"edges.{j}.source_handle"
    if edge.source_handle == registry.ERROR_HANDLE and not kind.is_trigger:
        # Refused rather than flagged: a run would never take this edge, so the branch behind it could not run.
        message = f"{source.id!r} fails the run when it fails: set its on failure to continue to use its 'error' output"
        return Problem(path, "error_handle_off", message)
    handles = ", ".join(output_handles(source, kind)) or "none"
    return Problem(path, "unknown_handle", f"{source.id!r} has no output {edge.source_handle!r} (it has: {handles})")


def _triggers(graph: Graph) -> Iterator[Problem]:
    triggers = [i for i, node in enumerate(graph.nodes) if (kind := registry.get(node.type)) and kind.is_trigger]
    if not triggers:
        yield Problem("nodes", "no_trigger", "The workflow needs one trigger node to start from")
    for i in triggers[1:]:
        yield Problem(f"nodes.{i}", "several_triggers", "A workflow has exactly one trigger; remove this one")


def _cycle_members(graph: Graph) -> set[str]:
    """Nodes left over by Kahn's algorithm: those on or behind a cycle."""
    ids = {node.id for node in graph.nodes}
    indegree = dict.fromkeys(ids, 0)
    children: dict[str, list[str]] = defaultdict(list)
    for edge in graph.edges:
        if edge.source in ids and edge.target in ids:
            indegree[edge.target] += 1
            children[edge.source].append(edge.target)
    queue = deque(node_id for node_id, degree in indegree.items() if degree == 0)
    while queue:
        node_id = queue.popleft()
        ids.discard(node_id)
        for child in children[node_id]:
            indegree[child] -= 1
            if indegree[child] == 0:
                queue.append(child)
    return ids


def _unreachable(graph: Graph) -> Iterator[Problem]:
    starts = [node.id for node in graph.nodes if (kind := registry.get(node.type)) and kind.is_trigger]
    if len(starts) != 1:
        return
    children: dict[str, list[str]] = defaultdict(list)
    for edge in graph.edges:
        children[edge.source].append(edge.target)
    reached, queue = set(starts), deque(starts)
    while queue:
        for child in children[queue.popleft()]:
            if child not in reached:
                reached.add(child)
                queue.append(child)
    for i, node in enumerate(graph.nodes):
        if node.id not in reached:
            yield Problem(f"nodes.{i}", "unreachable", f"Nothing connects the trigger to {node.id!r}")


def _references(graph: Graph) -> Iterator[Problem]:
    known = {node.id for node in graph.nodes}
    upstream = graph.upstream
    for i, node in enumerate(graph.nodes):
        for path, text, bare in _expression_strings(node, i):
            for ref in sorted(expressions.referenced_nodes(text, expression=bare)):
                if ref not in known:
                    yield Problem(path, "unknown_node_reference", f"There is no node {ref!r} to refer to")
                elif ref not in upstream.get(node.id, set()):
                    yield Problem(
                        path, "not_upstream", f"{ref!r} does not run before {node.id!r}, so its output is unknown here"
                    )
