"""Workflows over the API: start a run of the latest published version (or of the draft)."""

from typing import Any, cast

from django.contrib.auth.models import User
from django.db.models import Max
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from accounts.models import Scope
from accounts.permissions import Action, get_for, visible
from accounts.tokens import count_trigger, require_scope
from builder import versions
from builder.models import Workflow
from engine import runs
from engine.api import RunOut, run_out
from engine.models import Run, TriggerKind
from engine.runs import Options

router = Router(tags=["workflows"])


class WorkflowOut(Schema):
    id: int
    name: str
    description: str
    draft_revision: int
    latest_version: int | None


@router.get("/workflows", response=list[WorkflowOut], summary="Workflows of my workspaces")
def list_workflows(request: HttpRequest) -> list[WorkflowOut]:
    require_scope(request, Scope.WORKFLOWS_READ)
    workflows = visible(request.user, Workflow.objects.filter(archived_at__isnull=True)).annotate(
        latest=Max("versions__number")
    )
    return [
        WorkflowOut(
            id=w.pk, name=w.name, description=w.description, draft_revision=w.draft_revision, latest_version=w.latest
        )
        for w in workflows.order_by("name", "pk")
    ]


class RerunQuery(Schema):
    latest: bool = Field(False, description="run the workflow's latest published version instead of the same one")


@router.post(
    "/runs/{run_id}/rerun", response={202: RunOut}, summary="Start a new run with the same input", tags=["runs"]
)
def rerun(request: HttpRequest, run_id: int, query: Query[RerunQuery]) -> Status[RunOut]:
    require_scope(request, Scope.RUNS_TRIGGER)
    count_trigger(request)
    old = get_for(request.user, Run, Action.EDIT, pk=run_id)
    options = Options(trigger_kind=TriggerKind.MANUAL, created_by=cast(User, request.user))
    if not query.latest:
        return Status(202, run_out(runs.rerun(old, options), request.user))
    workflow = Workflow.objects.filter(
        pk=old.workflow_id or 0, workspace_id=old.workspace_id, archived_at__isnull=True
    ).first()
    if workflow is None:
        raise HttpError(409, "The workflow of this run no longer exists")
    try:
        return Status(202, run_out(versions.run_latest(workflow, old.input, options), request.user))
    except versions.NothingPublished as error:
        raise HttpError(409, str(error)) from None


class RunIn(Schema):
    input: dict[str, Any] = Field(default_factory=dict, description="checked against the trigger's input schema")
    draft: bool = Field(False, description="run the current draft as a test run instead of the latest version")


@router.post("/workflows/{workflow_id}/runs", response={202: RunOut}, summary="Start a run")
def start_run(request: HttpRequest, workflow_id: int, body: RunIn) -> Status[RunOut]:
    require_scope(request, Scope.RUNS_TRIGGER)
    count_trigger(request)
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id, archived_at__isnull=True)
    options = Options(
        trigger_kind=TriggerKind.TEST if body.draft else TriggerKind.API, created_by=cast(User, request.user)
    )
    try:
        run = (
            versions.run_draft(workflow, body.input, options)
            if body.draft
            else versions.run_latest(workflow, body.input, options)
        )
    except versions.NothingPublished as error:
        raise HttpError(409, f"{error}: publish one, or pass draft=true for a test run") from None
    return Status(202, run_out(run, request.user))
