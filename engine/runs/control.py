"""What people do to a run: resume a waiting node with a decision, cancel the run, retry it from its failed nodes."""

from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q

from engine import flow
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
    """Reopen an ended run from its failed nodes, keeping every completed node's output.

    A node that continued through its error handle failed too: it runs again, and the nodes
    after it wait for it again (their outputs came from its failure), see _reopen_after.
    """
    with change(run.pk) as step:
        if step.run.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
            return False
        continued = NodeRun.objects.filter(run=step.run, status=NodeStatus.SUCCEEDED, error__continued=True)
        after = _reopen_after(step.run.pk, list(continued.values_list("node_id", flat=True)))
        failed = NodeRun.objects.filter(
            Q(status__in=[NodeStatus.FAILED, NodeStatus.CRASHED]) | Q(pk__in=continued), run=step.run
        ).exclude(node_id__in=after)
        reopened = NodeRun.objects.filter(Q(status=NodeStatus.CANCELLED) | Q(node_id__in=after), run=step.run)
        if not failed.exists() and not reopened.exists():
            return False
        step.set_run(status=RunStatus.RUNNING, finished_at=None, error="")
        step.event(EventType.RUN_RETRIED, by=by.get_username() if by else "")
        for node_run in failed:
            step.event(EventType.NODE_QUEUED, node_run.node_id, retry_of_attempt=node_run.attempt)
        ids = list(failed.values_list("pk", flat=True))
        failed.update(
            status=NodeStatus.PENDING,
            attempt=0,
            wake_at=step.now,
            error=None,
            handle="",
            lease_owner="",
            dispatched_at=step.now,
        )
        step.ready.extend(ids)
        reopened.update(status=NodeStatus.PENDING, wake_at=None, finished_at=None)
        if after:
            NodeRun.objects.filter(run=step.run, node_id__in=after).update(output=None, handle="", error=None)
        progress(step, None)
    return True


def _reopen_after(run_id: int, continued: list[str]) -> set[str]:
    """The nodes after those that continued through their error handle: they wait to be decided again.

    Whatever they did (ran on the error's output, or were skipped as the normal path) followed
    from that failure; once the node has run again they run or are skipped anew. Their
    attempts are kept, so a model call they make again is billed as a new call.
    """
    return flow.downstream(flow.run_graph(run_id), continued) if continued else set()
