"""Evaluations over the API: eval sets with their rows, scorers and proposals; eval runs (start, progress, results
page and CSV). Eval sets need workflows:read to read and workflows:write (an editor or owner) to change; eval runs
need runs:read to read and runs:trigger (an editor or owner) to start. Another workspace's objects answer 404."""

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django.contrib.auth.models import User
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.models import Scope
from accounts.permissions import Action, get_for, require
from accounts.views import current_membership
from builder.models import Workflow, WorkflowVersion
from datasets.models import Dataset
from engine.models import Run
from evals import corrections, eval_runs, results, sets
from evals.models import LARGEST_KEY, EvalResult, EvalRow, EvalRun, EvalSet, Proposal, ProposalStatus, Scorer
from evals.scorers import ScorerSpec
from evals.sets import EvalSetInvalid, NewRow

router = Router(tags=["evaluations"])
MAX_PAGE = 500


class EvalSetIn(Schema):
    workflow_id: int
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)


class EvalSetPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)


class ScorerIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(description="exact, contains, regex, json_schema, number, similarity or judge")
    field: str = Field("", max_length=200, description="path in the output, or nodes.<id>.<path>; blank = all")
    expected_field: str = Field("", max_length=200, description="path in the expected value; blank = as field")
    config: dict[str, Any] = Field(default_factory=dict)
    threshold: float = Field(1.0, description="a row passes at a score at least this")


class ScorerOut(ScorerIn):
    id: int


class EvalSetOut(Schema):
    id: int
    workflow_id: int
    name: str
    description: str
    row_count: int
    scorers: list[ScorerOut]
    created_at: datetime


class RowIn(Schema):
    input: dict[str, Any]
    expected: Any = Field(None, description="the whole expected output, or an object of named fields")


class RowsIn(Schema):
    rows: list[RowIn] = Field(min_length=1, max_length=sets.MAX_ROWS)


class FromDatasetIn(Schema):
    dataset_id: int
    expected_columns: list[str] = Field(default_factory=list, description="columns that are expected fields")


class FromRunIn(Schema):
    run_id: int
    expected: Any = Field(None, description="an edited output; none = the run's output")


class RowOut(Schema):
    id: int
    position: int = Field(description="0-based")
    input: Any
    expected: Any
    source: str = Field(description="dataset, run, correction or manual")
    origin: dict[str, Any]


class RowsOut(Schema):
    items: list[RowOut]
    next_after: int
    has_more: bool


class ProposalOut(Schema):
    id: int
    workflow_id: int
    run_id: int
    approval_id: int
    input: Any
    expected: Any
    reviewer_label: str
    status: str
    created_at: datetime


class AcceptIn(Schema):
    eval_set_id: int


class EvalRunIn(Schema):
    version: int | None = Field(None, description="a published version number; none = the current draft")
    concurrency: int = Field(10, ge=1, le=eval_runs.MAX_CONCURRENCY)


class ProgressOut(Schema):
    status: str
    total: int
    done: int
    running: int
    percent: int
    scored: bool
    cost: Decimal


class EvalRunOut(Schema):
    id: int
    eval_set_id: int
    workflow_id: int
    version: int | None = Field(description="the version run; null for the draft")
    draft_revision: int | None
    run_id: int
    row_count: int
    scorers: list[dict[str, Any]]
    aggregates: dict[str, Any] | None = Field(description="set once every row is scored")
    progress: ProgressOut
    created_at: datetime


class ResultOut(Schema):
    row: int = Field(description="1-based")
    input: Any
    expected: Any
    output: Any
    outcome: str = Field(description="pending, or the row run's status")
    scores: dict[str, Any] = Field(description="scorer name → {score, passed, errored, detail}")
    passed: bool
    cost: Decimal
    latency_ms: int | None
    run_id: int | None
    error: str


class ResultsOut(Schema):
    items: list[ResultOut]
    next_after: int
    has_more: bool


class PageQuery(Schema):
    after: int = Field(0, ge=0, description="the last row number seen")
    limit: int = Field(100, ge=1, le=MAX_PAGE)


def scorer_out(scorer: Scorer) -> ScorerOut:
    fields = ("name", "kind", "field", "expected_field", "config", "threshold")
    return ScorerOut(id=scorer.pk, **{name: getattr(scorer, name) for name in fields})


