"""The `workflow` tool kind: a published workflow of the workspace, run as a child run while the node waits.

The arguments are the child's input, so the called trigger's input schema is the tool's
argument schema (unless the tool sets its own). The node parks holding no worker as a
subworkflow node does (engine/runs/children.py), one child round per call; the child's
output, or why it failed, is the tool's result for the model.
"""

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine import graph as graphs
from engine.agent.tools import ANY_OBJECT, ToolCall, ToolFailed, ToolKind, ToolSpec, register_kind
from engine.errors import NonRetryableError
from engine.models import ChildRound, RunStatus
from engine.nodes.subworkflow import VERSION_HELP, WORKFLOW_HELP, called, check_inputs, workflow_problems
from engine.runs import children
from engine.runs.children import CallRefused, ChildPlan


class WorkflowFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workflow_id: int = Field(ge=1, description=WORKFLOW_HELP)
    version: int | None = Field(None, ge=1, description=VERSION_HELP)


@register_kind
class WorkflowTool(ToolKind):
    kind = "workflow"
    Fields = WorkflowFields
    child_runs = True

    @classmethod
    def argument_schema(cls, spec: ToolSpec, fields: WorkflowFields, workspace_id: int) -> dict[str, Any]:
        if spec.parameters:
            return spec.parameters
        try:
            workflow = children.resolve(workspace_id, fields.workflow_id, fields.version)
        except CallRefused:
            return ANY_OBJECT
        schema = graphs.Graph.model_validate(workflow.graph).trigger().params.get("input_schema")
        return schema if isinstance(schema, dict) and schema.get("type") == "object" else ANY_OBJECT

    @classmethod
    def workspace_problems(cls, fields: WorkflowFields, workspace_id: int) -> Iterator[tuple[str, str]]:
        return workflow_problems(fields.model_dump(), workspace_id)

    @classmethod
    def plan(cls, call: ToolCall) -> ChildPlan:
        fields: WorkflowFields = call.fields
        try:
            workflow = called(call.ctx, fields.workflow_id, fields.version)
            check_inputs(workflow, [call.arguments], item_label=False)
        except NonRetryableError as refused:
            raise ToolFailed(str(refused)) from None
        # A round per call, known by the call's key, never carrying another call's child.
        return ChildPlan(call.key, workflow, [call.arguments], carry=False)

    @classmethod
    def gather(cls, call: ToolCall, closed: ChildRound) -> tuple[Any, dict[str, Any]]:
        # The round's own child: earlier rounds' children of item 0 are older attempts, and none is carried.
        found = children.item_runs(call.ctx.run_id, call.ctx.node_id, closed)
        item = found[0] if found and found[0].round == closed.number else None
        if item is None:
            raise ToolFailed("the workflow's run was not started")
        detail = {"round": closed.number, "child_run_id": item.run_id}
        if item.status != RunStatus.SUCCEEDED:
            reason = f": {item.error}" if item.error else ""
            return {"error": f"the workflow's run {item.status}{reason}"}, detail
        return item.output, detail
