"""Batches: run one published workflow version on every row of a dataset, retry its failed rows, cancel it.

A batch is a run of its own whose graph is a trigger and one for_each node calling the chosen
version once per row (engine.runs.children.start_for_each): durability, concurrency, costs and
budgets are the engine's. Rows are checked against the version's input schema first, so a
batch whose rows do not match is refused naming the row and the field, and nothing is created.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from accounts.audit import record
from builder.models import WorkflowVersion
from datasets import row_inputs
from datasets.models import Batch, Dataset, Source
from engine import runs
from engine.models import Run, TriggerKind
from engine.runs import children

Actor = User | AnonymousUser | None
MAX_CONCURRENCY = 500
MAX_OUTPUT_FIELDS = 20
# A dotted path into a row run's output: `label`, `reply.text`, `labels.0`.
FIELD_PATH = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")


class BatchInvalid(ValueError):
    """Bad input; `field` names the form or API field at fault, `problems` the rows that do not match."""

    def __init__(self, field: str, reason: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(reason)
        self.field = field
        self.problems = problems or []


@dataclass(frozen=True)
class BatchSpec:
    dataset: Dataset
    version: WorkflowVersion
    concurrency: int = 10
    output_fields: tuple[str, ...] = ()


def version_choices(workspace_id: int) -> list[tuple[int, str]]:
    """Published versions of the workspace's workflows that are not archived, newest first within each."""
    versions = (
        WorkflowVersion.objects.filter(workflow__workspace_id=workspace_id, workflow__archived_at=None)
        .select_related("workflow")
        .order_by("workflow__name", "workflow_id", "-number")
    )
    return [(version.pk, f"{version.workflow.name} · v{version.number}") for version in versions]


def output_fields(text: str) -> tuple[str, ...]:
    """Output fields as typed in a form: comma or space separated dotted paths."""
    return tuple(part for part in re.split(r"[\s,]+", text.strip()) if part)


def _checked_fields(fields: tuple[str, ...]) -> list[str]:
    if len(fields) > MAX_OUTPUT_FIELDS:
        raise BatchInvalid("output_fields", f"choose at most {MAX_OUTPUT_FIELDS} output fields")
    for path in fields:
        if len(path) > 200 or not FIELD_PATH.match(path):
            raise BatchInvalid("output_fields", f"{path[:50]!r} is not a field path such as label or reply.text")
    return list(dict.fromkeys(fields))


def row_inputs_for(dataset: Dataset, version: WorkflowVersion) -> list[dict[str, Any]]:
    """The dataset's rows as inputs of `version`, in order; BatchInvalid naming the rows that do not match."""
    rows = dataset.rows.order_by("position").iterator(chunk_size=2000)
    schema = row_inputs.input_schema(version.graph)
    try:
        return row_inputs.check(rows, schema, from_text=dataset.source == Source.CSV)
    except row_inputs.RowsMismatch as mismatch:
        raise BatchInvalid("dataset_id", str(mismatch), [p.as_dict() for p in mismatch.problems]) from None


def start_batch(spec: BatchSpec, by: Actor, trigger_kind: str = TriggerKind.MANUAL) -> Batch:
    """Check everything, then start the batch's run; BatchInvalid (nothing created) when something does not fit."""
    dataset, version = spec.dataset, spec.version
    workflow = version.workflow
    if dataset.workspace_id != workflow.workspace_id:
        raise BatchInvalid("dataset_id", "the dataset and the workflow belong to different workspaces")
    if workflow.archived_at is not None:
        raise BatchInvalid("version_id", f"{workflow.name!r} is archived")
    if not 1 <= spec.concurrency <= MAX_CONCURRENCY:
        raise BatchInvalid("concurrency", f"the concurrency must be from 1 to {MAX_CONCURRENCY}")
    fields = _checked_fields(spec.output_fields)
    if dataset.row_count > (limit := settings.ENGINE_FOR_EACH_MAX_ITEMS):
        raise BatchInvalid("dataset_id", f"the dataset has {dataset.row_count:,} rows; a batch runs at most {limit:,}")
    items = row_inputs_for(dataset, version)
    actor = by if isinstance(by, User) else None
    name = f"Batch: {workflow.name} on {dataset.name}"[:200]
    try:
        # One transaction: a batch row with its run, or neither (the run's messages go after the commit).
        with transaction.atomic():
            run = children.start_for_each(
                workflow.workspace_id,
                workflow.pk,
                version.number,
                items,
                runs.Options(trigger_kind=trigger_kind, created_by=actor),
                max_concurrency=spec.concurrency,
                on_item_failure="continue",
                name=name,
            )
            batch = Batch.objects.create(
                workspace_id=workflow.workspace_id,
                dataset=dataset,
                dataset_name=dataset.name,
                workflow=workflow,
                version=version,
                run=run,
                concurrency=spec.concurrency,
                output_fields=fields,
                row_count=len(items),
                created_by=actor,
            )
            record(by, "batch.started", workspace=dataset.workspace, target=batch, run=run.pk, rows=len(items))
    except runs.RunRejected as rejected:
        raise BatchInvalid("version_id", str(rejected), rejected.problems) from None
    return batch


def retry_failed_rows(batch: Batch, by: Actor) -> bool:
    """Run the batch's failed and cancelled rows again, keeping those that succeeded; False while it still runs
    or when no row failed."""
    retried = children.retry_failed_items(batch.run, children.BATCH_NODE, by if isinstance(by, User) else None)
    if retried:
        record(by, "batch.retried", workspace=batch.workspace, target=batch, run=batch.run_id)
    return retried


def cancel(batch: Batch, by: Actor) -> bool:
    """Cancel the batch's run and with it every row still running; False when it had already ended."""
    cancelled = runs.cancel_run(Run(pk=batch.run_id), by=by if isinstance(by, User) else None)
    if cancelled:
        record(by, "batch.cancelled", workspace=batch.workspace, target=batch, run=batch.run_id)
    return cancelled
