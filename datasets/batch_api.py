"""Batches over the API: start one (a workflow version on every row of a dataset), list them, read progress, page
through results, download them, retry failed rows, cancel. Starting, retrying and cancelling need runs:trigger,
reading datasets:read."""

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import Any, Literal, cast

from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.models import Scope
from accounts.permissions import Action, get_for, require
from accounts.views import current_membership
from builder.models import Workflow, WorkflowVersion
from datasets import batches, results
from datasets.models import Batch, Dataset

router = Router(tags=["batches"])
MAX_PAGE = 500
DOWNLOADS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
LINES_PER_PART = 500  # a download's lines read per trip to the request's thread under ASGI


class BatchIn(Schema):
    dataset_id: int
    workflow_id: int
    version: int | None = Field(None, description="a published version number; none = the latest")
    concurrency: int = Field(10, ge=1, le=batches.MAX_CONCURRENCY, description="row runs at once")
    output_fields: list[str] = Field(
        default_factory=list,
        max_length=batches.MAX_OUTPUT_FIELDS,
        description="dotted paths into each row run's output, e.g. label or reply.text; none = the whole output",
    )


class ProgressOut(Schema):
    status: str = Field(description="the batch run's status")
    total: int
    done: int
    succeeded: int
    failed: int
    cancelled: int
    running: int
    pending: int
    percent: int
    cost: Decimal = Field(description="USD spent by the row runs so far")
    eta_seconds: int | None


class BatchOut(Schema):
    id: int
    dataset_id: int | None
    dataset_name: str
    workflow_id: int
    version: int
    run_id: int
    concurrency: int
    output_fields: list[str]
    row_count: int
    created_at: datetime
    progress: ProgressOut


class ResultOut(Schema):
    row: int = Field(description="1-based")
    input: Any
    output: Any = Field(description="the chosen output fields, or the whole output; null unless the row succeeded")
    status: str = Field(description="pending, or the row run's status")
    cost: Decimal
    run_id: int | None
    error: str


class ResultsOut(Schema):
    items: list[ResultOut]
    next_after: int = Field(description="pass as ?after= to continue")
    has_more: bool


class ResultsQuery(Schema):
    after: int = Field(0, ge=0, description="the last row number seen")
    limit: int = Field(100, ge=1, le=MAX_PAGE)


class DownloadQuery(Schema):
    format: Literal["csv", "jsonl"] = "csv"


def progress_out(progress: results.Progress) -> ProgressOut:
    counts = {name: getattr(progress, name) for name in ProgressOut.model_fields}
    return ProgressOut(**counts)


def batch_out(batch: Batch) -> BatchOut:
    return BatchOut(
        id=batch.pk,
        dataset_id=batch.dataset_id,
        dataset_name=batch.dataset_name,
        workflow_id=batch.workflow_id,
        version=batch.version.number,
        run_id=batch.run_id,
        concurrency=batch.concurrency,
        output_fields=batch.output_fields,
        row_count=batch.row_count,
        created_at=batch.created_at,
        progress=progress_out(results.progress(batch)),
    )


def result_out(result: results.RowResult) -> ResultOut:
    fields = ("input", "output", "status", "cost", "run_id", "error")
    return ResultOut(row=result.row, **{name: getattr(result, name) for name in fields})


def _batch(request: HttpRequest, batch_id: int, action: Action) -> Batch:
    return get_for(request.user, Batch.objects.select_related("version", "run"), action, pk=batch_id)


@router.post("/batches", response={201: BatchOut}, summary="Run a workflow version on every row of a dataset")
@token_scope(Scope.RUNS_TRIGGER)
def start_batch(request: HttpRequest, body: BatchIn) -> Status[BatchOut]:
    """Every row is checked against the version's input schema first: a row that does not match refuses the
    batch (422 naming the row and the field) and nothing is started."""
    me = current_membership(request)
    dataset = get_for(request.user, Dataset, Action.EDIT, pk=body.dataset_id, workspace_id=me.workspace_id)
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=body.workflow_id, workspace_id=me.workspace_id)
    versions = WorkflowVersion.objects.filter(workflow=workflow).order_by("-number")
    version = (versions.filter(number=body.version) if body.version is not None else versions).first()
    if version is None:
        which = f"version {body.version}" if body.version is not None else "a published version"
        raise batches.BatchInvalid("version", f"{workflow.name!r} has no {which}")
    spec = batches.BatchSpec(dataset, version, body.concurrency, tuple(body.output_fields))
    return Status(201, batch_out(batches.start_batch(spec, request.user)))


