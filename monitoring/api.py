"""Runs over the API: read status and node statuses, page through events, cancel, retry."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import BaseModel, Field

from accounts.api_auth import token_scope
from accounts.models import Scope
from accounts.permissions import Action, can, get_for, visible
from engine import runs
from engine.models import AgentStep, NodeRun, Run, RunStatus, TriggerKind
from engine.runs import children
from engine.runs.agent_steps import Owner
from engine.runs.agent_steps import payload as step_payload
from monitoring import stream
from monitoring.filters import filtered

router = Router(tags=["runs"])
EVENT_PAGE = 500
MAX_PAGE = 100


# Plain pydantic models, not ninja Schemas: run_out builds them from dicts, and a Schema's validator wraps each
# dict in ninja's attribute getter first, a converted lookup per field, which cost a 300-node run's answer more
# than its start (bench/trigger_profile.py). Their OpenAPI schemas are the same.
class NodeRunOut(BaseModel):
    node_id: str
    node_type: str
    status: str
    attempt: int
    handle: str
    input: Any = Field(description="the node's params after rendering")
    output: Any
    error: dict[str, Any] | None = Field(description="code, message, details; traceback only for owners")
    usage: dict[str, Any] | None
    cost: Decimal
    cache_hit: bool
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    agent_steps: list[dict[str, Any]] = Field(
        default_factory=list, description="an agent node's recorded steps, as their agent.step events carry them"
    )


class RunOut(BaseModel):
    id: int
    workflow_id: int | None
    workflow_name: str
    version_number: int | None
    status: str
    trigger_kind: str
    is_test: bool
    input: Any
    output: Any
    escalation_reason: str
    error: str
    cost: Decimal
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    last_seq: int
    nodes: list[NodeRunOut]
    parent_run_id: int | None = Field(description="the run whose subworkflow or for_each node started this one")
    parent_node_id: str
    item_index: int | None
    depth: int
    root_run_id: int | None
    child_nodes: list["ChildNodeOut"] = Field(description="progress of this run's subworkflow and for_each nodes")


class ChildNodeOut(Schema):
    node_id: str
    round: int
    state: str
    total: int
    started: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    cost: Decimal
    runs_url: str = Field(description="the node's child runs: GET this for the list")


class EventOut(Schema):
    seq: int
    type: str
    node_id: str
    payload: dict[str, Any]
    created_at: datetime


class EventsOut(Schema):
    events: list[EventOut]
    next_after: int = Field(description="pass as ?after= to continue")
    has_more: bool


class RunSummaryOut(Schema):
    id: int
    workflow_id: int | None
    workflow_name: str
    version_number: int | None
    status: str
    trigger_kind: str
    is_test: bool
    created_at: datetime
    finished_at: datetime | None
    cost: Decimal
    parent_run_id: int | None
    item_index: int | None


class RunListOut(Schema):
    items: list[RunSummaryOut]
    next_before: int | None = Field(description="pass as ?before= for the next (older) page")


class RunsQuery(Schema):
    workflow: int | None = Field(None, ge=1)
    version: int | None = Field(None, ge=1)
    status: RunStatus | None = None
    trigger: TriggerKind | None = None
    since: date | None = None
    until: date | None = None
    q: str | None = Field(None, max_length=200, description="text in the run input")
    before: int | None = Field(None, ge=1)
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    parent: int | None = Field(None, ge=1, description="only the child runs of this run")
    include_children: bool = Field(False, description="list child runs too (hidden by default)")


class EventsQuery(Schema):
    after: int = Field(0, ge=0)
    limit: int = Field(EVENT_PAGE, ge=1, le=EVENT_PAGE)


def node_out(node: NodeRun, *, with_traceback: bool, steps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A node's NodeRunOut fields, validated as part of its run's RunOut: a NodeRunOut inside a RunOut would be
    validated again from its attributes, with every RunOut's validation (ninja's answer validates it once more)."""
    error = dict(node.error) if node.error else None
    if error is not None and not with_traceback:
        error.pop("traceback", None)
    duration = None
    if node.started_at and node.finished_at:
        duration = int((node.finished_at - node.started_at).total_seconds() * 1000)
    fields = {f: getattr(node, f) for f in NodeRunOut.model_fields if f not in {"error", "duration_ms", "agent_steps"}}
    return {**fields, "error": error, "duration_ms": duration, "agent_steps": steps or []}


def run_out(run: Run, user: Any = None) -> RunOut:
    """The run as the API shows it; tracebacks are for workspace owners only."""
    # Through the relation: a run just started has its nodes there already (engine.runs.starting).
    node_runs = sorted(run.node_runs.all(), key=lambda node: node.pk)
    # Only a traceback needs the caller's role: a run without a node error answers without asking for it.
    owner = any(node.error for node in node_runs) and user is not None and can(user, run.workspace_id, Action.MANAGE)
    steps = agent_steps(run)
    nodes = [node_out(node, with_traceback=owner, steps=steps.get(node.node_id)) for node in node_runs]
    fields = {f: getattr(run, f) for f in RunOut.model_fields if f not in {"id", "nodes", "child_nodes"}}
    return RunOut.model_validate({**fields, "id": run.pk, "nodes": nodes, "child_nodes": child_nodes(run)})


