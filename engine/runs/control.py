"""What people do to a run: resume a waiting node with a decision, cancel the run, retry it from its failed nodes."""

from typing import Any

from django.contrib.auth.models import User

from engine.event_types import EventType
from engine.events import change
from engine.models import ENDED_RUN, NodeRun, NodeStatus, Run, RunStatus
from engine.runs.progress import cancel_open_nodes, progress


def resume(node_run_id: int, payload: dict[str, Any]) -> bool:
    """Wake a waiting node now with `payload` (a person's decision); False if it is not waiting any more.

    The node runs again and finds the payload in ctx.resumed. Only one of two concurrent
    resumes gets the waiting row, so the run continues once.
    """
    run_id = NodeRun.objects.filter(pk=node_run_id).values_list("run_id", flat=True).first()
    if run_id is None:
        return False
    with change(run_id) as step:
        if step.run.status in ENDED_RUN:
            return False
        woke = NodeRun.objects.filter(pk=node_run_id, status=NodeStatus.WAITING, resume__isnull=True).update(
            wake_at=step.now, resume=payload, dispatched_at=step.now
        )
        if not woke:
            return False
        step.ready.append(node_run_id)
        step.event(EventType.NODE_RESUMED, NodeRun.objects.values_list("node_id", flat=True).get(pk=node_run_id))
    return True


def cancel_run(run: Run, by: User | None = None) -> bool:
    """Cancel a run that has not ended.

    Pending and waiting nodes are cancelled at once; running ones too, and their workers stop
    at the next heartbeat, when the lease they hold no longer matches.
    """
    with change(run.pk) as step:
        if step.run.status in ENDED_RUN:
            return False
        cancel_open_nodes(step, include_running=True)
        step.set_run(status=RunStatus.CANCELLED, finished_at=step.now)
        step.event(EventType.RUN_CANCELLED, by=by.get_username() if by else "")
    return True


def retry_from_failed(run: Run, by: User | None = None) -> bool:
    """Reopen an ended run from its failed nodes, keeping every completed node's output."""
    with change(run.pk) as step:
        if step.run.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
            return False
        failed = NodeRun.objects.filter(run=step.run, status__in=[NodeStatus.FAILED, NodeStatus.CRASHED])
        reopened = NodeRun.objects.filter(run=step.run, status=NodeStatus.CANCELLED)
        if not failed.exists() and not reopened.exists():
            return False
        step.set_run(status=RunStatus.RUNNING, finished_at=None, error="")
        step.event(EventType.RUN_RETRIED, by=by.get_username() if by else "")
        for node_run in failed:
            step.event(EventType.NODE_QUEUED, node_run.node_id, retry_of_attempt=node_run.attempt)
        ids = list(failed.values_list("pk", flat=True))
        failed.update(
            status=NodeStatus.PENDING, attempt=0, wake_at=step.now, error=None, lease_owner="", dispatched_at=step.now
        )
        step.ready.extend(ids)
        reopened.update(status=NodeStatus.PENDING, wake_at=None, finished_at=None)
        progress(step, None)
    return True
