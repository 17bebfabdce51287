"""What the designer needs beyond the workflow API: the node kinds and the graph's JSON Schema, the
pinned sample input of test runs, and "run from here" (a test run of the draft that reuses an
earlier test run's upstream results)."""

from typing import Any, cast

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.models import Scope
from accounts.permissions import Action, get_for
from accounts.tokens import count_trigger
from builder.models import Workflow
from engine import graph as graphs
from engine import partial_runs, registry
from engine.models import Run, TriggerKind
from engine.runs import Options, RunRejected, RunSource
from monitoring.api import RunOut, run_out

router = Router(tags=["workflows"])
MAX_SAMPLE_BYTES = 200_000


class SampleInputIn(Schema):
    input: dict[str, Any] = Field(description="the trigger input test runs start with")


class SampleInputOut(Schema):
    input: dict[str, Any]


class FromNodeIn(Schema):
    node_id: str = Field(min_length=1, max_length=64, description="run this node and everything after it")
    run_id: int = Field(ge=1, description="the earlier test run whose upstream results are reused")


@router.put("/workflows/{workflow_id}/sample-input", response=SampleInputOut, summary="Pin the test-run input")
@token_scope(Scope.WORKFLOWS_WRITE)
def pin_sample_input(request: HttpRequest, workflow_id: int, body: SampleInputIn) -> SampleInputOut:
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    if len(request.body) > MAX_SAMPLE_BYTES:
        raise RunRejected(f"input: at most {MAX_SAMPLE_BYTES} bytes")
    workflow.sample_input = body.input
    workflow.save(update_fields=["sample_input", "updated_at"])
    return SampleInputOut(input=workflow.sample_input)


@router.post(
    "/workflows/{workflow_id}/test-runs/from-node",
    response={202: RunOut},
    summary="Test-run the draft from one node, reusing an earlier test run's upstream results",
)
@token_scope(Scope.RUNS_TRIGGER)
def run_from_node(request: HttpRequest, workflow_id: int, body: FromNodeIn) -> Status[RunOut]:
    count_trigger(request)
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id, archived_at__isnull=True)
    previous = Run.objects.filter(pk=body.run_id, workflow_id=workflow.pk, workspace_id=workflow.workspace_id).first()
    if previous is None:
        raise RunRejected(f"run_id: {workflow.name!r} has no run {body.run_id}")
    source = RunSource(
        workspace_id=workflow.workspace_id, graph=workflow.draft, workflow_id=workflow.pk, workflow_name=workflow.name
    )
    options = Options(trigger_kind=TriggerKind.TEST, created_by=cast(User, request.user), is_test=True)
    run = partial_runs.start_from_node(source, previous, body.node_id, options)
    return Status(202, run_out(run, request.user))


@router.get("/node-types", summary="Every node kind with its handles and parameter JSON Schema", tags=["graphs"])
@token_scope(Scope.WORKFLOWS_READ)
def node_types(request: HttpRequest) -> list[dict[str, Any]]:
    return [kind.describe() for kind in registry.kinds()]


@router.get("/graph-schema", summary="JSON Schema of graph JSON v1", tags=["graphs"])
@token_scope(Scope.WORKFLOWS_READ)
def graph_schema(request: HttpRequest) -> dict[str, Any]:
    return graphs.json_schema()
