"""The lifecycle of an approval request on the engine's side: raise it, announce it, time it out, read the outcome."""

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import record
from accounts.permissions import Action, roles_allowed
from approvals import assignees, live, notifications
from approvals.models import SYSTEM, ApprovalRequest, Assignee, Decision, Status
from engine.errors import NonRetryableError
from engine.event_types import LiveMessage
from engine.models import NodeRun, Run
from engine.registry import NodeContext

log = logging.getLogger(__name__)


def open_request(ctx: NodeContext) -> ApprovalRequest:
    """The node's request, created on its first run; a redelivered node finds the same row."""
    found = ApprovalRequest.objects.filter(run_id=ctx.run_id, node_id=ctx.node_id, tool_key="").first()
    if found is not None:
        return found
    p = ctx.params
    # Checked again at run time: someone named when the version was published may have left since.
    for index, user_id in assignees.refused(ctx.workspace_id, list(p.assignees.users)):
        raise NonRetryableError(f"assignees.users.{index}: {assignees.refusal_message(user_id)}", code="bad_assignee")
    with transaction.atomic():
        request, created = ApprovalRequest.objects.get_or_create(
            run_id=ctx.run_id,
            node_id=ctx.node_id,
            defaults={
                **where_asked(ctx),
                "title": str(p.title)[:200],
                "instructions": str(p.instructions),
                "context": [item.model_dump(mode="json") for item in p.context],
                "fields": [field.model_dump(mode="json") for field in p.fields],
                "allowed_decisions": list(p.decisions),
                "required_approvals": p.required_approvals,
                "no_self_approval": p.no_self_approval,
                "run_created_by_id": ctx.run_created_by,
                "timeout_action": p.timeout_action if p.decide_within_s else "",
                "deadline": timezone.now() + timedelta(seconds=p.decide_within_s) if p.decide_within_s else None,
            },
        )
        if created:
            roles = p.assignees.roles or ([] if p.assignees.users else roles_allowed(Action.REVIEW))
            Assignee.objects.bulk_create(
                [Assignee(request=request, user_id=user_id) for user_id in dict.fromkeys(p.assignees.users)]
                + [Assignee(request=request, role=role) for role in dict.fromkeys(roles)]
            )
    return request


def where_asked(ctx: NodeContext) -> dict[str, Any]:
    """A new request's fields naming the workspace, node run and workflow version that ask."""
    run = Run.objects.only("workflow_id", "workflow_name", "version_number").get(pk=ctx.run_id)
    return {
        "workspace_id": ctx.workspace_id,
        "node_run_id": NodeRun.objects.values_list("pk", flat=True).get(run_id=ctx.run_id, node_id=ctx.node_id),
        "workflow_id": run.workflow_id,
        "workflow_name": run.workflow_name,
        "version_number": run.version_number,
    }


def announce(request: ApprovalRequest) -> dict[str, int]:
    """Email the assignees and prompt open inboxes; called through the effect ledger, so once."""
    try:
        sent = notifications.email_assignees(request)
    except Exception:  # a mail server outage must not fail the run: the item is in the inbox all the same
        log.warning("could not email the assignees of approval %s", request.pk, exc_info=True)
        sent = 0
    live.publish(request.workspace_id, LiveMessage.APPROVAL_CREATED, request.pk)
    return {"emailed": sent}


def time_out(request: ApprovalRequest) -> ApprovalRequest:
    """Record the timeout action as the decision of "system", unless someone decided first."""
    now = timezone.now()
    if request.deadline is None or request.deadline > now:
        return request
    decision = Decision(request.timeout_action or Decision.REJECT)
    won = ApprovalRequest.objects.filter(pk=request.pk, status=Status.PENDING).update(
        status=Status.TIMED_OUT,
        decision=decision,
        decided_by=None,
        decided_by_label=SYSTEM,
        decided_at=now,
        comment=f"No decision before the deadline: {decision.label.lower()} automatically.",
        version=F("version") + 1,
    )
    request.refresh_from_db()
    if won:
        record(None, "approval.timed_out", workspace=request.workspace, target=request, decision=decision)
        transaction.on_commit(lambda: live.publish(request.workspace_id, LiveMessage.APPROVAL_DECIDED, request.pk))
    return request


def final_values(request: ApprovalRequest) -> dict[str, Any]:
    """Every editable field: the reviewers' edit where there is one, else the draft."""
    return {field["name"]: request.values.get(field["name"], field.get("value")) for field in request.fields}


def outcome(request: ApprovalRequest) -> dict[str, Any]:
    reviewers = [vote.user_label for vote in request.votes.all()] or [request.decided_by_label]
    return {
        "decision": request.decision,
        "status": request.status,
        "values": final_values(request),
        "reviewers": reviewers,
        "comment": request.comment,
        "decided_at": request.decided_at.isoformat() if request.decided_at else None,
        "timed_out": request.status == Status.TIMED_OUT,
    }
