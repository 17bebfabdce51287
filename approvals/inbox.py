"""What the inbox lists: pending items by scope and order with counts, and decided items with filters."""

from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from accounts.models import Membership
from approvals.models import ApprovalRequest, Assignee, Decision, Status
from engine.models import RunStatus
from monitoring.filters import DateRangeForm, narrowed

PAGE = 25
SCOPES = {"all": "All", "me": "Assigned to me", "roles": "For my role"}
SORTS = {"age": "Oldest first", "deadline": "Deadline first"}
OPEN_RUN = [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING]


class InboxForm(forms.Form):
    scope = forms.ChoiceField(required=False, choices=list(SCOPES.items()))
    sort = forms.ChoiceField(required=False, choices=list(SORTS.items()))
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)


class HistoryForm(DateRangeForm):
    decision = forms.ChoiceField(required=False, choices=[("", "any decision"), *Decision.choices])
    status = forms.ChoiceField(
        required=False, choices=[("", "any outcome"), *[c for c in Status.choices if c[0] != Status.PENDING]]
    )
    reviewer = forms.CharField(required=False, max_length=150, strip=True)
    workflow = forms.IntegerField(required=False, min_value=1)
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)


@dataclass
class Page:
    items: list[ApprovalRequest]
    number: int
    has_more: bool


def _assigned_to(member: Membership, *, by_user: bool) -> Exists:
    who = Q(user_id=member.user_id) if by_user else Q(role=member.role)
    return Exists(Assignee.objects.filter(who, request=OuterRef("pk")))


def pending(member: Membership) -> QuerySet[ApprovalRequest]:
    """Pending items of the member's workspace whose run still waits (a cancelled run's item is moot)."""
    return ApprovalRequest.objects.filter(
        workspace_id=member.workspace_id, status=Status.PENDING, run__status__in=OPEN_RUN
    )


def scoped(items: QuerySet[ApprovalRequest], member: Membership, scope: str) -> QuerySet[ApprovalRequest]:
    if scope == "me":
        return items.filter(_assigned_to(member, by_user=True))
    if scope == "roles":
        return items.filter(_assigned_to(member, by_user=False))
    return items


def counts(member: Membership) -> dict[str, int]:
    """Pending counts per scope.

    Three counts, the scoped ones starting from the assignee index: one aggregate with two
    EXISTS filters evaluated both subqueries for every pending row (60 ms at 10,000 items).
    """
    open_items = {
        "request__workspace_id": member.workspace_id,
        "request__status": Status.PENDING,
        "request__run__status__in": OPEN_RUN,
    }
    return {
        "all": pending(member).count(),
        "me": Assignee.objects.filter(user_id=member.user_id, **open_items).count(),
        "roles": Assignee.objects.filter(role=member.role, **open_items).count(),
    }


def ordered(items: QuerySet[ApprovalRequest], sort: str) -> QuerySet[ApprovalRequest]:
    if sort == "deadline":
        return items.order_by(F("deadline").asc(nulls_last=True), "created_at", "pk")
    return items.order_by("created_at", "pk")


def page_of(items: QuerySet[ApprovalRequest], number: int) -> Page:
    start = (number - 1) * PAGE
    rows = list(items.select_related("claimed_by").prefetch_related("assignees__user")[start : start + PAGE + 1])
    return Page(items=rows[:PAGE], number=number, has_more=len(rows) > PAGE)


def inbox_page(member: Membership, scope: str, sort: str, number: int = 1) -> Page:
    return page_of(ordered(scoped(pending(member), member, scope), sort), number)


HISTORY_LOOKUPS = {
    "decision": "decision",
    "status": "status",
    "reviewer": "decided_by_label__iexact",
    "workflow": "workflow_id",
    "since": "decided_at__date__gte",
    "until": "decided_at__date__lte",
}


def history(member: Membership, data: dict[str, Any]) -> Page:
    """Decided items, newest decision first, filtered by the HistoryForm's cleaned data."""
    items = ApprovalRequest.objects.filter(workspace_id=member.workspace_id).exclude(status=Status.PENDING)
    items = narrowed(items, data, HISTORY_LOOKUPS)
    return page_of(items.order_by("-decided_at", "-pk"), data.get("page") or 1)
