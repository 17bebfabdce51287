"""A workflow's reviewer-corrections setting over the API: whether corrections become rows at once, and of which
eval set. Read with workflows:read; set with workflows:write by an editor or owner."""

from typing import cast

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.models import Scope
from accounts.permissions import Action, get_for
from builder.models import Workflow
from evals import corrections
from evals.models import CorrectionsSetting

router = Router(tags=["evaluations"])


class CorrectionsIn(Schema):
    auto_add: bool = Field(description="add each reviewer correction as a row at once (else it waits as a proposal)")
    eval_set_id: int | None = Field(
        None, description="the eval set that receives them; may be left out when the workflow has one set"
    )


class CorrectionsOut(CorrectionsIn):
    workflow_id: int


def _out(setting: CorrectionsSetting) -> CorrectionsOut:
    return CorrectionsOut(workflow_id=setting.workflow_id, auto_add=setting.auto_add, eval_set_id=setting.eval_set_id)


@router.get(
    "/workflows/{workflow_id}/eval-corrections",
    response=CorrectionsOut,
    summary="What becomes of the workflow's reviewer corrections",
)
@token_scope(Scope.WORKFLOWS_READ)
def get_corrections(request: HttpRequest, workflow_id: int) -> CorrectionsOut:
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    return _out(corrections.setting_of(workflow))


@router.put(
    "/workflows/{workflow_id}/eval-corrections",
    response=CorrectionsOut,
    summary="Add reviewer corrections to an eval set at once, or propose them",
)
@token_scope(Scope.WORKFLOWS_WRITE)
def put_corrections(request: HttpRequest, workflow_id: int, body: CorrectionsIn) -> CorrectionsOut:
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    return _out(corrections.configure(workflow, body.auto_add, body.eval_set_id, cast(User, request.user)))
