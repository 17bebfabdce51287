"""The subworkflow node: runs one published workflow of the workspace as a child run and outputs the child's output.

It parks, holding no worker, while the child runs (engine/runs/children.py starts it as the
node parks and wakes the node when it ends). A child that fails fails the node; the node's
retry policy then starts a new child.
"""

from collections.abc import Iterator
from typing import Any

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

from engine import graph as graphs
from engine.errors import NodeError, NonRetryableError
from engine.models import ChildRound, ChildRoundState, RunStatus
from engine.registry import Node, NodeContext, NodeResult, register
from engine.runs import children
from engine.runs.children import CalledWorkflow, CallRefused, ChildPlan

WORKFLOW_HELP = "the workflow to run: one of this workspace's, published, not archived"
VERSION_HELP = "a version number to pin; empty: the latest published version when the node starts"


class SubworkflowParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workflow_id: int = Field(ge=1, description=WORKFLOW_HELP)
    version: int | None = Field(None, ge=1, description=VERSION_HELP)
    input: Any = Field(
        default_factory=dict,
        description='the child\'s input; strings may hold templates, e.g. {"text": "{{ input.body }}"}',
    )


def workflow_problems(params: dict[str, Any], workspace_id: int) -> Iterator[tuple[str, str]]:
    """The called workflow as the workspace has it now: refused when missing, archived or unpublished."""
    workflow_id = params.get("workflow_id")
    if not isinstance(workflow_id, int) or isinstance(workflow_id, bool):
        return  # reported as bad params
    version = params.get("version")
    try:
        children.resolve(workspace_id, workflow_id, version if isinstance(version, int) else None)
    except CallRefused as refused:
        yield "workflow_id", str(refused)


def called(ctx: NodeContext, workflow_id: int, version: int | None) -> CalledWorkflow:
    """The called workflow, checked again as the node starts: it exists, and calling it is no loop and not too deep."""
    try:
        workflow = children.resolve(ctx.workspace_id, workflow_id, version)
    except CallRefused as refused:
        raise NonRetryableError(f"The called workflow cannot run: {refused}", code="bad_workflow") from None
    refused_because = children.refusal(children.lineage(ctx.run_id), workflow)
    if refused_because is not None:
        code = "too_deep" if "nested" in refused_because else "recursive_call"
        raise NonRetryableError(f"Node {ctx.node_id!r}: {refused_because}", code=code)
    return workflow


def check_inputs(workflow: CalledWorkflow, inputs: list[Any], *, item_label: bool) -> None:
    """Every child input against the called workflow's trigger schema, before anything is created."""
    schema = graphs.Graph.model_validate(workflow.graph).trigger().params.get("input_schema") or {"type": "object"}
    validator = jsonschema.Draft202012Validator(schema)
    for index, value in enumerate(inputs):
        error = next(iter(sorted(validator.iter_errors(value), key=lambda e: list(e.path))), None)
        if error is not None:
            where = ".".join(["input", *map(str, error.path)])
            item = f"item {index}: " if item_label else ""
            message = f"{item}{where} does not match {workflow.workflow_name!r}'s input schema: {error.message}"
            raise NonRetryableError(message, code="bad_child_input")


@register
class Subworkflow(Node):
    """Runs a published workflow as a child run, waiting without a worker; outputs the child run's output."""

    kind = "subworkflow"
    label = "Sub-workflow"
    category = "Flow"
    description = "Runs another published workflow and waits for its result."
    Params = SubworkflowParams
    # Which workflow runs is chosen in the designer, never by model output.
    literal_params = frozenset({"workflow_id", "version"})

    @classmethod
    def workspace_problems(cls, params: dict[str, Any], workspace_id: int) -> Iterator[tuple[str, str]]:
        return workflow_problems(params, workspace_id)

    def run(self, ctx: NodeContext) -> NodeResult:
        last = children.latest_round(ctx.run_id, ctx.node_id)
        if last is not None and last.state == ChildRoundState.OPEN:
            return NodeResult(park=True)  # woken early (a redelivered message): the child still runs
        if last is not None and last.state == ChildRoundState.CLOSED:
            return _gather(ctx, last)
        workflow = called(ctx, ctx.params.workflow_id, ctx.params.version)
        check_inputs(workflow, [ctx.params.input], item_label=False)
        return NodeResult(park=True, children=ChildPlan(children.SUBWORKFLOW, workflow, [ctx.params.input]))


def _gather(ctx: NodeContext, last: ChildRound) -> NodeResult:
    found = children.item_runs(ctx.run_id, ctx.node_id, last)
    item = found[0] if found else None
    if item is not None and item.status == RunStatus.SUCCEEDED:
        return NodeResult(output=item.output)
    children.spend(last.pk)
    if item is None:
        raise NodeError("The called workflow's run was not started", code="child_failed")
    reason = f": {item.error}" if item.error else ""
    raise NodeError(
        f"The called workflow's run {item.run_id} {item.status}{reason}", code="child_failed", run_id=item.run_id
    )