def set_out(eval_set: EvalSet) -> EvalSetOut:
    return EvalSetOut(
        id=eval_set.pk,
        workflow_id=eval_set.workflow_id,
        name=eval_set.name,
        description=eval_set.description,
        row_count=eval_set.rows.count(),
        scorers=[scorer_out(scorer) for scorer in eval_set.scorers.all()],
        created_at=eval_set.created_at,
    )


def row_out(row: EvalRow) -> RowOut:
    fields = ("position", "input", "expected", "source", "origin")
    return RowOut(id=row.pk, **{name: getattr(row, name) for name in fields})


def run_out(eval_run: EvalRun) -> EvalRunOut:
    found = results.progress(eval_run)
    progress = ProgressOut(**{name: getattr(found, name) for name in ProgressOut.model_fields})
    return EvalRunOut(
        id=eval_run.pk,
        eval_set_id=eval_run.eval_set_id,
        workflow_id=eval_run.workflow_id,
        version=eval_run.version_number,
        draft_revision=eval_run.draft_revision,
        run_id=eval_run.run_id,
        row_count=eval_run.row_count,
        scorers=eval_run.scorers,
        aggregates=eval_run.aggregates,
        progress=progress,
        created_at=eval_run.created_at,
    )


def result_out(result: EvalResult) -> ResultOut:
    fields = ("input", "expected", "output", "outcome", "scores", "passed", "cost", "latency_ms", "run_id", "error")
    return ResultOut(row=result.index + 1, **{name: getattr(result, name) for name in fields})


def _set(request: HttpRequest, set_id: int, action: Action) -> EvalSet:
    return get_for(request.user, EvalSet.objects.select_related("workflow"), action, pk=set_id)


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


@router.post("/eval-sets", response={201: EvalSetOut}, summary="Create an eval set for a workflow")
@token_scope(Scope.WORKFLOWS_WRITE)
def create_set(request: HttpRequest, body: EvalSetIn) -> Status[EvalSetOut]:
    me = current_membership(request)
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=body.workflow_id, workspace_id=me.workspace_id)
    made = sets.create_set(workflow, body.name, _user(request), body.description)
    return Status(201, set_out(made))


@router.get("/eval-sets", response=list[EvalSetOut], summary="Eval sets of the workspace (?workflow_id= one's)")
@token_scope(Scope.WORKFLOWS_READ)
def list_sets(request: HttpRequest, workflow_id: int | None = Query(None, ge=1, le=LARGEST_KEY)) -> list[EvalSetOut]:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    found = EvalSet.objects.filter(workspace_id=me.workspace_id)
    if workflow_id is not None:
        found = found.filter(workflow_id=workflow_id)
    return [set_out(eval_set) for eval_set in found.prefetch_related("scorers")[:200]]


@router.get("/eval-sets/{set_id}", response=EvalSetOut, summary="An eval set with its scorers")
@token_scope(Scope.WORKFLOWS_READ)
def get_set(request: HttpRequest, set_id: int) -> EvalSetOut:
    return set_out(_set(request, set_id, Action.VIEW))


@router.patch("/eval-sets/{set_id}", response=EvalSetOut, summary="Rename an eval set or change its description")
@token_scope(Scope.WORKFLOWS_WRITE)
def update_set(request: HttpRequest, set_id: int, body: EvalSetPatch) -> EvalSetOut:
    eval_set = _set(request, set_id, Action.EDIT)
    changes = body.model_dump(exclude_none=True)
    if "name" in changes and eval_set.workflow.eval_sets.exclude(pk=eval_set.pk).filter(name=changes["name"]).exists():
        raise EvalSetInvalid("name", f"{eval_set.workflow.name!r} already has an eval set named {changes['name']!r}")
    EvalSet.objects.filter(pk=eval_set.pk).update(**changes)
    eval_set.refresh_from_db()
    return set_out(eval_set)


@router.delete("/eval-sets/{set_id}", response={204: None}, summary="Delete an eval set with its rows and runs")
@token_scope(Scope.WORKFLOWS_WRITE)
def delete_set(request: HttpRequest, set_id: int) -> Status[None]:
    _set(request, set_id, Action.EDIT).delete()
    return Status(204, None)


@router.get("/eval-sets/{set_id}/rows", response=RowsOut, summary="The set's rows in order, with a cursor")
@token_scope(Scope.WORKFLOWS_READ)
def list_rows(request: HttpRequest, set_id: int, query: Query[PageQuery]) -> RowsOut:
    eval_set = _set(request, set_id, Action.VIEW)
    found = list(eval_set.rows.filter(position__gte=query.after).order_by("position")[: query.limit + 1])
    items = [row_out(row) for row in found[: query.limit]]
    after = items[-1].position + 1 if items else query.after
    return RowsOut(items=items, next_after=after, has_more=len(found) > query.limit)


