"""A workflow's publish gate over the API: read it, and (owners) set it."""

from typing import cast

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.models import Scope
from accounts.permissions import Action, get_for
from builder import gates
from builder.models import PublishGate, Workflow

router = Router(tags=["workflows"])


class GateIn(Schema):
    eval_set_id: int = Field(description="an eval set of the workflow")
    scorer: str = Field("", max_length=100, description="the scorer `min_pass_rate` applies to")
    min_pass_rate: float | None = Field(None, description="0 to 1: the draft's pass rate of `scorer` at least this")
    max_drop_points: float | None = Field(
        None, description="no scorer's pass rate more than this many percentage points below the latest version's"
    )
    enabled: bool = True


class GateOut(GateIn):
    rule: str = Field(description="the rule in words")


def _out(gate: PublishGate) -> GateOut:
    return GateOut(
        eval_set_id=gate.eval_set_id,
        scorer=gate.scorer,
        min_pass_rate=gate.min_pass_rate,
        max_drop_points=gate.max_drop_points,
        enabled=gate.enabled,
        rule=gates.describe(gate),
    )


@router.get("/workflows/{workflow_id}/publish-gate", response=GateOut, summary="The workflow's publish gate")
@token_scope(Scope.WORKFLOWS_READ)
def get_gate(request: HttpRequest, workflow_id: int) -> GateOut:
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    gate = PublishGate.objects.select_related("eval_set").filter(workflow=workflow).first()
    if gate is None:
        raise HttpError(404, f"{workflow.name!r} has no publish gate")
    return _out(gate)


@router.put("/workflows/{workflow_id}/publish-gate", response=GateOut, summary="Set the publish gate (owners)")
@token_scope(Scope.WORKFLOWS_WRITE)
def put_gate(request: HttpRequest, workflow_id: int, body: GateIn) -> GateOut:
    workflow = get_for(request.user, Workflow, Action.MANAGE, pk=workflow_id)
    settings = gates.GateSettings(
        body.eval_set_id, body.scorer.strip(), body.min_pass_rate, body.max_drop_points, body.enabled
    )
    try:
        gate = gates.save_gate(workflow, settings, cast(User, request.user))
    except gates.GateInvalid as invalid:
        raise HttpError(422, f"{invalid.field}: {invalid}") from None
    return _out(PublishGate.objects.select_related("eval_set").get(pk=gate.pk))
