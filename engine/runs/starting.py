"""Starting a run: from a version or a draft, again with the same input, or reusing an earlier run's results."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import jsonschema
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from engine import graph as graphs
from engine import metrics, spans
from engine.dispatch import dispatch_after_commit
from engine.event_types import EventType, node_event
from engine.events import change
from engine.models import NodeRun, NodeStatus, Run, RunEvent, RunPurpose, TriggerKind
from engine.runs.progress import progress
from engine.sql import new_runs

# The fields a node of a partial run copies from the earlier run whose result it reuses.
REUSED_FIELDS = ("status", "attempt", "input", "output", "handle", "usage", "started_at", "finished_at")


@dataclass(frozen=True)
class RunSource:
    """Where a run's graph comes from: a published version, or a draft for a test run.

    A version's graph may be given as a function that reads it: it is called only if this
    process has not validated that version yet (graphs.of_version)."""

    workspace_id: int
    graph: dict[str, Any] | Callable[[], dict[str, Any]]
    workflow_id: int | None = None
    workflow_name: str = ""
    version_id: int | None = None
    version_number: int | None = None
    callback_urls: tuple[str, ...] = ()


class RunRejected(Exception):
    """The run cannot start; `problems` say why, each with a path."""

    def __init__(self, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass
class Options:
    trigger_kind: str = TriggerKind.MANUAL
    created_by: User | None = None
    is_test: bool = False
    idempotency_key: str = ""
    purpose: str = RunPurpose.WORK
    # {workflow_id, workflow_name, graph}: what a for_each node of the run calls instead of that workflow's
    # published versions (an eval run of a draft; children.pinned_call). Set by code, never from input.
    called_graph: dict[str, Any] | None = None


def start_run(source: RunSource, input: Any, options: Options | None = None) -> Run:
    """Validate the graph and the input against the trigger's schema, store the run, queue its first nodes.

    With an idempotency key, a second start with the same key returns the first run unchanged.
    """
    options = options or Options()
    if options.idempotency_key and (earlier := _same_key(source, options.idempotency_key)) is not None:
        return earlier
    try:
        graph = _graph(source)
    except graphs.GraphInvalid as invalid:
        raise RunRejected("The workflow graph is invalid", [p.as_dict() for p in invalid.problems]) from None
    trigger = graph.trigger()
    schema = trigger.params.get("input_schema") or {"type": "object"}
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(input), key=lambda e: list(e.path))
    if errors:
        problems = [
            {"path": ".".join(["input", *map(str, e.path)]), "code": "bad_input", "message": e.message} for e in errors
        ]
        raise RunRejected("The input does not match the trigger's schema", problems)
    new = _new_run(source, graph, input, options)
    try:
        new_runs.insert([new])
    except IntegrityError:
        # A concurrent start with the same idempotency key won the insert.
        earlier = _same_key(source, options.idempotency_key)
        if earlier is None:
            raise
        return earlier
    run, ready = new.run, [node.pk for node in new.nodes if node.wake_at is not None]
    graphs.remember(run.pk, graph)
    dispatch_after_commit(ready, [])
    events = new.events
    # No prompt to the run's viewers: there can be none before its id is given out, after this
    # commit; a viewer, a waiting call or a stream reads the run's events from the database first.
    transaction.on_commit(lambda: metrics.count_events(run.workflow_id, events))
    _keep_nodes(run, new.nodes)
    return run


def _keep_nodes(run: Run, nodes: list[NodeRun]) -> None:
    """`run.node_runs.all()` gives `nodes` without a query, as after prefetch_related("node_runs").

    The answer to a start is what it wrote (the run stays queued until a worker claims its
    first node), not a read-back: the API's run_out reads the nodes through this relation.
    """
    written = NodeRun.objects.filter(run=run)
    written._result_cache, written._prefetch_done = nodes, True  # type: ignore[attr-defined]
    run._prefetched_objects_cache = {"node_runs": written}  # type: ignore[attr-defined]


def _new_run(source: RunSource, graph: graphs.Graph, input: Any, options: Options) -> new_runs.NewRun:
    """The run's rows as one start stores them: queued (until a worker claims its first node), its first events."""
    run = _run(source, graph, input, options)
    first = first_nodes(graph, input, timezone.now())
    # The trace of the request that started it, for the run page's link (docs/observability.md).
    traced = {"trace_id": trace_id} if (trace_id := spans.trace_id()) else {}
    queued = {"trigger": options.trigger_kind, "version": source.version_number, **traced}
    events = [RunEvent(type=EventType.RUN_QUEUED, payload=queued), *first.events]
    for seq, event in enumerate(events, start=1):
        event.seq = seq
    run.last_seq = len(events)
    return new_runs.NewRun(run, first.nodes, events)


class FirstNodes(NamedTuple):
    """A new run's node rows, and the events of its nodes as its start leaves them (see `first_nodes`)."""

    nodes: list[NodeRun]
    events: list[RunEvent]
    ready: list[str]  # the node ids to send once the start has committed
    trigger_done: bool


