"""Starting runs in tests and reading back what happened."""

from typing import Any

from django.utils import timezone

from accounts.models import Workspace
from builder.versions import run_version
from config.celery import app
from engine.dispatch import dispatch
from engine.event_types import NODE_STATUS_AFTER, EventType
from engine.models import ENDED_RUN, NodeRun, Run, RunEvent
from engine.runs import Options
from tests.eventually import eventually
from tests.factories import WorkflowFactory, WorkflowVersionFactory
from tests.workers import CLAIMABLE


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
    """Wait until `run` is in one of `statuses`; in-process (the `in_process` fixture), run its due nodes meanwhile."""

    def reached() -> Run | None:
        run.refresh_from_db()
        if run.status in statuses:
            return run
        if in_process():
            run_due_nodes(run)
        return None

    def stuck() -> str:
        nodes = {n.node_id: (n.status, n.attempt) for n in NodeRun.objects.filter(run=run)}
        return f"run {run.pk} is still {run.status}; nodes: {nodes}"

    return eventually(reached, timeout, message=stuck)


def in_process() -> bool:
    return bool(app.conf.task_always_eager)


def run_due_nodes(run: Run) -> None:
    """Send the nodes of `run` whose wake-up time has come (a retry's delay, a delay node's timer).

    On a worker a countdown message (or the reaper) does this. In-process the message ran at
    once, when its node was not due yet, and found nothing to claim; sending it now runs it.
    """
    due = NodeRun.objects.filter(run=run, status__in=CLAIMABLE, wake_at__lte=timezone.now())
    if ids := list(due.values_list("pk", flat=True)):
        dispatch(ids)


def history(run: Run, node_id: str) -> list[str]:
    events = RunEvent.objects.filter(run=run, node_id=node_id).order_by("seq")
    return [NODE_STATUS_AFTER[EventType(e.type)] for e in events if e.type in NODE_STATUS_AFTER]


def node(run: Run, node_id: str) -> NodeRun:
    return NodeRun.objects.get(run=run, node_id=node_id)


def statuses(run: Run) -> dict[str, str]:
    return dict(NodeRun.objects.filter(run=run).values_list("node_id", "status"))


def sent_at_start(run: Run) -> list[int]:
    """The node runs `run`'s start sent a message for, as its worker would take them: the nodes after its trigger
    (the start recorded the trigger done), or the trigger when it runs as a node (runs.trigger_done_at_start)."""
    return list(
        NodeRun.objects.filter(run=run, status__in=CLAIMABLE, wake_at__isnull=False).values_list("pk", flat=True)
    )
