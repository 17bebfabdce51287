"""Eval sets (rows of input and expected values, with their scorers), proposals from reviewer corrections,
and eval runs (a workflow version or draft run over a set, each row scored)."""

from decimal import Decimal

from django.conf import settings
from django.db import models

from accounts.models import WorkspaceOwned

# The largest id or row index a query may name: SQLite (the embedded mode) cannot bind a larger int and
# raised OverflowError (a 500) where PostgreSQL found nothing; the API and pages refuse it naming the field.
LARGEST_KEY = 2**63 - 1


class EvalSet(WorkspaceOwned):
    """Rows to run a workflow on, with what each should give."""

    workflow = models.ForeignKey("builder.Workflow", on_delete=models.CASCADE, related_name="eval_sets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "name"]
        constraints = [models.UniqueConstraint(fields=["workflow", "name"], name="eval_set_name_unique")]

    def __str__(self) -> str:
        return self.name


class RowSource(models.TextChoices):
    DATASET = "dataset", "Dataset"
    RUN = "run", "Run"
    CORRECTION = "correction", "Reviewer correction"
    MANUAL = "manual", "Manual"


class EvalRow(models.Model):
    """One case: the workflow's input and the expected output (the whole of it, or named fields as an object
    that scorers read by their field). Where it came from is kept: `source` with the run, dataset row or
    approval it was taken from (`origin`: ids and names, kept when those are deleted)."""

    eval_set = models.ForeignKey(EvalSet, on_delete=models.CASCADE, related_name="rows")
    position = models.PositiveIntegerField()
    input = models.JSONField()
    expected = models.JSONField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=RowSource.choices)
    origin = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["eval_set", "position"]
        constraints = [models.UniqueConstraint(fields=["eval_set", "position"], name="one_eval_row_per_position")]

    def __str__(self) -> str:
        return f"row {self.position + 1} of eval set {self.eval_set_id}"


class ScorerKind(models.TextChoices):
    EXACT = "exact", "Exact match"
    CONTAINS = "contains", "Contains"
    REGEX = "regex", "Regular expression"
    JSON_SCHEMA = "json_schema", "JSON Schema valid"
    NUMBER = "number", "Number within tolerance"
    SIMILARITY = "similarity", "Semantic similarity"
    JUDGE = "judge", "Model as judge"


class Scorer(models.Model):
    """How a row's output is scored: `field` picks the value out of the row run's output (a dotted path, or
    `nodes.<node id>.<path>` for one node's output; blank = the whole output), `expected_field` out of the
    expected value (blank: the same path as `field`), `config` holds the kind's settings (evals/scorers.py
    checks them); a row passes when its score is at least `threshold`."""

    eval_set = models.ForeignKey(EvalSet, on_delete=models.CASCADE, related_name="scorers")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=ScorerKind.choices)
    field = models.CharField(max_length=200, blank=True)
    expected_field = models.CharField(max_length=200, blank=True)
    config = models.JSONField(default=dict, blank=True)
    threshold = models.FloatField(default=1.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["eval_set", "id"]
        constraints = [models.UniqueConstraint(fields=["eval_set", "name"], name="scorer_name_unique")]

    def __str__(self) -> str:
        return self.name


class CorrectionsSetting(models.Model):
    """Per workflow, what becomes of its reviewers' corrections: with `auto_add`, each is added at once as a row
    of `eval_set`; without it (or once that set is deleted) each waits as a proposal. `eval_set` is also the set
    the proposals list offers first."""

    workflow = models.OneToOneField(
        "builder.Workflow", primary_key=True, on_delete=models.CASCADE, related_name="eval_corrections"
    )
    auto_add = models.BooleanField(default=False)
    eval_set = models.ForeignKey(EvalSet, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"reviewer corrections of workflow {self.workflow_id}"


class ProposalStatus(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


class Proposal(WorkspaceOwned):
    """A reviewer's correction offered to the workflow's eval sets: the run's input and the corrected output."""

    workflow = models.ForeignKey("builder.Workflow", on_delete=models.CASCADE, related_name="eval_proposals")
    run_id = models.BigIntegerField()
    approval_id = models.BigIntegerField(unique=True)
    input = models.JSONField()
    expected = models.JSONField()
    reviewer_label = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.PENDING)
    row = models.ForeignKey(EvalRow, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"correction from approval {self.approval_id}"


class EvalRun(WorkspaceOwned):
    """An eval set run through a published version (or the draft as it was, `draft_revision`): the engine run
    whose for_each node runs every row, then each row's scores (EvalResult) and the aggregates."""

    eval_set = models.ForeignKey(EvalSet, on_delete=models.CASCADE, related_name="eval_runs")
    workflow = models.ForeignKey("builder.Workflow", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey("builder.WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL)
    version_number = models.PositiveIntegerField(null=True, blank=True)
    draft_revision = models.PositiveIntegerField(null=True, blank=True)
    run = models.OneToOneField("engine.Run", on_delete=models.CASCADE, related_name="+")
    row_count = models.PositiveIntegerField()
    # The scorers as they were when the run started: editing a scorer later does not change old figures.
    scorers = models.JSONField(default=list)
    # Set once every row is scored (evals/scoring.py): pass rate per scorer, mean score, cost, latency.
    aggregates = models.JSONField(null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"eval run {self.pk} of {self.eval_set_id}"

    @property
    def target_label(self) -> str:
        return f"v{self.version_number}" if self.version_number else f"draft (revision {self.draft_revision})"


class EvalResult(models.Model):
    """One row of an eval run: what the workflow gave, each scorer's {score, passed, errored, error}, cost
    (the row run's and its judge calls') and latency."""

    eval_run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="results")
    index = models.PositiveIntegerField()
    row = models.ForeignKey(EvalRow, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    input = models.JSONField()
    expected = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    # "pending" until scored, then the row run's status as it ended (a copy: the status is the engine's).
    outcome = models.CharField(max_length=16)
    error = models.TextField(blank=True)
    run_id = models.BigIntegerField(null=True, blank=True)
    scores = models.JSONField(default=dict)
    passed = models.BooleanField(default=False)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0))
    latency_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["eval_run", "index"]
        constraints = [models.UniqueConstraint(fields=["eval_run", "index"], name="one_eval_result_per_row")]

    def __str__(self) -> str:
        return f"row {self.index + 1} of eval run {self.eval_run_id}"
