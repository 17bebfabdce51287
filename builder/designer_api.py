"""What the designer needs beyond the workflow API: the node kinds and the graph's JSON Schema, the
pinned sample input of test runs, and "run from here" (a test run of the draft that reuses an
earlier test run's upstream results), and "extract into sub-workflow"."""

from typing import Any, cast

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.urls import reverse
from ninja import Router, Schema, Status
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.models import Scope
from accounts.permissions import Action, get_for
from accounts.tokens import count_trigger
from builder import extraction
from builder.models import Workflow, WorkflowVersion
from builder.workflow_api import ProblemOut
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


class CallableOut(Schema):
    id: int
    name: str
    latest_version: int
    versions: list[int] = Field(description="published version numbers, newest first")
    input_schema: dict[str, Any] = Field(description="the latest version's trigger input schema")
    designer_url: str


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


class ExtractIn(Schema):
    graph: dict[str, Any] = Field(description="the draft as the designer has it (graph JSON v1)")
    node_ids: list[str] = Field(max_length=500, description="the selected nodes to move into the new workflow")
    name: str = Field(min_length=1, max_length=200, description="the new workflow's name")


class ExtractOut(Schema):
    workflow_id: int
    name: str
    version: int | None = Field(description="the version published from the selection; null if it does not validate")
    problems: list[ProblemOut] = Field(description="why the new workflow was not published")
    designer_url: str
    node_id: str = Field(description="the subworkflow node that takes the selection's place")
    graph: dict[str, Any] = Field(description="the draft with the selection replaced; not saved")


@router.post(
    "/workflows/{workflow_id}/extract",
    response={201: ExtractOut},
    summary="Move selected nodes into a new workflow and call it from their place",
)
@token_scope(Scope.WORKFLOWS_WRITE)
def extract_subworkflow(request: HttpRequest, workflow_id: int, body: ExtractIn) -> Status[ExtractOut]:
    """The new workflow is created (published as version 1 when it validates); the caller's draft is only returned."""
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id, archived_at__isnull=True)
    done = extraction.extract(workflow, body.graph, body.node_ids, body.name, cast(User, request.user))
    return Status(
        201,
        ExtractOut(
            workflow_id=done.workflow.pk,
            name=done.workflow.name,
            version=done.version,
            problems=[ProblemOut(**problem.as_dict()) for problem in done.problems],
            designer_url=reverse("builder:workflow-designer", args=[done.workflow.pk]),
            node_id=done.node_id,
            graph=done.graph,
        ),
    )


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


@router.get(
    "/workflows/{workflow_id}/callable",
    response=list[CallableOut],
    summary="Workflows this one's subworkflow and for_each nodes may call",
)
@token_scope(Scope.WORKFLOWS_READ)
def callable_workflows(request: HttpRequest, workflow_id: int) -> list[CallableOut]:
    """The other published, unarchived workflows of its workspace, each with its latest trigger input schema."""
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    published: dict[int, list[WorkflowVersion]] = {}
    found = WorkflowVersion.objects.filter(
        workflow__workspace_id=workflow.workspace_id, workflow__archived_at__isnull=True
    ).exclude(workflow_id=workflow.pk)
    for version in found.select_related("workflow").order_by("workflow__name", "workflow_id", "-number"):
        published.setdefault(version.workflow_id, []).append(version)
    return [
        CallableOut(
            id=numbers[0].workflow_id,
            name=numbers[0].workflow.name,
            latest_version=numbers[0].number,
            versions=[v.number for v in numbers],
            input_schema=_input_schema(numbers[0].graph),
            designer_url=reverse("builder:workflow-designer", args=[numbers[0].workflow_id]),
        )
        for numbers in published.values()
    ]


def _input_schema(graph: Any) -> dict[str, Any]:
    """The trigger's input schema of a published graph (published graphs are valid: they have one trigger)."""
    schema = graphs.Graph.model_validate(graph).trigger().params.get("input_schema")
    return schema if isinstance(schema, dict) else {"type": "object"}


@router.get("/node-types", summary="Every node kind with its handles and parameter JSON Schema", tags=["graphs"])
@token_scope(Scope.WORKFLOWS_READ)
def node_types(request: HttpRequest) -> list[dict[str, Any]]:
    return [kind.describe() for kind in registry.kinds()]


@router.get("/graph-schema", summary="JSON Schema of graph JSON v1", tags=["graphs"])
@token_scope(Scope.WORKFLOWS_READ)
def graph_schema(request: HttpRequest) -> dict[str, Any]:
    return graphs.json_schema()
