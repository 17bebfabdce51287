"""Workflows (an editable draft graph) and their published, immutable versions."""

from django.conf import settings
from django.db import models

from accounts.models import WorkspaceOwned


def empty_graph() -> dict[str, object]:
    return {"schema_version": 1, "nodes": [], "edges": []}


class Workflow(WorkspaceOwned):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    draft = models.JSONField(default=empty_graph)
    # Bumped on every draft save; clients send it back so a concurrent edit is caught (409).
    draft_revision = models.PositiveIntegerField(default=1)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def latest_version(self) -> "WorkflowVersion | None":
        return self.versions.order_by("-number").first()


class WorkflowVersion(models.Model):
    """A published graph. Never edited: runs pin it, and a restore copies it back into the draft."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    graph = models.JSONField()
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="one_version_number_per_workflow")]

    def __str__(self) -> str:
        return f"{self.workflow} v{self.number}"
