"""Datasets (named tables of JSON rows a workspace keeps) and batches (one workflow run over every row)."""

from django.conf import settings
from django.db import models

from accounts.models import WorkspaceOwned


class Source(models.TextChoices):
    CSV = "csv", "CSV file"
    JSONL = "jsonl", "JSON Lines file"
    ROWS = "rows", "JSON rows"
    RUNS = "runs", "Inputs of earlier runs"


class Dataset(WorkspaceOwned):
    """Rows are JSON objects; `columns` is the union of their keys in first-seen order, for tables and exports."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    columns = models.JSONField(default=list, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    size_bytes = models.PositiveBigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="dataset_name_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DatasetRow(models.Model):
    """One row; `line` is where it was in the file (1-based, the header counted), 0 when it came from no file."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="rows")
    position = models.PositiveIntegerField()
    line = models.PositiveIntegerField(default=0)
    data = models.JSONField()

    class Meta:
        ordering = ["dataset", "position"]
        constraints = [models.UniqueConstraint(fields=["dataset", "position"], name="one_dataset_row_per_position")]

    def __str__(self) -> str:
        return f"row {self.position + 1} of dataset {self.dataset_id}"


class Batch(WorkspaceOwned):
    """A run of one workflow version over every row of a dataset: its own run, whose for-each node
    starts one child run per row. Progress, costs and results are read from those runs."""

    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="batches")
    dataset_name = models.CharField(max_length=200)
    workflow = models.ForeignKey("builder.Workflow", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey("builder.WorkflowVersion", on_delete=models.CASCADE, related_name="+")
    run = models.OneToOneField("engine.Run", on_delete=models.CASCADE, related_name="+")
    concurrency = models.PositiveIntegerField()
    output_fields = models.JSONField(default=list, blank=True)
    row_count = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"batch {self.pk} over {self.dataset_name}"
