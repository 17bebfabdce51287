"""Child runs: the runs that subworkflow and for_each nodes start, and what their ends do to their parent.

A node that calls workflows parks with a ChildPlan (engine/nodes/subworkflow.py, for_each.py).
The transaction that records the park opens a ChildRound and starts the first children
(`open_round`); a child of cheap nodes ends there already (engine/runs/child_inline.py).
Whatever ends a child run (its last node, a failure, a cancel), a tally
under the parent's lock counts it, starts the next items or, when the round is over, wakes the
parent node, which gathers the results (engine/runs/child_tally.py). A change of a parent
locks no unfinished child (a tally marks only ended ones), so cancelling children happens
after the parent's transaction, each child in its own.

Called workflows are resolved by the app that owns them (builder registers `resolve` with
`register_resolver`): the core imports no app.
"""

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, JSONField, OuterRef, Sum, Value

from accounts.models import Workspace
from engine import graph as graphs
from engine import metrics
from engine.dispatch import dispatch_after_commit
from engine.event_types import EventType
from engine.events import Change, change
from engine.flow import run_graph
from engine.models import (
    ENDED_RUN,
    ChildItem,
    ChildRound,
    ChildRoundState,
    NodeRun,
    NodeStatus,
    Run,
    RunEvent,
    RunStatus,
    TriggerKind,
)
from engine.runs import child_inline
from engine.runs.starting import Options, RunSource, first_nodes, start_run, trigger_done_at_start
from engine.sql.node_inputs import RunFacts
from engine.sql.script import Outcome, Statement, converted, run_script

