"""The safety net on beat: crashed workers' nodes are retried (at once for processes that stopped beating,
engine.holders), lost or delayed messages re-sent, completion webhooks due for a (re)try are sent, child
runs whose end was not counted are counted, and child runs nothing waits for any more are cancelled."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from engine import budgets, holders, metrics, runs, webhooks
from engine.dispatch import UNREACHABLE, broker_lost_messages, dispatch, send_notices
from engine.models import NodeRun, NodeStatus, RunStatus
from engine.runs import child_tally, children

BATCH = 500
log = logging.getLogger(__name__)


def reap() -> dict[str, int]:
    """Crash the nodes of worker processes that stopped beating and the nodes whose lease expired, bill their
    cut-off model calls at their reservation, then send every due node not sent recently."""
    now = timezone.now()
    try:
        crashed = holders.release_dead()
    except UNREACHABLE as error:  # Redis is down: no beat lands, so nobody can be judged dead; leases still expire
        log.warning("could not look for dead worker processes: %s", error)
        crashed = 0
    for node_run in NodeRun.objects.filter(status=NodeStatus.RUNNING, lease_expires_at__lt=now)[:BATCH]:
        crashed += runs.crash(node_run)
    billed = budgets.charge_orphans(now - timedelta(seconds=settings.ENGINE_LEASE_S))
    if broker_lost_messages():
        # Redis lost the messages in flight: every ready node is sent again (those due now at
        # once, those sent with a countdown when due), not once it looks stale.
        # Only a node with a wake-up time is ever due, so this reads the reaper's index of those (node_run_due).
        sent = NodeRun.objects.filter(status__in=runs.CLAIMABLE, wake_at__isnull=False, dispatched_at__isnull=False)
        sent.update(dispatched_at=None)
    stale = now - timedelta(seconds=settings.ENGINE_REDISPATCH_AFTER_S)
    due = NodeRun.objects.filter(
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale),
        status__in=runs.CLAIMABLE,
        wake_at__lte=now,
        run__status__in=[RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING],
    )
    ids = list(due.values_list("pk", flat=True)[:BATCH])
    dispatch(ids)
    metrics.reaper_redispatches.inc(len(ids))
    notices = webhooks.due(now, BATCH)
    send_notices(notices)
    counted = child_tally.count_lost(BATCH)
    abandoned = children.orphans(BATCH)
    children.cancel_children(abandoned)
    return {
        "crashed": crashed,
        "unknown_calls_billed": billed,
        "dispatched": len(ids),
        "notices": len(notices),
        "parents_tallied": counted,
        "orphans_cancelled": len(abandoned),
    }