@router.post("/eval-sets/{set_id}/rows", response={201: list[RowOut]}, summary="Add rows (checked, all or none)")
@token_scope(Scope.WORKFLOWS_WRITE)
def add_rows(request: HttpRequest, set_id: int, body: RowsIn) -> Status[list[RowOut]]:
    eval_set = _set(request, set_id, Action.EDIT)
    made = sets.add_rows(eval_set, [NewRow(row.input, row.expected) for row in body.rows], _user(request))
    return Status(201, [row_out(row) for row in made])


@router.post("/eval-sets/{set_id}/rows/from-dataset", response={201: RowsOut}, summary="Add a dataset's rows")
@token_scope(Scope.WORKFLOWS_WRITE)
def rows_from_dataset(request: HttpRequest, set_id: int, body: FromDatasetIn) -> Status[RowsOut]:
    eval_set = _set(request, set_id, Action.EDIT)
    dataset = get_for(request.user, Dataset, Action.VIEW, pk=body.dataset_id, workspace_id=eval_set.workspace_id)
    made = sets.rows_from_dataset(eval_set, dataset, body.expected_columns, _user(request))
    items = [row_out(row) for row in made[:MAX_PAGE]]
    return Status(201, RowsOut(items=items, next_after=len(items), has_more=len(made) > MAX_PAGE))


@router.post("/eval-sets/{set_id}/rows/from-run", response={201: RowOut}, summary="Add a run's input and output")
@token_scope(Scope.WORKFLOWS_WRITE)
def row_from_run(request: HttpRequest, set_id: int, body: FromRunIn) -> Status[RowOut]:
    eval_set = _set(request, set_id, Action.EDIT)
    run = get_for(request.user, Run, Action.VIEW, pk=body.run_id, workspace_id=eval_set.workspace_id)
    return Status(201, row_out(sets.row_from_run(eval_set, run, _user(request), body.expected)))


@router.delete("/eval-sets/{set_id}/rows/{row_id}", response={204: None}, summary="Delete a row")
@token_scope(Scope.WORKFLOWS_WRITE)
def delete_row(request: HttpRequest, set_id: int, row_id: int) -> Status[None]:
    eval_set = _set(request, set_id, Action.EDIT)
    row = eval_set.rows.filter(pk=row_id).first()
    if row is None:
        raise EvalSetInvalid("row_id", f"the eval set has no row {row_id}")
    sets.delete_row(row, _user(request))
    return Status(204, None)


def _spec(body: ScorerIn) -> ScorerSpec:
    return ScorerSpec(body.name, body.kind, body.field, body.config, body.threshold, body.expected_field)


@router.post("/eval-sets/{set_id}/scorers", response={201: ScorerOut}, summary="Add a scorer")
@token_scope(Scope.WORKFLOWS_WRITE)
def add_scorer(request: HttpRequest, set_id: int, body: ScorerIn) -> Status[ScorerOut]:
    eval_set = _set(request, set_id, Action.EDIT)
    return Status(201, scorer_out(sets.save_scorer(eval_set, _spec(body), _user(request))))


@router.put("/eval-sets/{set_id}/scorers/{scorer_id}", response=ScorerOut, summary="Change a scorer")
@token_scope(Scope.WORKFLOWS_WRITE)
def change_scorer(request: HttpRequest, set_id: int, scorer_id: int, body: ScorerIn) -> ScorerOut:
    eval_set = _set(request, set_id, Action.EDIT)
    scorer = eval_set.scorers.filter(pk=scorer_id).first()
    if scorer is None:
        raise EvalSetInvalid("scorer_id", f"the eval set has no scorer {scorer_id}")
    return scorer_out(sets.save_scorer(eval_set, _spec(body), _user(request), scorer))


@router.delete("/eval-sets/{set_id}/scorers/{scorer_id}", response={204: None}, summary="Delete a scorer")
@token_scope(Scope.WORKFLOWS_WRITE)
def delete_scorer(request: HttpRequest, set_id: int, scorer_id: int) -> Status[None]:
    _set(request, set_id, Action.EDIT).scorers.filter(pk=scorer_id).delete()
    return Status(204, None)


