"""Starting runs in tests and reading back what happened."""

import time
from typing import Any

from accounts.models import Workspace
from builder.versions import run_version
from engine.models import ENDED_RUN, NodeRun, Run, RunEvent
from engine.runs import Options
from tests.factories import WorkflowFactory, WorkflowVersionFactory

NODE_EVENT_STATUS = {
    "node.queued": "pending",
    "node.running": "running",
    "node.succeeded": "succeeded",
    "node.failed": "failed",
    "node.crashed": "crashed",
    "node.skipped": "skipped",
    "node.waiting": "waiting",
    "node.cancelled": "cancelled",
}


def start(
    workspace: Workspace,
    graph: dict[str, Any],
    input: dict[str, Any] | None = None,
    allowlist: tuple[str, ...] = ("127.0.0.1",),
) -> Run:
    """Publish `graph` as a workflow version of `workspace` and start a run; fakes on 127.0.0.1 are allowed."""
    workspace.http_allowlist = list(allowlist)
    workspace.save(update_fields=["http_allowlist"])
    version = WorkflowVersionFactory(workflow=WorkflowFactory(workspace=workspace, draft=graph), graph=graph)
    return run_version(version, input or {}, Options())


def wait_for(run: Run, statuses: set[str] | frozenset[str] = ENDED_RUN, timeout: float = 30) -> Run:
    deadline = time.monotonic() + timeout
    while True:
        run.refresh_from_db()
        if run.status in statuses:
            return run
        if time.monotonic() > deadline:
            nodes = {n.node_id: (n.status, n.attempt) for n in NodeRun.objects.filter(run=run)}
            raise AssertionError(f"run {run.pk} is still {run.status} after {timeout} s; nodes: {nodes}")
        time.sleep(0.05)


def history(run: Run, node_id: str) -> list[str]:
    events = RunEvent.objects.filter(run=run, node_id=node_id).order_by("seq")
    return [NODE_EVENT_STATUS[e.type] for e in events if e.type in NODE_EVENT_STATUS]


def node(run: Run, node_id: str) -> NodeRun:
    return NodeRun.objects.get(run=run, node_id=node_id)


def statuses(run: Run) -> dict[str, str]:
    return dict(NodeRun.objects.filter(run=run).values_list("node_id", "status"))
