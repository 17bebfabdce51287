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
    # Where to POST a signed notice when a run of this workflow ends (engine/webhooks.py).
    completion_url = models.URLField(max_length=2000, blank=True)
    # The trigger input the designer's test runs start with, pinned so every editor tests alike.
    sample_input = models.JSONField(default=dict, blank=True)
    # Offered as a tool at the workspace's MCP endpoint (builder/mcp_tools.py) once it has a published version.
    mcp_tool = models.BooleanField(default=False)
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
    # The publish gate's verdict when it was published ({draft_eval_run, base_eval_run, passed, reasons,
    # overridden}), and the owner's note when they published past a refusal.
    gate_report = models.JSONField(null=True, blank=True)
    gate_override_note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="one_version_number_per_workflow")]

    def __str__(self) -> str:
        return f"{self.workflow} v{self.number}"


class Schedule(models.Model):
    """Starts a run of the workflow's latest version with `input` at every fire time of `cron` in `timezone`."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="schedules")
    cron = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, default="UTC")
    input = models.JSONField(default=dict, blank=True)
    # Set: each fire starts a batch of the latest version over this dataset's rows (docs/batches.md) instead of one run.
    dataset = models.ForeignKey(
        "datasets.Dataset", null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    batch_concurrency = models.PositiveIntegerField(default=10)
    enabled = models.BooleanField(default=True)
    next_fire_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "id"]

    def __str__(self) -> str:
        return f"{self.workflow}: {self.cron} ({self.timezone})"


class WebhookTrigger(models.Model):
    """An inbound URL that starts runs; `token` is the secret part of the URL."""

    workflow = models.OneToOneField(Workflow, on_delete=models.CASCADE, related_name="webhook")
    token = models.CharField(max_length=64, unique=True)
    # When set, requests must carry an HMAC-SHA256 signature made with it.
    signing_secret = models.CharField(max_length=128, blank=True)
    enabled = models.BooleanField(default=True)
    # Templates over {"input": <request body>} that build the trigger input; empty = the body as is.
    input_mapping = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"webhook of {self.workflow}"


class PublishGate(models.Model):
    """A workflow's rule for publishing (builder/gates.py): on `eval_set`, the draft's pass rate of `scorer`
    is at least `min_pass_rate`, and no scorer's pass rate falls more than `max_drop_points` percentage
    points below the latest published version's. A rule left empty is not checked."""

    workflow = models.OneToOneField(Workflow, on_delete=models.CASCADE, related_name="publish_gate")
    eval_set = models.ForeignKey("evals.EvalSet", on_delete=models.CASCADE, related_name="+")
    scorer = models.CharField(max_length=100, blank=True)
    min_pass_rate = models.FloatField(null=True, blank=True)
    max_drop_points = models.FloatField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"publish gate of {self.workflow}"
