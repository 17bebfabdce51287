"""Child runs that end at their start: a chain of cheap nodes run in the transaction that starts the child.

A for_each item whose called workflow is its trigger followed by a chain of cheap nodes
(Node.runs_inline: no network, nothing read, returns at once) would otherwise cost, per item,
a Celery message, a claim, a transaction recording the node and the run's end, and a
tally. Here those nodes run while the child's rows are built, in the parent's transaction
(engine.runs.children.start_items), and the child is inserted as it would have ended:
succeeded, every node recorded, uncounted. The tally after that commit counts it as it counts
any ended child (engine/runs/child_tally.py), and a crash before then is the reaper's
(`count_lost`), so an item still ends exactly once.

Only PostgreSQL does this (on SQLite a child is counted in its own ending transaction), and
only in a process whose runner registered how to run a node (`register`: the worker's).
Anything out of the ordinary (a node that is not cheap with its rendered params, raises,
parks, branches away, reports usage or escalates; a graph that is not a chain) leaves the
child as before: its first node queued, to run through Celery. Nothing is lost by trying,
since a cheap node has no side effect.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection

from engine import graph as graphs
from engine import registry
from engine.event_types import EventType
from engine.models import NodeRun, NodeStatus, Run, RunEvent, RunStatus
from engine.registry import ERROR_HANDLE
from engine.runs.claims import Ran
from engine.sql.node_inputs import Inputs, RunFacts

# (run id, node id, what the node reads) → its result and rendered params, or None when it did not run
# here (not cheap, or its params or code raised).
Runner = Callable[[int, str, Inputs], Ran | None]
_runners: list[Runner] = []


def register(runner: Runner) -> None:
    """Set how a cheap node is run here (engine.runner.run_cheap); without one, no child ends at its start."""
    _runners[:] = [runner]


def enabled() -> bool:
    return bool(_runners) and connection.vendor == "postgresql"


def chain(graph: graphs.Graph, begun: list[str]) -> list[str] | None:
    """The nodes after the trigger, in order, when they are one chain through every node of the graph, or None."""
    if len(begun) != 1 or not all(_may_run_inline(node.type) for node in graph.nodes):
        return None
    order = [begun[0]]
    while edges := graph.outgoing(order[-1]):
        if len(edges) != 1 or edges[0].source_handle == ERROR_HANDLE:
            return None
        following = edges[0].target
        if len(graph.incoming(following)) != 1 or following in order:
            return None
        order.append(following)
    return order if len(order) == len(graph.nodes) - 1 else None


def _may_run_inline(kind_name: str) -> bool:
    """Whether a node of this kind can be cheap with some params (it overrides Node.runs_inline): the others
    are not rendered for nothing at every start."""
    kind = registry.get(kind_name)
    return kind is not None and kind.runs_inline.__func__ is not registry.Node.runs_inline.__func__  # type: ignore[attr-defined]


def finish(
    graph: graphs.Graph, order: list[str], run: Run, nodes: list[NodeRun], facts: RunFacts, now: datetime
) -> list[RunEvent] | None:
    """Run `order`'s nodes for the child `run` (its id drawn, its trigger done); on success record them on
    `nodes` and `run` as ended and give the events that follow its first ones, else None and nothing changed."""
    trigger = graph.trigger()
    produced: dict[str, Any] = {trigger.id: run.input}
    results: list[tuple[str, Ran]] = []
    for node_id in order:
        ran = _runners[0](run.pk, node_id, (facts, dict(produced)))
        if ran is None or not _plain(ran, graph, node_id):
            return None
        produced[node_id] = ran.result.output
        results.append((node_id, ran))
    by_id = {node.node_id: node for node in nodes}
    events = []
    answer = None
    for node_id, ran in results:
        node = by_id[node_id]
        node.status, node.attempt, node.input = NodeStatus.SUCCEEDED, 1, ran.input
        node.output, node.handle, node.usage = ran.result.output, ran.result.handle or "", ran.result.usage
        node.started_at = node.finished_at = now
        node.wake_at = node.dispatched_at = None
        if ran.result.answer is not None:
            answer = ran.result.answer
        handle = {"handle": ran.result.handle, "cache_hit": False}
        if node_id != order[0]:  # the first one's is among the child's first events
            events.append(RunEvent(type=EventType.NODE_QUEUED, node_id=node_id))
        events += [
            RunEvent(type=EventType.NODE_RUNNING, node_id=node_id, payload={"attempt": 1}),
            RunEvent(type=EventType.NODE_SUCCEEDED, node_id=node_id, payload=handle),
        ]
    events.append(RunEvent(type=EventType.RUN_SUCCEEDED))
    # As a child's end sets it (child_tally.run_ended): a reply's answer, else its last node's output.
    run.output = answer if answer is not None else produced[order[-1]]
    run.status, run.finished_at = RunStatus.SUCCEEDED, now
    return events


def _plain(ran: Ran, graph: graphs.Graph, node_id: str) -> bool:
    """A success that moves on to the next node and nothing else: no wait, no cost, no escalation, no branch away."""
    result = ran.result
    if result.park or result.wait_until is not None or result.children is not None:
        return False
    if result.usage or result.escalation is not None:
        return False
    edges = graph.outgoing(node_id)
    return not edges or result.handle in (None, "", edges[0].source_handle)