@router.get("/eval-proposals", response=list[ProposalOut], summary="Reviewer corrections waiting (?workflow_id=)")
@token_scope(Scope.WORKFLOWS_READ)
def list_proposals(
    request: HttpRequest, workflow_id: int | None = Query(None, ge=1, le=LARGEST_KEY)
) -> list[ProposalOut]:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    found = Proposal.objects.filter(workspace_id=me.workspace_id, status=ProposalStatus.PENDING)
    if workflow_id is not None:
        found = found.filter(workflow_id=workflow_id)
    return [ProposalOut.model_validate(proposal, from_attributes=True) for proposal in found[:200]]


@router.post("/eval-proposals/{proposal_id}/accept", response={201: RowOut}, summary="Add a proposal to an eval set")
@token_scope(Scope.WORKFLOWS_WRITE)
def accept_proposal(request: HttpRequest, proposal_id: int, body: AcceptIn) -> Status[RowOut]:
    proposal = get_for(request.user, Proposal, Action.EDIT, pk=proposal_id, status=ProposalStatus.PENDING)
    eval_set = _set(request, body.eval_set_id, Action.EDIT)
    return Status(201, row_out(corrections.accept(proposal, eval_set, _user(request))))


@router.post("/eval-proposals/{proposal_id}/dismiss", response={204: None}, summary="Dismiss a proposal")
@token_scope(Scope.WORKFLOWS_WRITE)
def dismiss_proposal(request: HttpRequest, proposal_id: int) -> Status[None]:
    proposal = get_for(request.user, Proposal, Action.EDIT, pk=proposal_id, status=ProposalStatus.PENDING)
    corrections.dismiss(proposal, _user(request))
    return Status(204, None)


@router.post("/eval-sets/{set_id}/runs", response={201: EvalRunOut}, summary="Run a version or the draft on the set")
@token_scope(Scope.RUNS_TRIGGER)
def start_eval_run(request: HttpRequest, set_id: int, body: EvalRunIn) -> Status[EvalRunOut]:
    """Every row is checked against the version's input first; an empty set, a set without scorers or a row that
    does not match is refused (422 naming the field or the row) and nothing starts."""
    eval_set = _set(request, set_id, Action.EDIT)
    version = None
    if body.version is not None:
        version = WorkflowVersion.objects.filter(workflow=eval_set.workflow, number=body.version).first()
        if version is None:
            raise EvalSetInvalid("version", f"{eval_set.workflow.name!r} has no version {body.version}")
    started = eval_runs.start_eval_run(eval_set, version, _user(request), body.concurrency)
    return Status(201, run_out(started))


@router.get("/eval-runs", response=list[EvalRunOut], summary="Eval runs, newest first (?eval_set_id=)")
@token_scope(Scope.RUNS_READ)
def list_eval_runs(
    request: HttpRequest, eval_set_id: int | None = Query(None, ge=1, le=LARGEST_KEY)
) -> list[EvalRunOut]:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    found = EvalRun.objects.filter(workspace_id=me.workspace_id)
    if eval_set_id is not None:
        found = found.filter(eval_set_id=eval_set_id)
    return [run_out(eval_run) for eval_run in found[:100]]


def _eval_run(request: HttpRequest, eval_run_id: int) -> EvalRun:
    return get_for(request.user, EvalRun, Action.VIEW, pk=eval_run_id)


@router.get("/eval-runs/{eval_run_id}", response=EvalRunOut, summary="An eval run: progress and aggregates")
@token_scope(Scope.RUNS_READ)
def get_eval_run(request: HttpRequest, eval_run_id: int) -> EvalRunOut:
    return run_out(_eval_run(request, eval_run_id))


@router.get("/eval-runs/{eval_run_id}/results", response=ResultsOut, summary="Row results in order, with a cursor")
@token_scope(Scope.RUNS_READ)
def list_results(request: HttpRequest, eval_run_id: int, query: Query[PageQuery]) -> ResultsOut:
    found = results.page(_eval_run(request, eval_run_id), query.after, query.limit + 1)
    items = [result_out(result) for result in found[: query.limit]]
    return ResultsOut(
        items=items, next_after=items[-1].row if items else query.after, has_more=len(found) > query.limit
    )


@router.get("/eval-runs/{eval_run_id}/results.csv", summary="Every row's result as CSV")
@token_scope(Scope.RUNS_READ)
def download_results(request: HttpRequest, eval_run_id: int) -> StreamingHttpResponse:
    eval_run = _eval_run(request, eval_run_id)
    response = StreamingHttpResponse(results.csv_lines(eval_run), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="eval-run-{eval_run.pk}.csv"'
    return response
