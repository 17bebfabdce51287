"""Model provider configurations per workspace, cached model answers, budget spend per period and its holds."""

from decimal import Decimal

from django.db import models

from accounts.models import WorkspaceOwned
from engine.models.costs import Budget


class ProviderKind(models.TextChoices):
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible (OpenAI, Azure, vLLM, Ollama, llama.cpp)"


class ProviderConfig(WorkspaceOwned):
    """A model server a workspace may call. The API key is stored encrypted (engine/secrets.py) and never shown."""

    name = models.SlugField(max_length=100, help_text="How nodes name this provider; 'builtin' is taken")
    kind = models.CharField(max_length=32, choices=ProviderKind.choices, default=ProviderKind.OPENAI_COMPATIBLE)
    base_url = models.URLField(max_length=500)
    chat_models = models.JSONField(default=list, blank=True)
    embedding_models = models.JSONField(default=list, blank=True)
    # Extra request headers (for example Azure's api-version routing); not secret, shown in forms.
    headers = models.JSONField(default=dict, blank=True)
    timeout_s = models.PositiveIntegerField(default=60)
    api_key_encrypted = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="one_provider_name_per_workspace")]

    def __str__(self) -> str:
        return f"{self.name} ({self.base_url})"

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted)


class CachedCompletion(WorkspaceOwned):
    """A model's answer kept for a node's cache TTL, keyed on provider, model, messages and parameters."""

    key = models.CharField(max_length=64)
    response = models.JSONField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="one_cached_completion_per_key")]
        indexes = [models.Index(fields=["expires_at"], name="cached_completion_expiry")]

    def __str__(self) -> str:
        return f"cached completion {self.key[:12]}"


class BudgetSpend(models.Model):
    """What a budget has spent and holds reserved in one period (a run id, or a calendar month).

    Model calls lock this row to reserve an estimate before the call and settle the actual
    cost after it (engine/budgets.py); `alerted_at` makes the alert fire once per period.
    """

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="spends")
    period = models.CharField(max_length=32, help_text="'run:<id>' or 'YYYY-MM'")
    spent = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0))
    reserved = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0))
    calls = models.PositiveIntegerField(default=0)
    alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["budget", "period"], name="one_spend_per_budget_period")]

    def __str__(self) -> str:
        return f"{self.budget_id} {self.period}: ${self.spent}"


class BudgetHold(models.Model):
    """An estimate held on one budget period for one model call in flight.

    Settling or releasing the call deletes its holds and takes their amount off
    `BudgetSpend.reserved` under the spend row's lock; whoever deletes a hold gives it back, so
    a hold is given back once. A worker killed mid-call leaves its holds behind: the call's
    outcome is unknown (the provider may have answered and charged), so the reaper charges
    those whose node attempt is no longer running at their amount, as an estimated cost entry
    (engine.budgets.charge_orphans). A call under no budget keeps one hold without a spend
    row, only for that. `bill` holds what the estimated entry needs (call number, node type,
    provider, model).
    """

    spend = models.ForeignKey(BudgetSpend, null=True, on_delete=models.CASCADE, related_name="holds")
    run_id = models.BigIntegerField()
    node_id = models.CharField(max_length=64)
    attempt = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=14, decimal_places=6)
    created_at = models.DateTimeField()
    bill = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["run_id", "node_id"], name="budget_hold_node")]

    def __str__(self) -> str:
        return f"{self.amount} on {self.spend_id} for {self.node_id}#{self.attempt} of run {self.run_id}"