def agent_steps(run: Run) -> dict[str, list[dict[str, Any]]]:
    """Each agent node's steps, every loop, in order: the trace a reloaded run page draws."""
    # Most runs have no agent: their answer needs no query for steps.
    if not any(node.get("type") == "agent" for node in run.graph.get("nodes", [])):
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    for row in AgentStep.objects.filter(run=run).order_by("node_id", "loop", "seq", "kind"):
        owner = Owner(run.pk, row.node_id, row.attempt, row.loop)
        found.setdefault(row.node_id, []).append(step_payload(owner, row))
    return found


def child_nodes(run: Run) -> list[ChildNodeOut]:
    """Where each of the run's subworkflow and for_each nodes is, from its latest round."""
    # Most runs call no workflow: their answer (a trigger's, say) needs no query for rounds.
    if not any(node.get("type") in children.CHILD_KINDS for node in run.graph.get("nodes", [])):
        return []
    found = []
    for node_id in run.child_rounds.order_by("node_id").values_list("node_id", flat=True).distinct():
        progress = children.progress(run.pk, node_id)
        if progress is not None:
            found.append(ChildNodeOut(node_id=node_id, runs_url=f"/api/v1/runs?parent={run.pk}", **vars(progress)))
    return found


@router.get("/runs", response=RunListOut, summary="Runs, newest first, filtered, with a cursor")
@token_scope(Scope.RUNS_READ)
def list_runs(request: HttpRequest, query: Query[RunsQuery]) -> RunListOut:
    page = filtered(visible(request.user, Run), query.model_dump(exclude={"limit"}), size=query.limit)
    items = [RunSummaryOut.model_validate(run, from_attributes=True) for run in page.runs]
    return RunListOut(items=items, next_before=page.next_before)


@router.get("/runs/{run_id}", response=RunOut, summary="A run with the status of each node")
@token_scope(Scope.RUNS_READ)
def get_run(request: HttpRequest, run_id: int) -> RunOut:
    return run_out(get_for(request.user, Run, Action.VIEW, pk=run_id), request.user)


@router.get("/runs/{run_id}/events", response=EventsOut, summary="Events after a sequence number, oldest first")
@token_scope(Scope.RUNS_READ)
def list_events(request: HttpRequest, run_id: int, query: Query[EventsQuery]) -> EventsOut:
    run = get_for(request.user, Run, Action.VIEW, pk=run_id)
    page = list(run.events.filter(seq__gt=query.after).order_by("seq")[: query.limit + 1])
    events = [EventOut.model_validate(event, from_attributes=True) for event in page[: query.limit]]
    return EventsOut(
        events=events, next_after=events[-1].seq if events else query.after, has_more=len(page) > query.limit
    )


@router.get(
    "/runs/{run_id}/stream",
    response={200: None},
    summary="The run's events and text deltas as Server-Sent Events, until it ends",
    description=(
        "`text/event-stream`: each event as `event: event` with `id:` its seq, each text delta of a running "
        "model node as `event: text.delta` (no id, never replayed), and `event: end` when the run has ended. "
        "Send `Last-Event-ID` (or `?after=`) with the last seq seen to resume after it (docs/observability.md)."
    ),
)
@token_scope(Scope.RUNS_READ)
async def stream_run(request: HttpRequest, run_id: int, after: int = 0) -> StreamingHttpResponse:
    run = await database_sync_to_async(get_for)(request.user, Run, Action.VIEW, pk=run_id)
    resume = request.headers.get("Last-Event-ID")
    access = await database_sync_to_async(stream.access_of)(request, run.workspace_id)
    return stream.response(run.pk, stream.last_event_id(resume) if resume is not None else max(0, after), access)


@router.post("/runs/{run_id}/cancel", response={202: RunOut}, summary="Cancel a run that has not ended")
@token_scope(Scope.RUNS_TRIGGER)
def cancel_run(request: HttpRequest, run_id: int) -> Status[RunOut]:
    run = get_for(request.user, Run, Action.EDIT, pk=run_id)
    if not runs.cancel_run(run, by=cast(User, request.user)):
        raise HttpError(409, f"Run {run.pk} has already ended ({run.status})")
    run.refresh_from_db()
    return Status(202, run_out(run, request.user))


@router.post("/runs/{run_id}/retry", response={202: RunOut}, summary="Retry an ended run from its failed nodes")
@token_scope(Scope.RUNS_TRIGGER)
def retry_run(request: HttpRequest, run_id: int) -> Status[RunOut]:
    run = get_for(request.user, Run, Action.EDIT, pk=run_id)
    if not runs.retry_from_failed(run, by=cast(User, request.user)):
        raise HttpError(409, f"Run {run.pk} is {run.status}: only failed or cancelled runs can be retried")
    run.refresh_from_db()
    return Status(202, run_out(run, request.user))
