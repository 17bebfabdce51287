"""The one approval task: resume a run whose decision arrived before its node had parked."""

from celery import shared_task

from approvals.models import ApprovalRequest
from engine import runs
from engine.models import NodeRun, NodeStatus

TRIES = 30


@shared_task(soft_time_limit=20, time_limit=30, max_retries=TRIES)
def resume_decided(approval_id: int, tries: int = 0) -> None:
    request = ApprovalRequest.objects.filter(pk=approval_id).first()
    if request is None or request.is_pending or runs.resume(request.node_run_id, {"approval": approval_id}):
        return
    # Still running: its first run is about to park, or the deadline woke it and it reads the decision itself.
    if NodeRun.objects.filter(pk=request.node_run_id, status=NodeStatus.RUNNING).exists() and tries < TRIES:
        resume_decided.apply_async((approval_id, tries + 1), countdown=1)
