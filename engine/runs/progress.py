"""Applying what engine.flow decided: queueing and skipping nodes, moving the run on, cancelling its open nodes."""

from django.db.models import Q

from engine import flow
from engine.event_types import EventType, run_event
from engine.events import Change
from engine.models import ENDED_RUN, NodeRun, NodeStatus
from engine.sql import outcomes, readiness


def progress(
    step: Change,
    changed: list[str] | None,
    known: dict[str, readiness.Row] | None = None,
    counts: readiness.Counts | None = None,
) -> None:
    """After nodes in `changed` settled (None: any may have), queue what follows and settle the run.

    `known`: rows read already under this lock (see flow.advance). `counts`: the run's counts
    read under this lock after this change's last write so far (used only if nothing was
    written since: see _settle).
    """
    if step.run.status in ENDED_RUN:
        return
    _apply(step, flow.advance(step.run.pk, changed, known))
    _settle(step, counts)


def _apply(step: Change, decided: flow.Advance) -> None:
    """Queue and skip the nodes flow.advance decided on, with their events, in the order it decided.

    The writes are one statement each, deferred to the transaction's last script.
    """
    ready: list[int] = []
    skipped: list[int] = []
    for node in decided.nodes:
        if node.ready:
            ready.append(node.pk)
            step.queued[node.pk] = (node.node_id, node.attempt)
            step.event(EventType.NODE_QUEUED, node.node_id)
        else:
            skipped.append(node.pk)
            step.event(EventType.NODE_SKIPPED, node.node_id)
    step.busy = step.busy or decided.busy
    if ready:
        step.mark_ready(ready, outcomes.mark_nodes(ready, outcomes.ready_columns(step.now)))
        step.ready.extend(ready)
    if skipped:
        step.defer(outcomes.mark_nodes(skipped, {"status": NodeStatus.SKIPPED, "finished_at": step.now}))


def _settle(step: Change, counts: readiness.Counts | None = None) -> None:
    """Move the run to the status flow.next_run_status gives: running, waiting on a person or a timer, or ended.

    `counts` read earlier under this lock still hold while no write is deferred since: the
    run's nodes move only under its lock, and this change's writes so far were sent before them.
    """
    if step.run.status in ENDED_RUN:
        return
    if not flow.needs_count(step.run.status, bool(step.ready), step.busy):
        return  # a node is queued or still running: the run goes on, and nothing needs counting
    if counts is None or step.deferred:
        step.flush()
        counts = readiness.counts(step.run.pk)
    status = flow.next_run_status(step.run.status, counts)
    if status is None:
        return
    if status in ENDED_RUN:
        step.set_run(status=status, finished_at=step.now)
    else:
        step.set_run(status=status)
    step.event(run_event(status))


def cancel_open_nodes(step: Change, *, include_running: bool) -> None:
    open_nodes = Q(status__in=[NodeStatus.PENDING, NodeStatus.WAITING]) | Q(
        status__in=[NodeStatus.FAILED, NodeStatus.CRASHED], wake_at__isnull=False
    )
    if include_running:
        open_nodes |= Q(status=NodeStatus.RUNNING)
    nodes = NodeRun.objects.filter(open_nodes, run=step.run)
    for node_id in nodes.values_list("node_id", flat=True):
        step.event(EventType.NODE_CANCELLED, node_id)
    nodes.update(status=NodeStatus.CANCELLED, wake_at=None, lease_owner="", finished_at=step.now)
