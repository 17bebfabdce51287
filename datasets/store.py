"""Storing datasets: create one from a file, from JSON rows or from earlier runs' inputs (every row or
none), and delete one. Pages and the API both come through here, so both refuse alike."""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from accounts.audit import record
from accounts.models import Workspace
from datasets import parsing
from datasets.models import Dataset, DatasetRow, Source
from engine.models import Run
from engine.upload_limit import RefusedUpload

Actor = User | AnonymousUser
# Rows per INSERT: a statement's parameters stay far below PostgreSQL's 65,535.
INSERT_CHUNK = 1000
MAX_RUNS = 1000
FORMATS = {"csv": Source.CSV, "jsonl": Source.JSONL, "ndjson": Source.JSONL}


class DatasetInvalid(ValueError):
    """Bad input; `field` names the form or API field at fault, `problems` the rows ({line or path, message})."""

    def __init__(self, field: str, reason: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(reason)
        self.field = field
        self.problems = problems or []


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str = ""


def max_rows() -> int:
    return int(settings.DATASET_MAX_ROWS)


def max_file_bytes() -> int:
    """An uploaded file is refused past either limit: the dataset's, or every upload's (engine/upload_limit.py)."""
    return min(int(settings.DATASET_MAX_BYTES), int(settings.MAX_UPLOAD_FILE_BYTES))


def format_of(filename: str, chosen: str = "") -> Source:
    """The format chosen, else the one the file's extension names."""
    extension = filename.rsplit(".", 1)[-1] if "." in filename else ""
    wanted = (chosen or extension).lower()
    if wanted not in FORMATS:
        raise DatasetInvalid("format", "choose the format: csv or jsonl (or name the file .csv or .jsonl)")
    return FORMATS[wanted]


def parse_text(text: str, source: Source) -> parsing.Parsed:
    if source == Source.CSV:
        return parsing.parse_csv(text, max_rows())
    return parsing.parse_jsonl(text, max_rows())


def from_upload(workspace: Workspace, spec: DatasetSpec, file: UploadedFile, chosen: str, by: Actor) -> Dataset:
    """A dataset from an uploaded CSV or JSON Lines file, refused whole on its size or any malformed row."""
    source = format_of(file.name or "", chosen)
    limit = max_file_bytes()
    if isinstance(file, RefusedUpload) or (file.size or 0) > limit:
        raise DatasetInvalid("file", f"the file is {file.size:,} bytes, over the limit of {limit:,}")
    try:
        text = parsing.decode(file.read())
    except ValueError as error:
        raise DatasetInvalid("file", str(error)) from None
    return create(workspace, spec, source, parse_text(text, source), by, field="file")


def from_text(workspace: Workspace, spec: DatasetSpec, text: str, source: Source, by: Actor) -> Dataset:
    """A dataset from pasted CSV or JSON Lines."""
    return create(workspace, spec, source, parse_text(text, source), by, field="text")


def from_rows(workspace: Workspace, spec: DatasetSpec, rows: list[Any], by: Actor) -> Dataset:
    return create(workspace, spec, Source.ROWS, parsing.parse_rows(rows, max_rows()), by, field="rows")


def run_inputs(workspace_id: int, workflow_id: int, run_ids: list[int] | None, limit: int) -> list[Run]:
    """The workflow's runs whose inputs a dataset can take: those named, else the latest `limit`; never test runs
    or child runs (a batch's row runs would otherwise come back as rows)."""
    runs = Run.objects.filter(
        workspace_id=workspace_id, workflow_id=workflow_id, is_test=False, parent_run__isnull=True
    ).only("id", "input", "status", "created_at")
    if run_ids is not None:
        return list(runs.filter(pk__in=run_ids))
    return list(runs.order_by("-created_at", "-id")[: min(limit, MAX_RUNS)])


def from_runs(
    workspace: Workspace, spec: DatasetSpec, workflow_id: int, run_ids: list[int] | None, limit: int, by: Actor
) -> Dataset:
    """A dataset of earlier runs' inputs, oldest first."""
    runs = run_inputs(workspace.pk, workflow_id, run_ids, limit)
    if run_ids is not None and (missing := set(run_ids) - {run.pk for run in runs}):
        raise DatasetInvalid("run_ids", f"no run of this workflow has the id {min(missing)}")
    if not runs:
        raise DatasetInvalid("workflow_id", "this workflow has no runs (test runs do not count)")
    runs.sort(key=lambda run: (run.created_at, run.pk))
    return create(workspace, spec, Source.RUNS, parsing.parse_rows([run.input for run in runs], max_rows()), by)


def refusal(parsed: parsing.Parsed, field: str) -> DatasetInvalid | None:
    """Why `parsed` cannot become a dataset, naming every malformed row (up to parsing.MAX_PROBLEMS)."""
    if parsed.problems:
        count = parsed.problem_count
        listed = "; ".join(f"{p.where()}: {p.message}" for p in parsed.problems[:10])
        more = f"; and {count - 10} more" if count > 10 else ""
        noun = "row is" if count == 1 else "rows are"
        reason = f"{count} {noun} malformed, nothing was imported: {listed}{more}"
        return DatasetInvalid(field, reason, [p.as_dict(field) for p in parsed.problems])
    if parsed.too_many_rows:
        return DatasetInvalid(field, f"more than {max_rows():,} rows, the most a dataset may hold")
    if parsed.size_bytes > (limit := settings.DATASET_MAX_BYTES):
        return DatasetInvalid(field, f"the rows take {parsed.size_bytes:,} bytes as JSON, over the limit of {limit:,}")
    if not parsed.rows:
        return DatasetInvalid(field, "there are no rows")
    return None


def columns_of(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


def create(
    workspace: Workspace, spec: DatasetSpec, source: Source, parsed: parsing.Parsed, by: Actor, field: str = "rows"
) -> Dataset:
    """Store the dataset and every row in one transaction, or raise DatasetInvalid having stored nothing."""
    name = spec.name.strip()[:200]
    if not name:
        raise DatasetInvalid("name", "a name is required")
    if (refused := refusal(parsed, field)) is not None:
        raise refused
    dataset = Dataset(
        workspace=workspace,
        name=name,
        description=spec.description,
        source=source,
        columns=columns_of(parsed.rows),
        row_count=len(parsed.rows),
        size_bytes=parsed.size_bytes,
        created_by=by if isinstance(by, User) else None,
    )
    try:
        with transaction.atomic():
            dataset.save()
            for start in range(0, len(parsed.rows), INSERT_CHUNK):
                chunk = zip(parsed.rows[start : start + INSERT_CHUNK], parsed.lines[start:], strict=False)
                DatasetRow.objects.bulk_create(
                    DatasetRow(dataset=dataset, position=start + offset, line=line, data=row)
                    for offset, (row, line) in enumerate(chunk)
                )
    except IntegrityError:
        raise DatasetInvalid("name", f"a dataset named {name!r} already exists") from None
    record(by, "dataset.created", workspace=workspace, target=dataset, rows=dataset.row_count, source=source)
    return dataset


def delete(dataset: Dataset, by: Actor) -> None:
    """Delete the dataset and its rows; its batches keep their runs and results."""
    record(by, "dataset.deleted", workspace=dataset.workspace, target=dataset, rows=dataset.row_count)
    dataset.delete()