SUBWORKFLOW, FOR_EACH = "subworkflow", "for_each"
CHILD_KINDS = frozenset({SUBWORKFLOW, FOR_EACH})
# A node kind whose workflow tools call workflows too (engine/agent/workflow_tool.py).
AGENT = "agent"
# The for_each node of a run started by start_for_each.
BATCH_NODE = "for_each"
ROUND_COUNTERS = ("running", "succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class CalledWorkflow:
    """A published version of a workflow, as a node calls it."""

    workflow_id: int
    workflow_name: str
    version_id: int | None
    version_number: int | None
    graph: dict[str, Any]


class CallRefused(Exception):
    """The workflow cannot be called; the message says why (archived, unpublished, not in this workspace…)."""


Resolver = Callable[[int, int, int | None], CalledWorkflow]
_resolvers: list[Resolver] = []


def register_resolver(resolver: Resolver) -> None:
    """Set the function giving (workspace id, workflow id, version number or None for the latest) → CalledWorkflow."""
    _resolvers[:] = [resolver]


def resolve(workspace_id: int, workflow_id: int, version: int | None) -> CalledWorkflow:
    """The called workflow, or CallRefused naming what is wrong with it."""
    if not _resolvers:
        raise CallRefused("No app resolves called workflows (is builder installed?)")
    return _resolvers[0](workspace_id, workflow_id, version)


@dataclass(frozen=True)
class Lineage:
    """A run's place in its tree: its depth, its tree's top, and the workflows from it up to the top."""

    depth: int
    root_run_id: int
    workflows: list[tuple[int | None, str]]


def lineage(run_id: int) -> Lineage:
    """Walk up from the run to the top of its tree (at most ENGINE_CHILD_MAX_DEPTH steps)."""
    chain: list[tuple[int | None, str]] = []
    current: int | None = run_id
    depth, root = 0, run_id
    while current is not None:
        workflow_id, name, parent_id, run_depth, root_id = Run.objects.values_list(
            "workflow_id", "workflow_name", "parent_run_id", "depth", "root_run_id"
        ).get(pk=current)
        if current == run_id:
            depth, root = run_depth, root_id or run_id
        chain.append((workflow_id, name))
        current = parent_id
    return Lineage(depth, root, chain)


def refusal(lineage: Lineage, called: CalledWorkflow) -> str | None:
    """Why this run may not call `called` (it is among the run's own workflows, or too deep), or None."""
    if any(workflow_id == called.workflow_id for workflow_id, _ in lineage.workflows):
        names = " → ".join(repr(name or f"workflow {wid}") for wid, name in reversed(lineage.workflows))
        return f"{names} would call {called.workflow_name!r} again: a workflow may not call itself"
    if lineage.depth + 1 > settings.ENGINE_CHILD_MAX_DEPTH:
        return f"child runs may be nested {settings.ENGINE_CHILD_MAX_DEPTH} deep at most; this one would be deeper"
    return None


def called_workflows(graph: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    """(path, params) of each call of a workflow in `graph`: a subworkflow or for_each node (path
    `nodes.N.params`), or an agent's workflow tool (`nodes.N.params.tools.M`); params hold `workflow_id`
    and `version`."""
    for index, node in enumerate(graph.get("nodes") or []):
        params = node.get("params") if isinstance(node, dict) else None
        if not isinstance(params, dict):
            continue
        if node.get("type") in CHILD_KINDS and isinstance(params.get("workflow_id"), int):
            yield f"nodes.{index}.params", params
        if node.get("type") == AGENT and isinstance(params.get("tools"), list):
            for number, tool in enumerate(params["tools"]):
                calls = isinstance(tool, dict) and tool.get("kind") == "workflow"
                if calls and isinstance(tool.get("workflow_id"), int):
                    yield f"nodes.{index}.params.tools.{number}", tool


def call_problems(workspace_id: int, workflow_id: int, name: str, graph: dict[str, Any]) -> list[graphs.Problem]:
    """Calls in `graph` (the draft of workflow `workflow_id`) that come back to it, or nest too deep.

    Each called workflow is followed through the version it would run (pinned, or the latest
    published); the problem is on the calling node's (or agent tool's) `workflow_id` and names the chain.
    """
    problems = []
    for where, params in called_workflows(graph):
        chain = _cycle(workspace_id, workflow_id, params, [name], set())
        if chain is not None:
            calls = " → ".join(repr(n) for n in chain)
            message = f"{calls}: a workflow may not call itself, directly or through others"
            problems.append(graphs.Problem(f"{where}.workflow_id", "recursive_call", message))
    return problems


def _cycle(
    workspace_id: int, target: int, params: dict[str, Any], names: list[str], seen: set[int]
) -> list[str] | None:
    """The chain of names from the draft to `target` again through `params`' call, if there is one."""
    if params["workflow_id"] == target:
        return [*names, names[0]]
    try:
        called = resolve(workspace_id, params["workflow_id"], params.get("version"))
    except CallRefused:
        return None  # reported as the node's own problem (workspace_problems)
    chain = [*names, called.workflow_name]
    if called.workflow_id in seen or len(chain) > settings.ENGINE_CHILD_MAX_DEPTH + 2:
        return None
    seen.add(called.workflow_id)
    for _, inner in called_workflows(called.graph):
        if (found := _cycle(workspace_id, target, inner, chain, seen)) is not None:
            return found
    return None


@dataclass(frozen=True)
class ChildPlan:
    """What a parking subworkflow or for_each node asks engine/runs/ to start: a workflow, an input per item."""

    kind: str
    called: CalledWorkflow
    inputs: list[Any]
    max_concurrency: int = 10
    stop_on_failure: bool = True
    # Carry items whose child succeeded in an earlier round of the node (a retry re-runs only
    # what failed). An agent's rounds are separate calls that share the node: none carries.
    carry: bool = True


@dataclass
class RoundRow:
    """A round's fields that counting and starting children need (an item's input is read when it starts)."""

    pk: int
    node_id: str
    number: int
    workflow_id: int
    workflow_name: str
    version_id: int | None
    version_number: int | None
    is_test: bool
    purpose: str
    created_by_id: int | None
    child_depth: int
    root_run_id: int
    total: int
    carried: int
    started: int
    max_concurrency: int
    stop_on_failure: bool
    state: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def to_start(self) -> int:
        return self.total - self.carried - self.started


# The round's columns a RoundRow holds (its counters apart).
ROUND_FIELDS = tuple(f for f in RoundRow.__dataclass_fields__ if f not in ("pk", "counts"))


def round_read(run_id: int, node_id: str | None = None, number: int | None = None) -> Statement:
    """The fields and counters of the run's round `number` of `node_id`, or of every round of the run."""
    columns = ", ".join(("id", *ROUND_FIELDS, *ROUND_COUNTERS))
    sql = f"SELECT {columns} FROM engine_childround WHERE run_id = %(run_id)s"  # noqa: S608  (names of ROUND_FIELDS)
    if node_id is None:
        return sql, {"run_id": run_id}
    return f"{sql} AND node_id = %(node_id)s AND number = %(number)s", {
        "run_id": run_id,
        "node_id": node_id,
        "number": number,
    }


def rounds_of(outcome: Outcome) -> list[RoundRow]:
    """The _Rounds that `round_read` read."""
    found = []
    for row in outcome.rows:
        fields = converted(ChildRound, ("id", *ROUND_FIELDS, *ROUND_COUNTERS), row)
        counts = {name: fields.pop(name) for name in ROUND_COUNTERS}
        found.append(RoundRow(pk=fields.pop("id"), **fields, counts=counts))
    return found


def next_items(info: RoundRow, count: int) -> list[tuple[int, Any]]:
    """(index, input) of the round's next `count` items to start, in their order."""
    rows = ChildItem.objects.filter(round_id=info.pk, position__gte=info.started).order_by("position")
    return list(rows.values_list("index", "input")[:count])


def pinned_call(run_id: int, workflow_id: int) -> CalledWorkflow | None:
    """What the run's for_each calls in place of `workflow_id`'s published versions (Options.called_graph, set
    by the code that started it: an eval run of a draft), if anything."""
    pinned = Run.objects.values_list("called_graph", flat=True).get(pk=run_id)
    if not isinstance(pinned, dict) or pinned.get("workflow_id") != workflow_id:
        return None
    return CalledWorkflow(workflow_id, pinned["workflow_name"], None, None, pinned["graph"])


@functools.lru_cache(maxsize=64)
def _round_graph(round_pk: int) -> tuple[graphs.Graph, dict[str, Any]]:
    """A round's called graph, parsed and as stored; it never changes, so read once per process."""
    stored = ChildRound.objects.values_list("graph", flat=True).get(pk=round_pk)
    return graphs.Graph.model_validate(stored), stored


def open_round(step: Change, node_id: str, plan: ChildPlan) -> None:
    """Under the parent's lock, as its node parks: open the node's next round and start its first children.

    Items whose latest child in an earlier round succeeded with the same input are carried
    over rather than run again (a retry re-runs only what failed).
    """
    run_id = step.run.pk
    earlier = ChildRound.objects.filter(run_id=run_id, node_id=node_id).order_by("-number")
    number = (earlier.values_list("number", flat=True).first() or 0) + 1
    carried = _carried(run_id, node_id, plan.inputs) if number > 1 and plan.carry else set()
    todo = [index for index in range(len(plan.inputs)) if index not in carried]
    parent = Run.objects.values("is_test", "purpose", "created_by_id", "depth", "root_run_id").get(pk=run_id)
    called = plan.called
    created = ChildRound.objects.create(
        run_id=run_id,
        node_id=node_id,
        number=number,
        kind=plan.kind,
        workflow_id=called.workflow_id,
        workflow_name=called.workflow_name,
        version_id=called.version_id,
        version_number=called.version_number,
        graph=called.graph,
        total=len(plan.inputs),
        carried=len(carried),
        max_concurrency=plan.max_concurrency,
        stop_on_failure=plan.stop_on_failure,
        is_test=parent["is_test"],
        purpose=parent["purpose"],
        created_by_id=parent["created_by_id"],
        child_depth=parent["depth"] + 1,
        root_run_id=parent["root_run_id"] or run_id,
    )
    step.event(
        EventType.CHILDREN_OPENED,
        node_id,
        round=number,
        total=len(plan.inputs),
        carried=len(carried),
        workflow_id=called.workflow_id,
        version=called.version_number,
    )
    ChildItem.objects.bulk_create(
        (
            ChildItem(round=created, position=position, index=index, input=plan.inputs[index])
            for position, index in enumerate(todo)
        ),
        batch_size=2000,
    )
    [info] = rounds_of(run_script([round_read(run_id, node_id, number)])[0])
    first = todo[: plan.max_concurrency]
    if first:
        if start_items(step, info, [(index, plan.inputs[index]) for index in first]):
            from engine.runs.child_tally import tally  # it imports this module

            # Robust: a tally that fails after this commit is the reaper's (count_lost), as for any child's end.
            transaction.on_commit(functools.partial(tally, run_id), robust=True)
        ChildRound.objects.filter(pk=created.pk).update(started=len(first), running=len(first))
    else:
        close_round(step, info, {}, error=None)


def _carried(run_id: int, node_id: str, inputs: list[Any]) -> set[int]:
    """Items whose latest child (of an earlier round) succeeded with the input the item has now."""
    latest: dict[int, tuple[str, Any]] = {}
    rows = (
        Run.objects.filter(parent_run_id=run_id, parent_node_id=node_id)
        .order_by("item_index", "parent_attempt")
        .values_list("item_index", "status", "input")
    )
    for index, status, value in rows:
        latest[int(index or 0)] = (status, value)
    return {
        index
        for index, (status, value) in latest.items()
        if status == RunStatus.SUCCEEDED and index < len(inputs) and inputs[index] == value
    }


@dataclass
class _Child:
    """A child run to insert, with its nodes and first events; `ready` are the node ids to send once committed."""

    run: Run
    nodes: list[NodeRun]
    events: list[RunEvent]
    ready: list[str]


def _child(parent: Change, info: RoundRow, index: int, value: Any) -> _Child:
    """The rows of the child run of item `index` with input `value`: its trigger done, or ready to run."""
    graph, stored = _round_graph(info.pk)
    now = parent.now
    run = Run(
        workspace_id=parent.run.workspace_id,
        workflow_id=info.workflow_id,
        workflow_name=info.workflow_name,
        version_id=info.version_id,
        version_number=info.version_number,
        graph=stored,
        input=value,
        trigger_kind=TriggerKind.PARENT,
        is_test=info.is_test,
        purpose=info.purpose,
        created_by_id=info.created_by_id,
        parent_run_id=parent.run.pk,
        parent_node_id=info.node_id,
        parent_attempt=info.number,
        item_index=index,
        depth=info.child_depth,
        root_run_id=info.root_run_id,
        counted=False,
    )
    queued = {"trigger": TriggerKind.PARENT, "version": info.version_number, "parent": parent.run.pk}
    first = first_nodes(graph, value, now)
    events = [RunEvent(type=EventType.RUN_QUEUED, payload=queued)]
    if first.trigger_done:
        # A child's run shows running from its start: it is a part of its parent's running node.
        run.status, run.started_at = RunStatus.RUNNING, now
        events.append(RunEvent(type=EventType.RUN_RUNNING))
    events += first.events
    for seq, event in enumerate(events, start=1):
        event.seq = seq
    run.last_seq = len(events)
    return _Child(run, first.nodes, events, first.ready)


def start_items(step: Change, info: RoundRow, items: list[tuple[int, Any]]) -> bool:
    """Insert the children of `items` ((index, input)) with their nodes and first events, in one batch per table.

    Each child's ready nodes are sent after the parent's transaction commits, unless the child
    ended at its start (engine/runs/child_inline.py). True when one did: a tally after this
    commit must count it.
    """
    made = [_child(step, info, index, value) for index, value in items]
    graph = _round_graph(info.pk)[0]
    ended = _end_at_start(step, info, graph, made)
    children = Run.objects.bulk_create(child.run for child in made)
    for child, run in zip(made, children, strict=True):
        graphs.remember(run.pk, graph)
        for node in child.nodes:
            node.run = run
        for event in child.events:
            event.run = run
    nodes = NodeRun.objects.bulk_create(node for child in made for node in child.nodes)
    RunEvent.objects.bulk_create(event for child in made for event in child.events)
    ready = {(child.run.pk, node_id) for child in made for node_id in child.ready}
    # Sent after the commit, but not through step.ready: that holds this run's nodes (ClaimNext takes from it).
    dispatch_after_commit([node.pk for node in nodes if (node.run_id, node.node_id) in ready], [])
    for (index, _), child in zip(items, made, strict=True):
        step.event(EventType.CHILD_STARTED, info.node_id, index=index, run_id=child.run.pk, round=info.number)
    return ended


def _end_at_start(step: Change, info: RoundRow, graph: graphs.Graph, made: list[_Child]) -> bool:
    """Run each child's chain of cheap nodes now, if it has one (child_inline); True if a child ended so."""
    begun = trigger_done_at_start(graph)
    order = child_inline.chain(graph, begun) if begun is not None and child_inline.enabled() else None
    if order is None or not made:
        return False
    # The runs' ids drawn first: a node runs with its run's id (its logs, its span).
    sql = "SELECT nextval(pg_get_serial_sequence('engine_run', 'id')) FROM generate_series(1, %(n)s)"
    ids = [row[0] for row in run_script([(sql, {"n": len(made)})])[0].rows]
    allowlist = Workspace.objects.values_list("http_allowlist", flat=True).get(pk=step.run.workspace_id)
    ended = False
    for child, pk in zip(made, ids, strict=True):
        child.run.pk = pk
        graphs.remember(pk, graph)
        run = child.run
        facts = RunFacts(
            run.input, run.workspace_id, run.created_by_id, run.workflow_id, run.version_number, allowlist, run.purpose
        )
        events = child_inline.finish(graph, order, run, child.nodes, facts, step.now)
        if events is None:
            continue
        for seq, event in enumerate(events, start=run.last_seq + 1):
            event.seq = seq
        child.events += events
        child.run.last_seq += len(events)
        child.ready = []
        ended = True
        transaction.on_commit(functools.partial(metrics.count_events, run.workflow_id, events))
    return ended


def close_round(step: Change, info: RoundRow, values: dict[str, Any], error: dict[str, Any] | None) -> None:
    """End the round (every item ended, or it stopped early) and wake its node to gather the results.

    A node that parked with several rounds (an agent's workflow tool calls of one turn) is woken
    by the last of them to close.
    """
    values |= {"state": ChildRoundState.CLOSED, "closed_at": step.now, "error": error}
    ChildRound.objects.filter(pk=info.pk).update(**values)
    rounds = ChildRound.objects.filter(run_id=step.run.pk, node_id=info.node_id)
    if rounds.filter(state=ChildRoundState.OPEN).exclude(pk=info.pk).exists():
        return
    waiting = NodeRun.objects.filter(run_id=step.run.pk, node_id=info.node_id, status=NodeStatus.WAITING)
    node_run_id = waiting.values_list("pk", flat=True).first()
    if node_run_id is None:
        return  # the node was cancelled meanwhile: nothing waits for these results
    NodeRun.objects.filter(pk=node_run_id, status=NodeStatus.WAITING).update(
        wake_at=step.now, resume={"round": info.number}, dispatched_at=step.now
    )
    dispatch_after_commit([node_run_id], [])
    step.event(EventType.NODE_RESUMED, info.node_id, round=info.number)


def abandon_children(step: Change) -> None:
    """The run ends: its open rounds are spent (nothing gathers them) and its unfinished children cancelled."""
    run_id = step.run.pk
    ChildRound.objects.filter(run_id=run_id, state=ChildRoundState.OPEN).update(
        state=ChildRoundState.SPENT, closed_at=step.now
    )
    unfinished = Run.objects.filter(parent_run_id=run_id).exclude(status__in=ENDED_RUN)
    cancel_after_commit(list(unfinished.values_list("pk", flat=True)))


def cancel_after_commit(run_ids: list[int]) -> None:
    """Cancel these child runs once the parent's transaction commits, each in its own (locks go child, then parent).

    Robust: a cancel that fails is logged and left to the reaper (`orphans`), not raised to whoever committed.
    """
    if run_ids:
        transaction.on_commit(functools.partial(cancel_children, run_ids), robust=True)


def cancel_children(run_ids: list[int]) -> None:
    from engine.runs.control import cancel_run

    for run_id in run_ids:
        cancel_run(Run(pk=run_id))


def orphans(limit: int) -> list[int]:
    """Unfinished child runs whose round no longer waits for them (their cancel, due after a commit, was lost)."""
    waiting = ChildRound.objects.filter(
        run_id=OuterRef("parent_run_id"),
        node_id=OuterRef("parent_node_id"),
        number=OuterRef("parent_attempt"),
        state=ChildRoundState.OPEN,
    )
    unfinished = Run.objects.filter(parent_run__isnull=False).exclude(status__in=ENDED_RUN)
    return list(unfinished.exclude(Exists(waiting)).values_list("pk", flat=True)[:limit])


def spend(round_pk: int) -> None:
    """The node gathered a failed round: its next execution opens a new one."""
    ChildRound.objects.filter(pk=round_pk).update(state=ChildRoundState.SPENT)


def latest_round(run_id: int, node_id: str) -> ChildRound | None:
    """The node's latest round, without its graph."""
    rounds = ChildRound.objects.filter(run_id=run_id, node_id=node_id).defer("graph")
    return rounds.order_by("-number").first()


@dataclass(frozen=True)
class ItemRun:
    """The latest child run of one item."""

    index: int
    run_id: int
    round: int
    status: str
    output: Any
    error: str
    cost: Decimal
    started_at: Any
    finished_at: Any

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return float((self.finished_at - self.started_at).total_seconds())


def item_runs(run_id: int, node_id: str, up_to: ChildRound | None = None, *, outputs: bool = True) -> list[ItemRun]:
    """The latest child run of each item of the node's latest round (or of `up_to`), in item order.

    Without `outputs`, each ItemRun's output is None (a page listing thousands need not read them).
    """
    last = up_to or latest_round(run_id, node_id)
    if last is None:
        return []
    rows = (
        Run.objects.filter(parent_run_id=run_id, parent_node_id=node_id, parent_attempt__lte=last.number)
        .filter(item_index__lt=last.total)
        .order_by("item_index", "parent_attempt")
    )
    if not outputs:
        rows = rows.annotate(no_output=Value(None, output_field=JSONField()))
    output = "output" if outputs else "no_output"
    fields = ("item_index", "pk", "parent_attempt", "status", output, "error", "cost", "started_at", "finished_at")
    latest: dict[int, ItemRun] = {}
    for row in rows.values_list(*fields):
        latest[row[0]] = ItemRun(*row)
    return [latest[index] for index in sorted(latest)]


@dataclass(frozen=True)
class Progress:
    """A node's latest round: its items by outcome (carried ones count as succeeded) and its child runs' cost."""

    round: int
    state: str
    total: int
    started: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    cost: Decimal


def progress(run_id: int, node_id: str = BATCH_NODE) -> Progress | None:
    """How far the node's latest round is; `cost` sums every child run of the node so far (every round)."""
    last = latest_round(run_id, node_id)
    if last is None:
        return None
    spent = Run.objects.filter(parent_run_id=run_id, parent_node_id=node_id).aggregate(total=Sum("cost"))["total"]
    return Progress(
        round=last.number,
        state=last.state,
        total=last.total,
        started=last.started + last.carried,
        running=last.running,
        succeeded=last.succeeded + last.carried,
        failed=last.failed,
        cancelled=last.cancelled,
        cost=spent or Decimal(0),
    )


def for_each_graph(
    workflow_id: int,
    version: int | None,
    *,
    input_template: Any = "{{ item }}",
    max_concurrency: int = 10,
    on_item_failure: str = "continue",
    timeout_s: float = 3600,
) -> dict[str, Any]:
    """A graph of a trigger taking `items` and one for_each node (BATCH_NODE) calling the workflow over them."""
    trigger = {
        "id": "start",
        "type": "trigger",
        "params": {"input_schema": {"type": "object", "properties": {"items": {"type": "array"}}}},
    }
    params = {
        "workflow_id": workflow_id,
        "version": version,
        "items": "input.items",
        "input": input_template,
        "max_concurrency": max_concurrency,
        "on_item_failure": on_item_failure,
    }
    loop = {"id": BATCH_NODE, "type": FOR_EACH, "params": params, "timeout_s": timeout_s}
    return {
        "schema_version": 1,
        "nodes": [trigger, loop],
        "edges": [{"id": "start-out-for_each", "source": "start", "target": BATCH_NODE}],
    }


def start_for_each(
    workspace_id: int,
    workflow_id: int,
    version: int | None,
    items: list[Any],
    options: Options,
    *,
    input_template: Any = "{{ item }}",
    max_concurrency: int = 10,
    on_item_failure: str = "continue",
    name: str = "",
) -> Run:
    """A top-level run of `for_each_graph` over `items`; RunRejected if it cannot start.

    The called workflow is checked when the run starts (RunRejected naming it) and the items'
    inputs when the node starts (the node fails, naming the item).
    """
    graph = for_each_graph(
        workflow_id,
        version,
        input_template=input_template,
        max_concurrency=max_concurrency,
        on_item_failure=on_item_failure,
    )
    source = RunSource(workspace_id=workspace_id, graph=graph, workflow_name=name)
    return start_run(source, {"items": items}, options)


def retry_failed_items(run: Run, node_id: str = BATCH_NODE, by: User | None = None) -> bool:
    """Run the failed and cancelled items of an ended run's node again, keeping the items that succeeded.

    The node and every node after it run again; its next round carries the succeeded items.
    False when the run has not ended or the node's latest round has no failed item.
    """
    with change(run.pk) as step:
        if step.run.status not in ENDED_RUN:
            return False
        last = latest_round(run.pk, node_id)
        if last is None or all(item.status == RunStatus.SUCCEEDED for item in item_runs(run.pk, node_id, last)):
            return False
        spend(last.pk)
        graph = run_graph(run.pk)
        after = [n.id for n in graph.nodes if node_id in graph.upstream.get(n.id, set())]
        reopened = NodeRun.objects.filter(run=step.run, node_id__in=after)
        reopened.update(status=NodeStatus.PENDING, wake_at=None, finished_at=None, output=None, error=None)
        node_run = NodeRun.objects.get(run=step.run, node_id=node_id)
        NodeRun.objects.filter(pk=node_run.pk).update(
            status=NodeStatus.PENDING,
            attempt=0,
            wake_at=step.now,
            dispatched_at=step.now,
            error=None,
            output=None,
            resume=None,
            lease_owner="",
            finished_at=None,
        )
        step.set_run(status=RunStatus.RUNNING, finished_at=None, error="")
        step.event(EventType.RUN_RETRIED, by=by.get_username() if by else "", items_of=node_id)
        step.event(EventType.NODE_QUEUED, node_id, retry_of_round=last.number)
        step.ready.append(node_run.pk)
    return True
