"""Workspaces, their members and roles, and the append-only audit log."""

from typing import Any, ClassVar

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    REVIEWER = "reviewer", "Reviewer"
    VIEWER = "viewer", "Viewer"


class Workspace(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    # Destinations outbound HTTP may reach although they are private (engine/outbound.py):
    # host names, IPs or CIDRs, each optionally with :port.
    http_allowlist = models.JSONField(default=list, blank=True)
    # Signs completion webhooks (HMAC-SHA256); receivers verify with it. Made on first use.
    webhook_secret = models.CharField(max_length=64, blank=True)
    # The embedding model semantic similarity uses when a scorer names none, and knowledge bases are offered
    # first: a provider of the workspace and one of its embedding models. Blank: the built-in hashing
    # embeddings (engine.workspace_embeddings reads and checks it; accounts cannot import the engine).
    embedding_provider = models.CharField(max_length=100, blank=True)
    embedding_model = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the user switches to (or creates, or joins) the workspace: sign-in lands here.
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="one_membership_per_user")]
        ordering = ["workspace", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} as {self.role}"


class WorkspaceOwned(models.Model):
    """Base for every domain object: it belongs to exactly one workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class Scope(models.TextChoices):
    RUNS_TRIGGER = "runs:trigger", "Start, cancel and retry runs"
    RUNS_READ = "runs:read", "Read runs and their events"
    WORKFLOWS_READ = "workflows:read", "Read workflows and node types"
    WORKFLOWS_WRITE = "workflows:write", "Change workflows"
    APPROVALS_DECIDE = "approvals:decide", "Decide approvals"
    KNOWLEDGE_READ = "knowledge:read", "Read and query knowledge bases"
    KNOWLEDGE_WRITE = "knowledge:write", "Change knowledge bases"
    DATASETS_READ = "datasets:read", "Read datasets and batches"
    DATASETS_WRITE = "datasets:write", "Change datasets"
    WORKSPACE_READ = "workspace:read", "Read the workspace and its members"
    MCP = "mcp", "Call the workflows exposed as MCP tools (the /mcp endpoint)"


class ApiToken(models.Model):
    """A secret for programs. Only its SHA-256 is stored; the token is shown once, at creation.

    It acts as the user who made it, in one workspace, limited to its scopes.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AuditLogIsAppendOnly(Exception):
    pass


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditLogIsAppendOnly("audit entries cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("audit entries cannot be deleted")


class AuditEntry(models.Model):
    """One thing someone did. Rows are only ever inserted; write them with accounts.audit.record."""

    # PROTECT: a workspace with history cannot silently lose it.
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept as text too, so the entry still says who acted after the account is deleted.
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects: ClassVar[AuditQuerySet] = AuditQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="audit_by_workspace"),
            models.Index(fields=["target_type", "target_id"], name="audit_by_target"),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor_label or 'system'} {self.action} {self.target_label}".strip()

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditLogIsAppendOnly("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("audit entries cannot be deleted")


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    REVOKED = "revoked", "Revoked"


class Invitation(models.Model):
    """An owner's offer of one role in one workspace; nobody becomes a member until the invitee accepts.

    The invitee is named as the owner typed it (a username or an e-mail address) and is
    matched against the signed-in user only when they look, so whether an account exists
    is never told to the owner. `user` is filled when a username named an account at once.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    username = models.CharField(max_length=150, blank=True)
    email = models.EmailField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="invitations"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    status = models.CharField(max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(username="") | ~models.Q(email=""), name="invitation_names_someone"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "status"], name="invitation_by_workspace"),
            models.Index(fields=["username", "status"], name="invitation_by_username"),
            models.Index(fields=["email", "status"], name="invitation_by_email"),
        ]

    def __str__(self) -> str:
        return f"invitation of {self.invitee} to {self.workspace_id} as {self.role}"

    @property
    def invitee(self) -> str:
        return self.username or self.email
