"""Published workflows as MCP tools: which ones a token may see, under which names, and a call's answer.

A workflow is offered when its `mcp_tool` setting is on, it is not archived and it has a published
version; the token's user must be allowed to start it (as `POST /workflows/{id}/runs` requires).
A call starts a run of the latest version through the same path as the REST trigger, counted
against the token's trigger rate; budgets apply to the run as to any other.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from accounts.models import ApiToken
from accounts.permissions import Action, visible
from accounts.ratelimit import RateLimited
from accounts.tokens import count_token_trigger
from builder import versions
from builder.models import Workflow, WorkflowVersion
from engine import graph as graphs
from engine.models import Run, RunStatus, TriggerKind
from engine.runs import Options, RunRejected

MAX_TOOLS = 200


@dataclass(frozen=True)
class WorkflowTool:
    workflow_id: int
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """What a tool call returns: text for the model, the same as JSON, and whether it failed."""

    text: str
    data: dict[str, Any]
    is_error: bool = False


class CallRefused(Exception):
    """The call starts no run: unknown tool, bad arguments, rate limit. The message says why."""


def tool_name(workflow: Workflow) -> str:
    """`<name as snake case>_<id>`: readable, unique in the workspace, stable while the name is."""
    slug = re.sub(r"[^a-z0-9]+", "_", workflow.name.lower()).strip("_")[:48] or "workflow"
    return f"{slug}_{workflow.pk}"


def _offered(token: ApiToken) -> list[tuple[Workflow, WorkflowVersion]]:
    workflows = visible(token.user, Workflow, Action.EDIT).filter(
        workspace_id=token.workspace_id, mcp_tool=True, archived_at__isnull=True
    )
    found = []
    for workflow in workflows.order_by("name", "id")[:MAX_TOOLS]:
        latest = workflow.latest_version()
        if latest is not None:
            found.append((workflow, latest))
    return found


def _input_schema(version: WorkflowVersion) -> dict[str, Any]:
    schema = graphs.Graph.model_validate(version.graph).trigger().params.get("input_schema") or {}
    # MCP wants an object schema at the root; a trigger's input is always an object.
    return {"type": "object", **schema}


def tools(token: ApiToken) -> list[WorkflowTool]:
    return [
        WorkflowTool(workflow.pk, tool_name(workflow), workflow.description or workflow.name, _input_schema(latest))
        for workflow, latest in _offered(token)
    ]


def start(token: ApiToken, name: str, arguments: dict[str, Any]) -> Run:
    """Start a run of the tool's workflow; CallRefused says why none was started."""
    workflow = next((w for w, _ in _offered(token) if tool_name(w) == name), None)
    if workflow is None:
        raise CallRefused(f"There is no tool {name!r} here")
    try:
        count_token_trigger(token.prefix)
        options = Options(trigger_kind=TriggerKind.API, created_by=token.user)
        return versions.run_latest(workflow, arguments, options)
    except RunRejected as rejected:
        problems = "; ".join(f"{p['path']}: {p['message']}" for p in rejected.problems)
        raise CallRefused(f"{rejected}: {problems}" if problems else str(rejected)) from None
    except (RateLimited, versions.NothingPublished) as refused:
        raise CallRefused(str(refused)) from None


def answer(run: Run) -> Answer:
    """The run's output once it succeeded; its error once it failed; its id and status while it goes on; an
    error once it was deleted while the call waited (its workflow's or workspace's deletion, retention)."""
    try:
        run.refresh_from_db(fields=["status", "output", "error"])
    except Run.DoesNotExist:
        message = f"Run {run.pk} was deleted while this call waited for it"
        return Answer(message, {"run_id": run.pk, "status": "deleted", "error": message}, is_error=True)
    if run.status == RunStatus.SUCCEEDED:
        output = run.output
        return Answer(json.dumps(output), output if isinstance(output, dict) else {"output": output})
    data = {"run_id": run.pk, "status": run.status, "run_url": f"/api/v1/runs/{run.pk}"}
    if run.status in (RunStatus.FAILED, RunStatus.CANCELLED):
        data["error"] = run.error or f"the run {run.status}"
        return Answer(f"Run {run.pk} {run.status}: {data['error']}", data, is_error=True)
    waiting = "waits for a person or a timer" if run.status == RunStatus.WAITING else "is still running"
    data["message"] = f"Run {run.pk} {waiting}; read its result later at {data['run_url']}"
    return Answer(json.dumps(data), data)
