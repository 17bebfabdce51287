"""Deciding an approval: who may, what a decision must hold, and the conditional update that lets one reviewer win.

Two reviewers deciding at once both read version v; the UPDATE … WHERE status='pending' AND
version=v changes one row for the first and none for the second, who is then told who
decided. The engine resume happens in the same transaction, so a decision that commits
always continues its run, and exactly once (engine.runs.resume wakes a waiting node once).
"""

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import record
from accounts.models import Membership
from accounts.permissions import ROLE_ACTIONS, Action
from approvals import live, signals
from approvals.models import STATUS_FOR, ApprovalRequest, Decision, Status, Vote
from approvals.tool_calls import ARGUMENTS, check_arguments
from engine import runs
from engine.event_types import LiveMessage
from engine.models import NodeRun, NodeStatus

MAX_TEXT = 20_000
MAX_COMMENT = 5_000
APPROVING = {Decision.APPROVE, Decision.EDIT}


class Conflict(Exception):
    """The item moved on (decided by someone else, already voted, run ended): HTTP 409."""


class Invalid(Exception):
    """The decision is malformed; `field` names the offending input: HTTP 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Choice:
    decision: str
    values: dict[str, Any] = field(default_factory=dict)
    comment: str = ""


def decided_message(request: ApprovalRequest) -> str:
    how = "timed out" if request.status == Status.TIMED_OUT else Decision(request.decision).label.lower()
    return f"Already decided by {request.decided_by_label or 'someone else'} ({how})"


def refusal(user: User, member: Membership | None, request: ApprovalRequest) -> str | None:
    """Why `user` may not decide `request`, or None if they may."""
    if member is None or Action.REVIEW not in ROLE_ACTIONS[member.role]:
        return "Your role may not decide approvals"
    # all() so a page of items prefetched with their assignees costs no query per item.
    assigned = any(a.user_id == user.pk or a.role == member.role for a in request.assignees.all())
    if not assigned:
        return "This item is not assigned to you or your role"
    if request.no_self_approval and request.run_created_by_id == user.pk:
        return "You started this run, and this step does not allow approving your own run"
    return None


def clean(request: ApprovalRequest, choice: Choice) -> Choice:
    """The choice with typed values; Invalid names the field at fault."""
    if choice.decision not in Decision.values:
        raise Invalid("decision", f"Unknown decision {choice.decision!r}; use one of {', '.join(Decision.values)}")
    if choice.decision not in request.allowed_decisions:
        raise Invalid("decision", f"This step does not allow {choice.decision!r}")
    comment = choice.comment.strip()
    if len(comment) > MAX_COMMENT:
        raise Invalid("comment", f"The comment is longer than {MAX_COMMENT} characters")
    if choice.decision == Decision.REJECT and not comment:
        raise Invalid("comment", "Say why you reject it: a comment is required")
    values: dict[str, Any] = {}
    if choice.decision == Decision.EDIT:
        fields = {f["name"]: f for f in request.fields}
        for name in choice.values:
            if name not in fields:
                raise Invalid(f"values.{name}", f"There is no editable field {name!r}")
        for name, spec in fields.items():
            if name in choice.values:
                values[name] = typed(f"values.{name}", spec, choice.values[name])
        if request.tool_key and ARGUMENTS in values:
            problem = check_arguments(request, values[ARGUMENTS])
            if problem is not None:
                raise Invalid(f"values.{ARGUMENTS}", problem)
    return Choice(choice.decision, values, comment)


def typed(path: str, spec: dict[str, Any], raw: Any) -> Any:
    kind = spec.get("type", "textarea")
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if raw in ("true", "on", "1", "false", "off", "0", ""):
            return raw in ("true", "on", "1")
        raise Invalid(path, "Expected true or false")
    if kind == "number":
        try:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return float(raw)
        except (TypeError, ValueError):
            raise Invalid(path, "Expected a number") from None
    if not isinstance(raw, str):
        raise Invalid(path, "Expected text")
    if len(raw) > MAX_TEXT:
        raise Invalid(path, f"Longer than {MAX_TEXT} characters")
    if spec.get("required") and not raw.strip():
        raise Invalid(path, "This field is required")
    return raw


def decide(request: ApprovalRequest, user: User, choice: Choice) -> ApprovalRequest:
    """Record `user`'s decision (the caller checked `refusal`); Conflict if the item moved on.

    With N-of-M approvals an approve is a vote, and the Nth one decides; a reject or an
    escalate decides at once. Only a deciding vote resumes the run.
    """
    choice = clean(request, choice)
    for _ in range(5):  # a lost race between two votes that both still count is retried
        request.refresh_from_db()
        if not request.is_pending:
            raise Conflict(decided_message(request))
        if Vote.objects.filter(request=request, user=user).exists():
            raise Conflict(
                f"You already voted; {request.required_approvals - request.approvals} more approval(s) needed"
            )
        with transaction.atomic():
            if _apply(request, user, choice):
                return request
    raise Conflict("Too many reviewers are deciding at once; try again")


def _apply(request: ApprovalRequest, user: User, choice: Choice) -> bool:
    now = timezone.now()
    approving = choice.decision in APPROVING
    count = request.approvals + (1 if approving else 0)
    final = not approving or count >= request.required_approvals
    updates: dict[str, Any] = {"approvals": count, "version": F("version") + 1}
    if final:
        edited = {**_earlier_edits(request), **choice.values}
        decision = Decision.EDIT if approving and edited else Decision(choice.decision)
        updates |= {
            "status": STATUS_FOR[decision],
            "decision": decision,
            "values": edited,
            "comment": choice.comment,
            "decided_by": user,
            "decided_by_label": user.get_username(),
            "decided_at": now,
        }
    if not ApprovalRequest.objects.filter(pk=request.pk, status=Status.PENDING, version=request.version).update(
        **updates
    ):
        return False
    Vote.objects.create(
        request=request, user=user, user_label=user.get_username(), decision=choice.decision,
        values=choice.values, comment=choice.comment,
    )  # fmt: skip
    request.refresh_from_db()
    details = {"decision": choice.decision, "comment": choice.comment, "edited": sorted(choice.values)}
    record(
        user, "approval.decided" if final else "approval.voted", workspace=request.workspace, target=request, **details
    )
    if final:
        _continue_run(request)
        transaction.on_commit(lambda: live.publish(request.workspace_id, LiveMessage.APPROVAL_DECIDED, request.pk))
        transaction.on_commit(lambda: signals.decided.send(ApprovalRequest, request=request))
    return True


def _earlier_edits(request: ApprovalRequest) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for values in Vote.objects.filter(request=request, decision=Decision.EDIT).values_list("values", flat=True):
        merged |= values
    return merged


def _continue_run(request: ApprovalRequest) -> None:
    """Resume the node, in the decision's transaction; if it is not parked yet, resume it shortly."""
    if runs.resume(request.node_run_id, {"approval": request.pk}):
        return
    status = NodeRun.objects.filter(pk=request.node_run_id).values_list("status", flat=True).first()
    if status == NodeStatus.RUNNING:
        # Either the deadline woke the node (it will read this decision once we commit), or
        # its first run has not parked yet (it will, and then needs the nudge).
        from approvals.tasks import resume_decided

        transaction.on_commit(lambda: resume_decided.apply_async((request.pk,), countdown=1))
        return
    raise Conflict("The run is no longer waiting for this decision (it was cancelled or has ended)")


def claim(request: ApprovalRequest, user: User) -> ApprovalRequest:
    """Mark the item as being looked at by `user` (advisory: other assignees may still decide)."""
    claimed = (
        ApprovalRequest.objects.filter(pk=request.pk, status=Status.PENDING)
        .filter(claimed_by__isnull=True)
        .update(claimed_by=user, claimed_at=timezone.now())
    )
    request.refresh_from_db()
    if not request.is_pending:
        raise Conflict(decided_message(request))
    if not claimed and request.claimed_by_id != user.pk:
        raise Conflict(f"Already claimed by {request.claimed_by.get_username() if request.claimed_by else 'someone'}")
    if claimed:
        record(user, "approval.claimed", workspace=request.workspace, target=request)
        transaction.on_commit(lambda: live.publish(request.workspace_id, LiveMessage.APPROVAL_CLAIMED, request.pk))
    return request
