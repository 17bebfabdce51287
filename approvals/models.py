"""Approval requests raised by approval nodes, the votes cast on them, and who is asked to decide."""

from django.conf import settings
from django.db import models

from accounts.models import WorkspaceOwned
from engine.models import Run


class Status(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    TIMED_OUT = "timed_out"


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    EDIT = "edit_and_approve", "Edit and approve"
    REJECT = "reject", "Reject"
    ESCALATE = "escalate", "Escalate"


# The node's output handle for each final decision (engine.registry NodeResult.handle).
HANDLES = {
    Decision.APPROVE: "approved",
    Decision.EDIT: "approved",
    Decision.REJECT: "rejected",
    Decision.ESCALATE: "escalated",
}
STATUS_FOR = {
    Decision.APPROVE: Status.APPROVED,
    Decision.EDIT: Status.APPROVED,
    Decision.REJECT: Status.REJECTED,
    Decision.ESCALATE: Status.ESCALATED,
}
SYSTEM = "system"


class ApprovalRequest(WorkspaceOwned):
    """One approval node of one run waiting for people.

    `status` and `version` change only through conditional updates (approvals/decisions.py),
    so of two reviewers deciding at once exactly one wins.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    node_run_id = models.BigIntegerField()
    node_id = models.CharField(max_length=64)
    workflow_id = models.BigIntegerField(null=True, blank=True)
    workflow_name = models.CharField(max_length=200, blank=True)
    version_number = models.PositiveIntegerField(null=True, blank=True)
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    # [{label, kind, value}] rendered from the node's params when the request was raised.
    context = models.JSONField(default=list, blank=True)
    # [{name, label, type, value, required}]: what a reviewer may edit; `value` is the model's draft.
    fields = models.JSONField(default=list, blank=True)
    allowed_decisions = models.JSONField(default=list)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    approvals = models.PositiveSmallIntegerField(default=0)
    no_self_approval = models.BooleanField(default=False)
    run_created_by_id = models.BigIntegerField(null=True, blank=True)
    timeout_action = models.CharField(max_length=24, choices=Decision.choices, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    version = models.PositiveIntegerField(default=0)
    decision = models.CharField(max_length=24, choices=Decision.choices, blank=True)
    values = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by_label = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # An agent's tool call (approvals/tool_calls.py): its loop and step ("2.5"), blank for an approval node;
    # `tool_schema` is the tool's argument schema, which edited arguments must match.
    tool_key = models.CharField(max_length=64, blank=True, default="")
    tool_schema = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "node_id", "tool_key"], name="one_approval_per_node_run_call")
        ]
        indexes = [
            # The inbox's first page: pending items of a workspace, oldest first or by deadline.
            models.Index(fields=["workspace", "status", "created_at"], name="approval_inbox_age"),
            models.Index(fields=["workspace", "status", "deadline"], name="approval_inbox_deadline"),
            models.Index(fields=["workspace", "status", "-decided_at"], name="approval_history"),
        ]

    def __str__(self) -> str:
        return f"approval {self.pk}: {self.title}"

    @property
    def is_pending(self) -> bool:
        return self.status == Status.PENDING

    @property
    def handle(self) -> str:
        return HANDLES[Decision(self.decision)]


class Assignee(models.Model):
    """Who may decide: a user, or every member with a role. Rows, not JSON, so the inbox can filter with an index."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="assignees")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True)
    role = models.CharField(max_length=16, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "request"], name="assignee_by_user"),
            models.Index(fields=["role", "request"], name="assignee_by_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.role} on {self.request_id}"


class Vote(models.Model):
    """One reviewer's decision; with N of M approvals the request is decided by the Nth approve."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    user_label = models.CharField(max_length=150)
    decision = models.CharField(max_length=24, choices=Decision.choices)
    values = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "user"], name="one_vote_per_reviewer")]

    def __str__(self) -> str:
        return f"{self.user_label} {self.decision} on {self.request_id}"


class NotificationSetting(models.Model):
    """Per user: whether new approval items are emailed. Absent row = emailed."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    email_on_approval = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"notifications of {self.user_id}"
