"""Datasets over the API: create one (JSON rows, an uploaded CSV or JSON Lines file, earlier runs' inputs), list,
read, page through its rows, delete. Tokens need datasets:read to read and datasets:write to change."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.models import Scope
from accounts.permissions import Action, get_for, require
from accounts.views import current_membership
from builder.models import Workflow
from datasets import store
from datasets.models import Dataset

router = Router(tags=["datasets"])
MAX_PAGE = 500


class DatasetIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    rows: list[Any] = Field(description="JSON objects, one per row")


class FromRunsIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    workflow_id: int
    run_ids: list[int] | None = Field(None, description="these runs of the workflow; none = its latest `limit` runs")
    limit: int = Field(100, ge=1, le=store.MAX_RUNS)


class DatasetOut(Schema):
    id: int
    name: str
    description: str
    source: str = Field(description="csv, jsonl, rows or runs")
    columns: list[str]
    row_count: int
    size_bytes: int = Field(description="the rows' size as JSON")
    created_at: datetime


class RowOut(Schema):
    position: int = Field(description="0-based")
    line: int = Field(description="line in the uploaded file; 0 when not from a file")
    data: dict[str, Any]


class RowsOut(Schema):
    items: list[RowOut]
    next_after: int = Field(description="pass as ?after= to continue")
    has_more: bool


class RowsQuery(Schema):
    after: int = Field(-1, ge=-1, description="the position of the last row seen")
    limit: int = Field(100, ge=1, le=MAX_PAGE)


def dataset_out(dataset: Dataset) -> DatasetOut:
    return DatasetOut.model_validate(dataset, from_attributes=True)


@router.get("/datasets", response=list[DatasetOut], summary="Datasets of the current workspace")
@token_scope(Scope.DATASETS_READ)
def list_datasets(request: HttpRequest) -> list[DatasetOut]:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    return [dataset_out(dataset) for dataset in Dataset.objects.filter(workspace_id=me.workspace_id)]


@router.post("/datasets", response={201: DatasetOut}, summary="Create a dataset from JSON rows")
@token_scope(Scope.DATASETS_WRITE)
def create_dataset(request: HttpRequest, body: DatasetIn) -> Status[DatasetOut]:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.EDIT)
    spec = store.DatasetSpec(body.name, body.description)
    return Status(201, dataset_out(store.from_rows(me.workspace, spec, body.rows, request.user)))


@router.post(
    "/datasets/upload",
    response={201: DatasetOut},
    summary="Create a dataset from a CSV (header line first) or JSON Lines file (multipart field `file`)",
)
@token_scope(Scope.DATASETS_WRITE)
def upload_dataset(
    request: HttpRequest,
    file: File[UploadedFile],
    name: Form[str],
    description: Form[str] = "",
    format: Form[str] = "",
) -> Status[DatasetOut]:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.EDIT)
    spec = store.DatasetSpec(name, description)
    return Status(201, dataset_out(store.from_upload(me.workspace, spec, file, format, request.user)))


@router.post("/datasets/from-runs", response={201: DatasetOut}, summary="Create a dataset of earlier runs' inputs")
@token_scope(Scope.DATASETS_WRITE)
def dataset_from_runs(request: HttpRequest, body: FromRunsIn) -> Status[DatasetOut]:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.EDIT)
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=body.workflow_id, workspace_id=me.workspace_id)
    spec = store.DatasetSpec(body.name, body.description)
    dataset = store.from_runs(me.workspace, spec, workflow.pk, body.run_ids, body.limit, request.user)
    return Status(201, dataset_out(dataset))


@router.get("/datasets/{dataset_id}", response=DatasetOut, summary="One dataset")
@token_scope(Scope.DATASETS_READ)
def get_dataset(request: HttpRequest, dataset_id: int) -> DatasetOut:
    return dataset_out(get_for(request.user, Dataset, Action.VIEW, pk=dataset_id))


@router.get("/datasets/{dataset_id}/rows", response=RowsOut, summary="A dataset's rows in order, with a cursor")
@token_scope(Scope.DATASETS_READ)
def list_rows(request: HttpRequest, dataset_id: int, query: Query[RowsQuery]) -> RowsOut:
    dataset = get_for(request.user, Dataset, Action.VIEW, pk=dataset_id)
    page = list(dataset.rows.filter(position__gt=query.after).order_by("position")[: query.limit + 1])
    items = [RowOut.model_validate(row, from_attributes=True) for row in page[: query.limit]]
    return RowsOut(
        items=items, next_after=items[-1].position if items else query.after, has_more=len(page) > query.limit
    )


@router.delete("/datasets/{dataset_id}", response={204: None}, summary="Delete a dataset and its rows")
@token_scope(Scope.DATASETS_WRITE)
def delete_dataset(request: HttpRequest, dataset_id: int) -> Status[None]:
    store.delete(get_for(request.user, Dataset, Action.EDIT, pk=dataset_id), request.user)
    return Status(204, None)
