"""Where the engine's time goes: one run of each graph executed in this process, node by node.

No broker and no worker: the dispatch that would send each ready node to Celery is replaced
by a list, and runner.execute runs every node here under CaptureQueriesContext. What is
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
    node_id: str
    queries: int
    locks: int
    ms: float
    publish_ms: float


@dataclass
class Profile:
    name: str
    start_queries: int
    start_ms: float
    nodes: list[NodeCost] = field(default_factory=list)

    def total_ms(self) -> float:
        return self.start_ms + sum(node.ms for node in self.nodes)

    def median(self, attribute: str, prefix: str = "") -> float:
        values = [getattr(node, attribute) for node in self.nodes if node.node_id.startswith(prefix)]
        return statistics.median(values)


def _locks(queries: CaptureQueriesContext) -> int:
    return sum("FOR UPDATE" in query["sql"] for query in queries.captured_queries)


def profile_run(name: str, workspace_id: int, graph: dict[str, Any]) -> Profile:
    from engine import live, runner
    from engine.models import NodeRun, Run, RunStatus
    from engine.runs import Options, RunSource, start_run

    ready: list[int] = []

    def collect(ids: list[int], later: list[tuple[int, datetime]] | None = None) -> None:
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
        while ready:
            node_run_id = ready.pop(0)
            began, publishing[0] = time.perf_counter(), 0.0
            with CaptureQueriesContext(connection) as captured:
                runner.execute(node_run_id)
            elapsed = (time.perf_counter() - began) * 1000
            cost = NodeCost(node_ids[node_run_id], len(captured), _locks(captured), elapsed, publishing[0])
            result.nodes.append(cost)
    status = Run.objects.filter(pk=run.pk).values_list("status", flat=True).get()
    if status != RunStatus.SUCCEEDED or len(result.nodes) != len(graph["nodes"]):
        raise RuntimeError(f"the in-process {name} run ended {status} after {len(result.nodes)} nodes")
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
    join = next(node for node in wide.nodes if node.node_id == "join")
    first, last = wide.nodes[1], wide.nodes[-2]
    return [
        "  in-process profile (no Celery: each node run by runner.execute here, queries captured):",
        f"    start_run: chain {line.start_queries} queries {line.start_ms:.1f} ms; "
        f"fan-out {wide.start_queries} queries {wide.start_ms:.1f} ms",
        f"    chain node: median {line.median('queries'):.0f} queries, {line.median('locks'):.0f} run-row locks, "
        f"{line.median('ms'):.2f} ms (of which live.publish {line.median('publish_ms'):.2f} ms); "
        f"whole chain {line.total_ms():.0f} ms",
        f"    fan-out branch: median {wide.median('queries', 'branch_'):.0f} queries, "
        f"{wide.median('locks', 'branch_'):.0f} run-row locks, {wide.median('ms', 'branch_'):.2f} ms "
        f"(live.publish {wide.median('publish_ms', 'branch_'):.2f} ms; first {first.ms:.2f} ms, last {last.ms:.2f} ms);"
        f" join {join.queries} queries {join.ms:.2f} ms",
        f"    whole fan-out run serially in one thread: {wide.total_ms():.0f} ms",
        f"    Django PostgreSQL connect (paid once per task by the engine worker): {connect_ms():.2f} ms",
    ]
