"""Where the engine's time goes: one run of each graph executed in this process, task by task.

No broker and no worker: the dispatch that would send each ready node to Celery is replaced
by a list, and runner.execute runs every node here under CaptureQueriesContext. One call of
runner.execute may run several nodes (a node claims a successor it made ready and runs it
too), so each call's figures are divided by the nodes it ran. What is
left is the engine's own work per node (SQL statements, run-row locks, Python) without the
Celery hop and without the reconnect the worker pays per task, which is timed separately.
The channel-layer prompt sent after each commit (engine.live.publish) runs here as well and
is timed on its own.
"""

import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext


@dataclass
class NodeCost:
    """One call of runner.execute: the node it was sent for, how many nodes it ran, their costs per node."""

    node_id: str
    nodes: int
    queries: float
    locks: float
    ms: float
    publish_ms: float


@dataclass
class Profile:
    name: str
    start_queries: int
    start_ms: float
    nodes: list[NodeCost] = field(default_factory=list)

    def total_ms(self) -> float:
        return self.start_ms + sum(node.ms * node.nodes for node in self.nodes)

    def median(self, attribute: str, prefix: str = "") -> float:
        values = [getattr(node, attribute) for node in self.nodes if node.node_id.startswith(prefix)]
        return statistics.median(values)


def _locks(queries: CaptureQueriesContext) -> int:
    return sum("FOR UPDATE" in query["sql"] for query in queries.captured_queries)


def profile_run(name: str, workspace_id: int, graph: dict[str, Any]) -> Profile:
    from engine import live, runner
    from engine.models import NodeRun, Run, RunEvent, RunStatus
    from engine.runs import Options, RunSource, start_run

    ready: list[int] = []

    def collect(ids: list[int], later: list[tuple[int, datetime]] | None = None, **options: Any) -> None:
        ready.extend(ids)

    # The channel-layer prompt after each commit is timed on its own: it is not SQL.
    publish = live.publish
    publishing = [0.0]

    def timed_publish(*args: Any, **kwargs: Any) -> None:
        began = time.perf_counter()
        try:
            publish(*args, **kwargs)
        finally:
            publishing[0] += (time.perf_counter() - began) * 1000

    with mock.patch("engine.dispatch.dispatch", collect), mock.patch.object(live, "publish", timed_publish):
        began = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            run = start_run(RunSource(workspace_id=workspace_id, graph=graph), {}, Options())
        result = Profile(name, len(captured), (time.perf_counter() - began) * 1000)
        node_ids = dict(NodeRun.objects.filter(run=run).values_list("pk", "node_id"))
        started = RunEvent.objects.filter(run=run, type="node.running")
        while ready:
            node_run_id = ready.pop(0)
            before = started.count()
            began, publishing[0] = time.perf_counter(), 0.0
            with CaptureQueriesContext(connection) as captured:
                runner.execute([node_run_id])
            elapsed = (time.perf_counter() - began) * 1000
            n = max(1, started.count() - before)
            cost = NodeCost(
                node_ids[node_run_id], n, len(captured) / n, _locks(captured) / n, elapsed / n, publishing[0] / n
            )
            result.nodes.append(cost)
    status = Run.objects.filter(pk=run.pk).values_list("status", flat=True).get()
    ran = sum(node.nodes for node in result.nodes)
    if status != RunStatus.SUCCEEDED or ran != len(graph["nodes"]):
        raise RuntimeError(f"the in-process {name} run ended {status} after {ran} nodes")
    return result


def connect_ms(times: int = 20) -> float:
    """What the engine worker pays per task: Celery's Django fixup closes the connection
    around every task (CONN_MAX_AGE=0), so each task opens a new one."""
    samples = []
    for _ in range(times):
        connection.close()
        began = time.perf_counter()
        connection.ensure_connection()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def report(workspace_id: int, chain: dict[str, Any], fan_out: dict[str, Any]) -> list[str]:
    line = profile_run("chain", workspace_id, chain)
    wide = profile_run("fan-out", workspace_id, fan_out)
    single = [node for node in wide.nodes if node.nodes == 1]
    last = wide.nodes[-1]
    return [
        "  in-process profile (no Celery: runner.execute called here for each node sent, queries captured;",
        "  figures per node: a call that ran several nodes is divided by their number):",
        f"    start_run: chain {line.start_queries} queries {line.start_ms:.1f} ms; "
        f"fan-out {wide.start_queries} queries {wide.start_ms:.1f} ms",
        f"    chain: {len(line.nodes)} call(s) ran {sum(n.nodes for n in line.nodes)} nodes; per node "
        f"{line.median('queries'):.1f} queries, {line.median('locks'):.1f} run-row locks, "
        f"{line.median('ms'):.2f} ms (of which live.publish {line.median('publish_ms'):.2f} ms); "
        f"whole chain {line.total_ms():.0f} ms",
        f"    fan-out: {len(wide.nodes)} calls; a branch alone: median "
        f"{statistics.median(n.queries for n in single):.0f} queries, "
        f"{statistics.median(n.locks for n in single):.0f} run-row locks, "
        f"{statistics.median(n.ms for n in single):.2f} ms (live.publish "
        f"{statistics.median(n.publish_ms for n in single):.2f} ms); the last branch and what it ran after it: "
        f"{last.nodes} nodes, {last.queries * last.nodes:.0f} queries, {last.ms * last.nodes:.2f} ms",
        f"    whole fan-out run serially in one thread: {wide.total_ms():.0f} ms",
        f"    Django PostgreSQL connect (paid once per task by the engine worker): {connect_ms():.2f} ms",
    ]
