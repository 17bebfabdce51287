"""Workflows over the API: start a run of the latest published version (or of the draft)."""

from typing import Any, cast

from django.contrib.auth.models import User
from django.db.models import Max
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from accounts.permissions import Action, get_for, visible
from builder import versions
from builder.models import Workflow
from engine.api import RunOut, run_out
from engine.models import TriggerKind
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
    workflows = visible(request.user, Workflow.objects.filter(archived_at__isnull=True)).annotate(
        latest=Max("versions__number")
    )
    return [
        WorkflowOut(
            id=w.pk, name=w.name, description=w.description, draft_revision=w.draft_revision, latest_version=w.latest
        )
        for w in workflows.order_by("name", "pk")
    ]


class RunIn(Schema):
    input: dict[str, Any] = Field(default_factory=dict, description="checked against the trigger's input schema")
    draft: bool = Field(False, description="run the current draft as a test run instead of the latest version")


@router.post("/workflows/{workflow_id}/runs", response={202: RunOut}, summary="Start a run")
def start_run(request: HttpRequest, workflow_id: int, body: RunIn) -> Status[RunOut]:
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
    return Status(202, run_out(run))
