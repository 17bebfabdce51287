"""Workflows over the API: create, read, save the draft (with a revision check), validate, publish,
versions, export and import. Graphs are data here: nothing in them is ever executed."""

from datetime import datetime
from typing import Any, cast

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Max
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.models import Scope, Workspace
from accounts.permissions import Action, can, get_for, require, visible
from builder import calls, child_publishing, gates, mcp_tools, transfer, workflows
from builder.models import Workflow, WorkflowVersion
from engine.partial_update import PartialUpdate
from evals.sets import EvalSetInvalid

router = Router(tags=["workflows"])


class ProblemOut(Schema):
    path: str
    code: str
    message: str


class WorkflowIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    draft: dict[str, Any] | None = Field(None, description="graph JSON v1; an empty graph when omitted")
    workspace_id: int | None = Field(None, description="defaults to the token's workspace or your current one")


class WorkflowPatch(PartialUpdate):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    archived: bool | None = None
    mcp_tool: bool | None = Field(None, description="offer the latest published version as a tool at /mcp")


class WorkflowDetail(Schema):
    id: int
    name: str
    description: str
    draft: dict[str, Any]
    draft_revision: int
    latest_version: int | None
    archived: bool
    mcp_tool: bool
    mcp_tool_name: str = Field(description="its name at the MCP endpoint")
    problems: list[ProblemOut] = Field(description="what keeps the draft from being published")


class DraftIn(Schema):
    graph: dict[str, Any]
    revision: int | None = Field(None, description="the revision you edited; or send If-Match")


class DraftOut(Schema):
    revision: int
    problems: list[ProblemOut]


class GraphIn(Schema):
    graph: dict[str, Any] | None = Field(None, description="the graph to check; the saved draft when omitted")


class PublishIn(Schema):
    note: str = Field("", max_length=500)
    override_note: str = Field(
        "", max_length=2000, description="owners only: publish past a refusing publish gate, saying why"
    )
    publish_children: bool | list[int] = Field(
        False,
        description="also publish the changed workflows it calls as latest: true for all, or their ids",
    )


class PublishedOut(Schema):
    workflow_id: int
    workflow: str
    number: int


class VersionOut(Schema):
    number: int
    note: str
    created_at: datetime
    graph: dict[str, Any] | None = None


class PublishOut(VersionOut):
    published: list[PublishedOut] = Field(description="every version this publish made, called workflows first")


class ImportIn(transfer.ExportDoc):
    workspace_id: int | None = None


def _problems(graph: Any, workflow: Workflow) -> list[ProblemOut]:
    return [ProblemOut(**problem.as_dict()) for problem in calls.problems(workflow, graph)]


def _detail(workflow: Workflow) -> WorkflowDetail:
    latest = workflow.latest_version()
    return WorkflowDetail(
        id=workflow.pk,
        name=workflow.name,
        description=workflow.description,
        draft=workflow.draft,
        draft_revision=workflow.draft_revision,
        latest_version=latest.number if latest else None,
        archived=workflow.archived_at is not None,
        mcp_tool=workflow.mcp_tool,
        mcp_tool_name=mcp_tools.tool_name(workflow),
        problems=_problems(workflow.draft, workflow),
    )


def _workspace(request: HttpRequest, workspace_id: int | None) -> Workspace:
    chosen = workspace_id or getattr(request.user, "token_workspace_id", None) or getattr(request, "workspace", None)
    chosen_id = chosen.pk if isinstance(chosen, Workspace) else chosen
    if not chosen_id:
        raise HttpError(422, "workspace_id: say which workspace")
    return require(request.user, chosen_id, Action.EDIT).workspace


def _etag(workflow: Workflow) -> str:
    return f'"{workflow.draft_revision}"'


class WorkflowOut(Schema):
    id: int
    name: str
    description: str
    draft_revision: int
    latest_version: int | None


@router.get("/workflows", response=list[WorkflowOut], summary="Workflows of my workspaces")
@token_scope(Scope.WORKFLOWS_READ)
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


@router.post("/workflows", response={201: WorkflowDetail}, summary="Create a workflow")
@token_scope(Scope.WORKFLOWS_WRITE)
def create_workflow(request: HttpRequest, body: WorkflowIn) -> Status[WorkflowDetail]:
    workspace = _workspace(request, body.workspace_id)
    workflow = workflows.create_workflow(
        workspace, body.name, cast(User, request.user), description=body.description, draft=body.draft
    )
    return Status(201, _detail(workflow))


@router.post("/workflows/import", response={201: WorkflowDetail}, summary="Create a workflow from an export")
@token_scope(Scope.WORKFLOWS_WRITE)
def import_workflow(request: HttpRequest, body: ImportIn) -> Status[WorkflowDetail]:
    """Registered before /workflows/{id} so that "import" is not taken for an id.

    The graph is validated against the node types this server has; unknown types are refused."""
    workspace = _workspace(request, body.workspace_id)
    return Status(201, _detail(transfer.import_workflow(workspace, body, by=cast(User, request.user))))


@router.get("/workflows/{workflow_id}", response=WorkflowDetail, summary="A workflow with its draft")
@token_scope(Scope.WORKFLOWS_READ)
def get_workflow(request: HttpRequest, response: HttpResponse, workflow_id: int) -> WorkflowDetail:
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    response["ETag"] = _etag(workflow)
    return _detail(workflow)