def first_nodes(graph: graphs.Graph, input: Any, now: datetime) -> FirstNodes:
    """The node rows of a run of `graph` starting at `now` with `input`: its trigger recorded done, with the input as
    its output and `node.succeeded`, and the nodes after it ready with `node.queued` (`trigger_done_at_start`); or,
    for a graph that is its trigger alone, the trigger ready."""
    trigger = graph.trigger()
    begun = trigger_done_at_start(graph)
    ready = [trigger.id] if begun is None else begun
    due = set(ready)
    nodes = []
    for node in graph.nodes:
        node_run = NodeRun(node_id=node.id, node_type=node.type, max_attempts=node.retry.max_attempts)
        if node.id in due:
            node_run.wake_at = node_run.dispatched_at = now
        elif node.id == trigger.id:
            node_run.status, node_run.attempt, node_run.output = NodeStatus.SUCCEEDED, 1, input
            node_run.started_at = node_run.finished_at = now
        nodes.append(node_run)
    succeeded = RunEvent(type=EventType.NODE_SUCCEEDED, node_id=trigger.id, payload={"handle": "", "cache_hit": False})
    done = [] if begun is None else [succeeded]
    queued = [RunEvent(type=EventType.NODE_QUEUED, node_id=node_id) for node_id in ready]
    return FirstNodes(nodes, done + queued, ready, begun is not None)


def trigger_done_at_start(graph: graphs.Graph) -> list[str] | None:
    """The nodes made ready when a run's trigger is recorded done at its start, or None to run the trigger.

    A run's input is checked against the trigger's schema before it is stored, a trigger's
    output is its input, and a trigger never fails (it has no error output): running it would
    cost a message, a claim and an outcome per run for nothing (a quarter of a worker's
    instructions per 3-node run, docs/benchmarks.md). The trigger runs as usual when it is the
    graph's only node: its run would end before a worker saw it.
    """
    trigger = graph.trigger()
    targets = dict.fromkeys(edge.target for edge in graph.outgoing(trigger.id))
    return [node_id for node_id in targets if all(e.source == trigger.id for e in graph.incoming(node_id))] or None


def _graph(source: RunSource) -> graphs.Graph:
    if source.version_id is not None:
        return graphs.of_version(source.version_id, source.graph, source.workspace_id)
    data = source.graph() if callable(source.graph) else source.graph
    return graphs.parse(data, workspace_id=source.workspace_id)


def _same_key(source: RunSource, key: str) -> Run | None:
    return Run.objects.filter(
        workspace_id=source.workspace_id, workflow_id=source.workflow_id, idempotency_key=key
    ).first()


def create(source: RunSource, graph: graphs.Graph, input: Any, options: Options) -> Run:
    """The run's row and a pending row per node; callers wrap it in a transaction. Nothing is queued yet."""
    return _insert(source, graph, input, options)[0]


def _insert(source: RunSource, graph: graphs.Graph, input: Any, options: Options) -> tuple[Run, list[NodeRun]]:
    run = _run(source, graph, input, options)
    run.save(force_insert=True)
    nodes = NodeRun.objects.bulk_create(
        NodeRun(run=run, node_id=node.id, node_type=node.type, max_attempts=node.retry.max_attempts)
        for node in graph.nodes
    )
    return run, nodes


def _run(source: RunSource, graph: graphs.Graph, input: Any, options: Options) -> Run:
    return Run(
        workspace_id=source.workspace_id,
        workflow_id=source.workflow_id,
        workflow_name=source.workflow_name,
        version_id=source.version_id,
        version_number=source.version_number,
        graph=graph.model_dump(mode="json"),
        input=input,
        trigger_kind=options.trigger_kind,
        is_test=options.is_test,
        purpose=options.purpose,
        called_graph=options.called_graph,
        created_by=options.created_by,
        idempotency_key=options.idempotency_key,
        callback_urls=list(dict.fromkeys(source.callback_urls)),
    )


def rerun(run: Run, options: Options) -> Run:
    """A new run with the same input on the same graph (and so the same pinned version)."""
    source = RunSource(
        workspace_id=run.workspace_id,
        graph=run.graph,
        workflow_id=run.workflow_id,
        workflow_name=run.workflow_name,
        version_id=run.version_id,
        version_number=run.version_number,
        callback_urls=tuple(run.callback_urls),
    )
    options.is_test, options.purpose, options.called_graph = run.is_test, run.purpose, run.called_graph
    return start_run(source, run.input, options)


def start_reusing(
    source: RunSource,
    graph: graphs.Graph,
    previous: Run,
    earlier: Mapping[str, NodeRun],
    rerun: set[str],
    options: Options,
    from_node: str,
) -> Run:
    """A new run of `graph` whose nodes outside `rerun` keep the result they had in `previous` (`earlier`).

    `earlier` holds `previous`'s node runs by node id; a node outside `rerun` with none there
    is skipped (engine.partial_runs, which decides all this, checks that none of those is
    needed). The reused nodes are recorded as they ended, then what follows them is queued.
    """
    with transaction.atomic():
        run = create(source, graph, previous.input, options)
        reused = []
        for node_run in NodeRun.objects.filter(run=run).exclude(node_id__in=rerun):
            old = earlier.get(node_run.node_id)
            if old is None:
                node_run.status = NodeStatus.SKIPPED
            else:
                for name in REUSED_FIELDS:
                    setattr(node_run, name, getattr(old, name))
                node_run.cache_hit = True
            reused.append(node_run)
        NodeRun.objects.bulk_update(reused, [*REUSED_FIELDS, "cache_hit"])
    with change(run.pk) as step:
        step.event(
            EventType.RUN_QUEUED, trigger=options.trigger_kind, version=source.version_number, from_node=from_node
        )
        for node_run in reused:
            step.event(node_event(node_run.status), node_run.node_id, reused_from=previous.pk, handle=node_run.handle)
        progress(step, [n.node_id for n in reused])
    run.refresh_from_db()
    return run
