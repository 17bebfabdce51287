"""The safety net on beat: crashed workers' nodes are retried, lost or delayed messages re-sent,
and completion webhooks due for a (re)try are sent."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from engine import budgets, runs, webhooks
from engine.dispatch import dispatch, send_notices
from engine.models import NodeRun, NodeStatus, RunStatus

BATCH = 500


def reap() -> dict[str, int]:
    """Crash nodes whose lease expired, give back their model calls' budget holds, then send every due
    node not sent recently."""
    now = timezone.now()
    crashed = 0
    for node_run in NodeRun.objects.filter(status=NodeStatus.RUNNING, lease_expires_at__lt=now)[:BATCH]:
        crashed += runs.crash(node_run)
    released = budgets.release_orphans(now - timedelta(seconds=settings.ENGINE_LEASE_S))
    stale = now - timedelta(seconds=settings.ENGINE_REDISPATCH_AFTER_S)
    due = NodeRun.objects.filter(
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale),
        status__in=runs.CLAIMABLE,
        wake_at__lte=now,
        run__status__in=[RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING],
    )
    ids = list(due.values_list("pk", flat=True)[:BATCH])
    dispatch(ids)
    notices = webhooks.due(now, BATCH)
    send_notices(notices)
    return {"crashed": crashed, "budget_holds_released": released, "dispatched": len(ids), "notices": len(notices)}
