"""Runs, their node runs and events, the effect ledger and the node result cache.

The status fields of Run and NodeRun change only through engine/runs.py, which pairs every
change with a RunEvent in the same transaction (tests/engine/test_status_owner.py checks that
no other module writes one).
"""

from django.conf import settings
from django.db import models

from accounts.models import WorkspaceOwned


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class NodeStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the node raised
    CRASHED = "crashed"  # the worker or infrastructure died under it
    SKIPPED = "skipped"
    WAITING = "waiting"
    CANCELLED = "cancelled"


class TriggerKind(models.TextChoices):
    MANUAL = "manual"
    API = "api"
    WEBHOOK = "webhook"
    SCHEDULE = "schedule"
    TEST = "test"


ENDED_RUN = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})


class Run(WorkspaceOwned):
    # Ids rather than foreign keys: the engine imports no app, and a run outlives edits to
    # its workflow because it keeps its own copy of the graph.
    workflow_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    workflow_name = models.CharField(max_length=200, blank=True)
    version_id = models.BigIntegerField(null=True, blank=True)
    version_number = models.PositiveIntegerField(null=True, blank=True)
    graph = models.JSONField()
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(null=True, blank=True)
    escalation_reason = models.TextField(blank=True)
    error = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    trigger_kind = models.CharField(max_length=16, choices=TriggerKind.choices, default=TriggerKind.MANUAL)
    is_test = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    last_seq = models.PositiveIntegerField(default=0)
    # A client's Idempotency-Key: the same key for the same workflow returns the same run.
    idempotency_key = models.CharField(max_length=200, blank=True)
    # Where to POST a signed notice when the run ends (engine/webhooks.py).
    callback_urls = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="run_by_workspace"),
            # The cost report's per-run figures (costs/per_run.py) read only these: runs in a
            # date range with their cost, and the costliest runs first.
            models.Index(
                fields=["workspace", "created_at"],
                include=["cost", "workflow_id"],
                condition=models.Q(is_test=False, cost__gt=0),
                name="run_billed_by_time",
            ),
            models.Index(
                fields=["workspace", "-cost"],
                include=["created_at", "workflow_id"],
                condition=models.Q(is_test=False, cost__gt=0),
                name="run_costliest",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "workflow_id", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="one_run_per_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.workflow_name or 'a workflow'}"


class NodeRun(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="node_runs")
    node_id = models.CharField(max_length=64)
    node_type = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=NodeStatus.choices, default=NodeStatus.PENDING)
    attempt = models.PositiveIntegerField(default=0)
    crashes = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=1)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    # The output handle a branching node chose; blank means all its outputs are active.
    handle = models.CharField(max_length=64, blank=True)
    # Set when the node may run (now, after a backoff, or when a wait ends); null = not ready.
    wake_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    resume = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    usage = models.JSONField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    cache_hit = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "node_id"], name="one_node_run_per_node")]
        indexes = [
            models.Index(fields=["status", "wake_at"], name="node_run_due"),
            models.Index(fields=["status", "lease_expires_at"], name="node_run_lease"),
        ]

    def __str__(self) -> str:
        return f"{self.node_id} in run {self.run_id}"


class RunEvent(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=32)
    node_id = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="one_event_per_seq")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.type} {self.node_id}".strip()


class EffectStatus(models.TextChoices):
    IN_FLIGHT = "in_flight"
    DONE = "done"


class Effect(models.Model):
    """One external side effect of a node, done at most once per run, node and key."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="effects")
    node_id = models.CharField(max_length=64)
    key = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=EffectStatus.choices, default=EffectStatus.IN_FLIGHT)
    result = models.JSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "node_id", "key"], name="one_effect_per_key")]

    def __str__(self) -> str:
        return f"{self.key} of {self.node_id} in run {self.run_id}: {self.status}"


class CachedResult(WorkspaceOwned):
    key = models.CharField(max_length=64)
    node_type = models.CharField(max_length=64)
    output = models.JSONField(null=True, blank=True)
    handle = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="one_cached_result_per_key")]

    def __str__(self) -> str:
        return f"{self.node_type} result {self.key[:12]}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One notice that a run ended, to one URL, retried with backoff until delivered or given up."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="deliveries")
    url = models.URLField(max_length=2000)
    event_id = models.UUIDField(unique=True)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_id} to {self.url}: {self.status}"