@router.get("/batches", response=list[BatchOut], summary="Batches of the current workspace, newest first")
@token_scope(Scope.DATASETS_READ)
def list_batches(request: HttpRequest) -> list[BatchOut]:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    found = Batch.objects.filter(workspace_id=me.workspace_id).select_related("version")[:100]
    return [batch_out(batch) for batch in found]


@router.get("/batches/{batch_id}", response=BatchOut, summary="A batch and its progress")
@token_scope(Scope.DATASETS_READ)
def get_batch(request: HttpRequest, batch_id: int) -> BatchOut:
    return batch_out(_batch(request, batch_id, Action.VIEW))


@router.get("/batches/{batch_id}/results", response=ResultsOut, summary="The rows' results in order, with a cursor")
@token_scope(Scope.DATASETS_READ)
def list_results(request: HttpRequest, batch_id: int, query: Query[ResultsQuery]) -> ResultsOut:
    batch = _batch(request, batch_id, Action.VIEW)
    page = results.results(batch, query.after, query.limit + 1)
    items = [result_out(row) for row in page[: query.limit]]
    return ResultsOut(items=items, next_after=items[-1].row if items else query.after, has_more=len(page) > query.limit)


@router.get(
    "/batches/{batch_id}/download",
    summary="Every row's result as CSV or JSON Lines (?format=csv|jsonl)",
)
@token_scope(Scope.DATASETS_READ)
def download(request: HttpRequest, batch_id: int, query: Query[DownloadQuery]) -> StreamingHttpResponse:
    return download_response(request, _batch(request, batch_id, Action.VIEW), query.format)


def download_response(request: HttpRequest, batch: Batch, format: str) -> StreamingHttpResponse:
    """The batch's results as a file, sent as they are read.

    Served under ASGI, Django reads a plain iterator to its end before it sends the first byte:
    the whole file in memory, and nothing sent until the last row is read. It sends an async
    iterator's parts as they come, so there the lines go out LINES_PER_PART at a time.
    """
    lines = results.csv_lines(batch) if format == "csv" else results.jsonl_lines(batch)
    content = _in_parts(lines) if isinstance(request, ASGIRequest) else lines
    response = StreamingHttpResponse(content, content_type=DOWNLOADS[format])
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}.{format}"'
    return response


async def _in_parts(lines: Iterator[str]) -> AsyncIterator[str]:
    """`lines`, read on the request's thread (where the view made them, on its database connection), a part at a
    time."""
    read = sync_to_async(_part, thread_sensitive=True)
    while part := await read(lines):
        yield part


def _part(lines: Iterator[str]) -> str:
    return "".join(islice(lines, LINES_PER_PART))


@router.post("/batches/{batch_id}/retry", response={202: BatchOut}, summary="Run the failed and cancelled rows again")
@token_scope(Scope.RUNS_TRIGGER)
def retry_batch(request: HttpRequest, batch_id: int) -> Status[BatchOut]:
    batch = _batch(request, batch_id, Action.EDIT)
    if not batches.retry_failed_rows(batch, cast(User, request.user)):
        raise HttpError(409, f"Batch {batch.pk} is still running or has no failed rows")
    return Status(202, batch_out(batch))


@router.post("/batches/{batch_id}/cancel", response={202: BatchOut}, summary="Cancel a batch and its running rows")
@token_scope(Scope.RUNS_TRIGGER)
def cancel_batch(request: HttpRequest, batch_id: int) -> Status[BatchOut]:
    batch = _batch(request, batch_id, Action.EDIT)
    if not batches.cancel(batch, cast(User, request.user)):
        raise HttpError(409, f"Batch {batch.pk} has already ended")
    return Status(202, batch_out(batch))