@router.patch(
    "/workflows/{workflow_id}", response=WorkflowDetail, summary="Rename, describe, archive or offer as an MCP tool"
)
@token_scope(Scope.WORKFLOWS_WRITE)
def update_workflow(request: HttpRequest, workflow_id: int, body: WorkflowPatch) -> WorkflowDetail:
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    by = cast(User, request.user)
    changed = body.model_dump(exclude_unset=True)
    with transaction.atomic():
        if "name" in changed:
            workflows.rename_workflow(workflow, changed["name"], by)
        if "description" in changed:
            workflows.describe_workflow(workflow, changed["description"], by)
        if "archived" in changed:
            workflows.set_archived(workflow, changed["archived"], by)
        if "mcp_tool" in changed:
            workflows.offer_as_mcp_tool(workflow, changed["mcp_tool"], by)
    return _detail(workflow)


@router.put("/workflows/{workflow_id}/draft", response=DraftOut, summary="Save the draft graph")
@token_scope(Scope.WORKFLOWS_WRITE)
def save_draft(request: HttpRequest, response: HttpResponse, workflow_id: int, body: DraftIn) -> DraftOut:
    """Send the revision you loaded (If-Match: "<revision>" or `revision`); a newer save elsewhere gives 409."""
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    match = request.headers.get("If-Match", "").strip('"')
    expected = body.revision if body.revision is not None else (int(match) if match.isdigit() else None)
    if expected is None:
        raise HttpError(428, "revision: send the revision you edited (If-Match header or `revision`)")
    workflows.refuse_malformed(body.graph)
    with transaction.atomic():
        saved = Workflow.objects.filter(pk=workflow.pk, draft_revision=expected).update(
            draft=body.graph, draft_revision=F("draft_revision") + 1
        )
        if not saved:
            current = Workflow.objects.values_list("draft_revision", flat=True).get(pk=workflow.pk)
            raise HttpError(
                409,
                f"revision: the draft was saved elsewhere (now revision {current}); reload and edit again",
            )
    workflow.refresh_from_db()
    response["ETag"] = _etag(workflow)
    return DraftOut(revision=workflow.draft_revision, problems=_problems(workflow.draft, workflow))


@router.post("/workflows/{workflow_id}/validate", response=list[ProblemOut], summary="Check a graph; runs nothing")
@token_scope(Scope.WORKFLOWS_READ)
def validate_graph(request: HttpRequest, workflow_id: int, body: GraphIn) -> list[ProblemOut]:
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    return _problems(body.graph if body.graph is not None else workflow.draft, workflow)


@router.post("/workflows/{workflow_id}/publish", response={201: PublishOut}, summary="Publish the draft as a version")
@token_scope(Scope.WORKFLOWS_WRITE)
def publish(request: HttpRequest, workflow_id: int, body: PublishIn) -> Status[PublishOut]:
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    chosen = body.publish_children
    if chosen is True:
        chosen = [child.pk for child in child_publishing.changed_children(workflow)]
    if body.override_note and not can(request.user, workflow.workspace_id, Action.MANAGE):
        raise HttpError(403, "override_note: only an owner may publish past the publish gate")
    by = cast(User, request.user)
    try:
        verdict = gates.check(workflow, by, body.override_note)
    except gates.GatePending as pending:
        raise HttpError(409, str(pending)) from None
    except gates.GateRefused as refused:
        raise HttpError(422, str(refused)) from None
    except EvalSetInvalid as invalid:
        raise HttpError(422, f"gate: {invalid.field}: {invalid}") from None
    try:
        made = child_publishing.publish_with_children(workflow, body.note, by, chosen or [])
        gates.note_on(made[-1], verdict, by, body.override_note)
    except child_publishing.NotAChangedChild as wrong:
        raise HttpError(422, f"publish_children: {wrong}") from None
    version = made[-1]
    published = [PublishedOut(workflow_id=v.workflow_id, workflow=v.workflow.name, number=v.number) for v in made]
    out = VersionOut(number=version.number, note=version.note, created_at=version.created_at, graph=version.graph)
    return Status(201, PublishOut(**out.dict(), published=published))


@router.get("/workflows/{workflow_id}/versions", response=list[VersionOut], summary="Published versions, newest first")
@token_scope(Scope.WORKFLOWS_READ)
def list_versions(request: HttpRequest, workflow_id: int) -> list[VersionOut]:
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    return [
        VersionOut(number=v.number, note=v.note, created_at=v.created_at) for v in workflow.versions.order_by("-number")
    ]


@router.get("/workflows/{workflow_id}/versions/{number}", response=VersionOut, summary="One version with its graph")
@token_scope(Scope.WORKFLOWS_READ)
def get_version(request: HttpRequest, workflow_id: int, number: int) -> VersionOut:
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    version = WorkflowVersion.objects.filter(workflow=workflow, number=number).first()
    if version is None:
        raise HttpError(404, f"number: {workflow.name!r} has no version {number}")
    return VersionOut(number=version.number, note=version.note, created_at=version.created_at, graph=version.graph)


@router.get(
    "/workflows/{workflow_id}/export", response=transfer.ExportDoc, summary="The draft or a version as a document"
)
@token_scope(Scope.WORKFLOWS_READ)
def export_workflow(request: HttpRequest, workflow_id: int, version: int | None = None) -> transfer.ExportDoc:
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    try:
        return transfer.export_workflow(workflow, version)
    except transfer.NoSuchVersion as missing:
        raise HttpError(404, str(missing)) from None
