"""Token costs: the price table, one entry per model call, a daily rollup, and budgets.

CostEntry rows are the truth; CostDaily is maintained in the same transaction as each entry
(engine/costs.py) so that reports over months of entries read a few thousand rows.
Costs are in US dollars.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models

from accounts.models import Workspace, WorkspaceOwned
from engine.models.runs import Run, RunPurpose


class ModelPrice(models.Model):
    """What one million tokens cost from a time on; a workspace row overrides the global one.

    A price change is a new row: calls made before it keep the price they were billed at.
    """

    workspace = models.ForeignKey(Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    provider_kind = models.CharField(max_length=32)
    model = models.CharField(max_length=200)
    input_per_million = models.DecimalField(max_digits=12, decimal_places=6)
    output_per_million = models.DecimalField(max_digits=12, decimal_places=6)
    effective_from = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["provider_kind", "model", "-effective_from"]
        indexes = [models.Index(fields=["provider_kind", "model", "-effective_from"], name="price_lookup")]

    def __str__(self) -> str:
        return f"{self.provider_kind}/{self.model} from {self.effective_from:%Y-%m-%d}"


class CostEntry(WorkspaceOwned):
    """One model call of one node attempt: its tokens and what it cost at the time.

    The run's dimensions are copied in so reports never join runs; `call` numbers the calls
    within an attempt (a structured-output repair or a fallback is a second call).
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="cost_entries")
    node_id = models.CharField(max_length=64)
    node_type = models.CharField(max_length=64)
    attempt = models.PositiveIntegerField()
    call = models.PositiveIntegerField(default=0)
    workflow_id = models.BigIntegerField(null=True, blank=True)
    workflow_name = models.CharField(max_length=200, blank=True)
    version_number = models.PositiveIntegerField(null=True, blank=True)
    trigger_kind = models.CharField(max_length=16)
    is_test = models.BooleanField(default=False)
    # The run's purpose: evaluation spend (eval runs and their judges) is reported apart.
    purpose = models.CharField(max_length=16, choices=RunPurpose.choices, default=RunPurpose.WORK, blank=True)
    provider = models.CharField(max_length=100, help_text="The provider configuration's name")
    provider_kind = models.CharField(max_length=32)
    model = models.CharField(max_length=200)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0))
    # A cached answer costs nothing; `saved` is what the call would have cost.
    cached = models.BooleanField(default=False)
    saved = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0))
    price = models.ForeignKey(ModelPrice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    # A call whose outcome is unknown (its worker died mid-call), charged at its budget reservation.
    estimated = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "cost entries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "node_id", "attempt", "call"], name="one_cost_entry_per_call")
        ]
        indexes = [
            models.Index(fields=["workspace", "created_at"], name="cost_by_time"),
            models.Index(fields=["workspace", "workflow_id", "created_at"], name="cost_by_workflow"),
            models.Index(fields=["workspace", "model", "created_at"], name="cost_by_model"),
            # Per-run cost of one model (costs/per_run.py), from the index alone.
            models.Index(
                fields=["workspace", "model", "created_at"],
                include=["run_id", "cost", "workflow_id"],
                condition=models.Q(is_test=False),
                name="cost_per_run_by_model",
            ),
            # Test-run spend, shown apart on the cost report: few rows, so a small partial index.
            models.Index(
                fields=["workspace", "created_at"],
                include=["cost"],
                condition=models.Q(is_test=True),
                name="cost_of_tests_by_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} in {self.node_id} of run {self.run_id}: ${self.cost}"


# What a CostDaily row is unique on: every dimension the reports group or filter by.
ROLLUP_DIMENSIONS = (
    "workspace",
    "day",
    "workflow_id",
    "version_number",
    "node_id",
    "node_type",
    "trigger_kind",
    "provider",
    "provider_kind",
    "model",
)


class CostDaily(WorkspaceOwned):
    """The sum of a day's cost entries that share every reported dimension."""

    day = models.DateField()
    # 0 rather than null (no workflow, or a draft) so that the unique key can be upserted.
    workflow_id = models.BigIntegerField(default=0)
    workflow_name = models.CharField(max_length=200, blank=True)
    version_number = models.PositiveIntegerField(default=0)
    node_id = models.CharField(max_length=64)
    node_type = models.CharField(max_length=64)
    trigger_kind = models.CharField(max_length=16)
    provider = models.CharField(max_length=100)
    provider_kind = models.CharField(max_length=32)
    model = models.CharField(max_length=200)
    calls = models.PositiveIntegerField(default=0)
    cached_calls = models.PositiveIntegerField(default=0)
    tokens_in = models.BigIntegerField(default=0)
    tokens_out = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0))
    saved = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0))

    class Meta:
        verbose_name_plural = "daily costs"
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(
                fields=list(ROLLUP_DIMENSIONS),
                name="one_cost_daily_per_dimensions",
            )
        ]
        indexes = [models.Index(fields=["workspace", "day"], name="cost_daily_by_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.workflow_name} {self.model}: ${self.cost}"


class BudgetScope(models.TextChoices):
    RUN = "run", "Each run"
    WORKFLOW_MONTH = "workflow_month", "A workflow per calendar month"
    WORKSPACE_MONTH = "workspace_month", "The workspace per calendar month"


class Budget(WorkspaceOwned):
    """A spending limit; a model call that would exceed it fails naming the budget."""

    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=20, choices=BudgetScope.choices)
    # For workflow budgets; run budgets apply to every run (of this workflow if set).
    workflow_id = models.BigIntegerField(null=True, blank=True)
    limit = models.DecimalField(max_digits=14, decimal_places=6)
    # Crossing this share of the limit emits an event and emails the owners.
    alert_percent = models.PositiveSmallIntegerField(default=80)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scope", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_scope_display()}): ${self.limit}"
