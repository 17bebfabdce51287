"""Approvals over the API: list pending (or decided) items with filters, read one, claim, decide."""

from datetime import datetime
from typing import Any, Literal, cast

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.audit import record
from accounts.models import Membership, Scope
from accounts.permissions import Action, get_for, membership, require
from accounts.views import current_membership
from approvals import cards, decisions, inbox
from approvals.models import ApprovalRequest, Status
from approvals.requests import final_values

router = Router(tags=["approvals"])


class ApprovalOut(Schema):
    id: int
    status: str
    version: int
    title: str
    instructions: str
    run_id: int
    node_id: str
    workflow_id: int | None
    workflow_name: str
    version_number: int | None
    context: list[dict[str, Any]]
    fields: list[dict[str, Any]] = Field(description="editable fields; `value` is the model's draft")
    allowed_decisions: list[str]
    required_approvals: int
    approvals: int
    assignees: list[str]
    deadline: datetime | None
    timeout_action: str
    claimed_by: str | None
    decision: str
    values: dict[str, Any] = Field(description="every editable field as decided (the draft where not edited)")
    comment: str
    decided_by: str
    decided_at: datetime | None
    created_at: datetime
    can_decide: bool


class ApprovalPage(Schema):
    items: list[ApprovalOut]
    counts: dict[str, int] = Field(description="pending items per scope: all, me, roles")
    page: int
    has_more: bool


class ListQuery(Schema):
    state: Literal["pending", "decided"] = "pending"
    scope: Literal["all", "me", "roles"] = "all"
    sort: Literal["age", "deadline"] = "age"
    workflow: int | None = Field(None, ge=1)
    decision: Literal["approve", "edit_and_approve", "reject", "escalate"] | None = None
    page: int = Field(1, ge=1, le=10_000)


class DecisionIn(Schema):
    decision: Literal["approve", "edit_and_approve", "reject", "escalate"]
    values: dict[str, Any] = Field(default_factory=dict, description="edited fields, for edit_and_approve")
    comment: str = Field("", max_length=5000, description="required to reject")


def approval_out(approval: ApprovalRequest, user: User, me: Membership | None = None) -> ApprovalOut:
    me = me or membership(user, approval.workspace_id)
    refusal = decisions.refusal(user, me, approval) if approval.is_pending else "decided"
    return ApprovalOut(
        **{name: getattr(approval, name) for name in ("status", "version", "title", "instructions", "run_id")},
        **{name: getattr(approval, name) for name in ("node_id", "workflow_id", "workflow_name", "version_number")},
        **{name: getattr(approval, name) for name in ("context", "fields", "allowed_decisions", "approvals")},
        **{name: getattr(approval, name) for name in ("required_approvals", "deadline", "timeout_action")},
        **{name: getattr(approval, name) for name in ("decision", "comment", "decided_at", "created_at")},
        id=approval.pk,
        assignees=cards.assignee_labels(approval),
        claimed_by=approval.claimed_by.get_username() if approval.claimed_by else None,
        values=final_values(approval) if not approval.is_pending else {},
        decided_by=approval.decided_by_label,
        can_decide=refusal is None,
    )


@router.get("/approvals", response=ApprovalPage, summary="Pending (or decided) approvals of the current workspace")
@token_scope(Scope.APPROVALS_DECIDE)
def list_approvals(request: HttpRequest, query: Query[ListQuery]) -> ApprovalPage:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    user = cast(User, request.user)
    if query.state == "decided":
        page = inbox.history(me, {"workflow": query.workflow, "decision": query.decision, "page": query.page})
    else:
        items = inbox.scoped(inbox.pending(me), me, query.scope)
        if query.workflow:
            items = items.filter(workflow_id=query.workflow)
        page = inbox.page_of(inbox.ordered(items, query.sort), query.page)
    return ApprovalPage(
        items=[approval_out(item, user, me) for item in page.items],
        counts=inbox.counts(me),
        page=page.number,
        has_more=page.has_more,
    )


@router.get("/approvals/{approval_id}", response=ApprovalOut, summary="One approval, with its context and draft")
@token_scope(Scope.APPROVALS_DECIDE)
def get_approval(request: HttpRequest, approval_id: int) -> ApprovalOut:
    approval = get_for(request.user, ApprovalRequest, Action.VIEW, pk=approval_id)
    record(request.user, "approval.viewed", workspace=approval.workspace, target=approval, via="api")
    return approval_out(approval, cast(User, request.user))


def _for_decision(request: HttpRequest, approval_id: int) -> ApprovalRequest:
    from django.core.exceptions import PermissionDenied

    approval = get_for(request.user, ApprovalRequest, Action.VIEW, pk=approval_id)
    reason = decisions.refusal(cast(User, request.user), membership(request.user, approval.workspace_id), approval)
    if approval.status == Status.PENDING and reason is not None:
        raise PermissionDenied(reason)
    return approval


@router.post(
    "/approvals/{approval_id}/decide",
    response=ApprovalOut,
    summary="Approve, edit and approve, reject (comment required) or escalate; 409 if already decided",
)
@token_scope(Scope.APPROVALS_DECIDE)
def decide(request: HttpRequest, approval_id: int, body: DecisionIn) -> ApprovalOut:
    approval = _for_decision(request, approval_id)
    user = cast(User, request.user)
    choice = decisions.Choice(decision=body.decision, values=body.values, comment=body.comment)
    return approval_out(decisions.decide(approval, user, choice), user)


@router.post("/approvals/{approval_id}/claim", response=ApprovalOut, summary="Claim an item you are assigned")
@token_scope(Scope.APPROVALS_DECIDE)
def claim(request: HttpRequest, approval_id: int) -> ApprovalOut:
    approval = _for_decision(request, approval_id)
    user = cast(User, request.user)
    return approval_out(decisions.claim(approval, user), user)
