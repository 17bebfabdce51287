"""The for_each node: runs a published workflow once per item of a list, at most `max_concurrency` at once.

Its first execution evaluates the items, renders each child's input (templates that may use
`item` and `index`), checks them all, and parks; engine/runs/children.py starts the children
and, as each ends, the next one, without a worker waiting on the loop. When every item has
ended (or, with `stop`, the first has failed) the node runs once more to gather the results.
"""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine import expressions
from engine.errors import NodeError, NonRetryableError
from engine.graph import strings
from engine.models import ChildRound, ChildRoundState, RunStatus
from engine.nodes.subworkflow import VERSION_HELP, WORKFLOW_HELP, called, check_inputs, workflow_problems
from engine.registry import Node, NodeContext, NodeResult, register
from engine.runs import children
from engine.runs.children import ChildPlan

ITEM_NAMES = frozenset({"item", "index"})


class ForEachParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workflow_id: int = Field(ge=1, description=WORKFLOW_HELP)
    version: int | None = Field(None, ge=1, description=VERSION_HELP)
    items: str = Field(
        min_length=1, max_length=expressions.MAX_EXPRESSION_LENGTH, description="an expression giving a list"
    )
    input: Any = Field("{{ item }}", description="each run's input; templates may also use item and index")
    max_concurrency: int = Field(10, ge=1, le=500, description="item runs at once")
    on_item_failure: Literal["stop", "continue"] = Field(
        "stop", description="stop: cancel the other items and fail; continue: collect the failures"
    )

    @field_validator("input")
    @classmethod
    def templates_parse(cls, value: Any) -> Any:
        """The input is rendered per item by the node, so graph validation does not check it: check it here."""
        for path, text in strings(value, "input"):
            found = expressions.problems(text, names=ITEM_NAMES)
            if found:
                raise ValueError(f"{path}: {found[0]}")
        return value


@register
class ForEach(Node):
    """Runs a published workflow once per item, in parallel up to a limit; outputs the results in item order."""

    kind = "for_each"
    label = "For each"
    category = "Flow"
    description = "Runs a published workflow for every item of a list and collects the results."
    Params = ForEachParams
    expression_params = frozenset({"items"})
    # The input is rendered per item, with item and index; which workflow runs is never model output.
    literal_params = frozenset({"workflow_id", "version", "input", "max_concurrency", "on_item_failure"})

    @classmethod
    def workspace_problems(cls, params: dict[str, Any], workspace_id: int) -> Iterator[tuple[str, str]]:
        return workflow_problems(params, workspace_id)

    def run(self, ctx: NodeContext) -> NodeResult:
        last = children.latest_round(ctx.run_id, ctx.node_id)
        if last is not None and last.state == ChildRoundState.OPEN:
            return NodeResult(park=True)  # woken early (a redelivered message): items still run
        if last is not None and last.state == ChildRoundState.CLOSED:
            return _gather(ctx, last)
        return NodeResult(park=True, children=_plan(ctx))


def _plan(ctx: NodeContext) -> ChildPlan:
    params: ForEachParams = ctx.params
    try:
        items = expressions.evaluate(params.items, ctx.scope, deadline=ctx.deadline)
    except expressions.ExpressionError as error:
        raise NonRetryableError(f"An expression failed: items: {error}", code="expression_error") from None
    if not isinstance(items, list):
        kind = "nothing" if items is None else type(items).__name__
        raise NonRetryableError(
            f"items must give a list; {params.items!r} gave {kind}", code="items_not_a_list", value_type=kind
        )
    limit = settings.ENGINE_FOR_EACH_MAX_ITEMS
    if len(items) > limit:
        raise NonRetryableError(f"items gave {len(items)} items; the limit is {limit}", code="too_many_items")
    workflow = children.pinned_call(ctx.run_id, params.workflow_id) or called(ctx, params.workflow_id, params.version)
    inputs = []
    for index, item in enumerate(items):
        scope = {**ctx.scope, "item": item, "index": index}
        try:
            rendered = expressions.render(params.input, scope, deadline=ctx.deadline, names=ITEM_NAMES)
        except expressions.ExpressionError as error:
            message = f"item {index}: an expression failed: input: {error}"
            raise NonRetryableError(message, code="expression_error") from None
        inputs.append(rendered)
    check_inputs(workflow, inputs, item_label=True)
    return ChildPlan(
        children.FOR_EACH,
        workflow,
        inputs,
        max_concurrency=params.max_concurrency,
        stop_on_failure=params.on_item_failure == "stop",
    )


def _gather(ctx: NodeContext, last: ChildRound) -> NodeResult:
    """The output from each item's latest run; a round that stopped early fails the node."""
    if last.error:
        children.spend(last.pk)
        error = last.error
        where = f"item {error['index']} (run {error['run_id']}): " if "index" in error else ""
        retryable = error.get("code") != "budget_exceeded"
        details = {key: value for key, value in error.items() if key not in ("code", "message")}
        raise NodeError(f"{where}{error['message']}", code=error["code"], retryable=retryable, **details)
    items = children.item_runs(ctx.run_id, ctx.node_id, last)
    results: list[Any] = [None] * last.total
    failures = []
    counts = {"total": last.total, "succeeded": 0, "failed": 0, "cancelled": 0}
    for item in items:
        if item.status == RunStatus.SUCCEEDED:
            results[item.index] = item.output
            counts["succeeded"] += 1
        else:
            counts["failed" if item.status == RunStatus.FAILED else "cancelled"] += 1
            failures.append({"index": item.index, "error": item.error or item.status, "run_id": item.run_id})
    cost = sum((item.cost for item in items), Decimal(0))
    return NodeResult(output={"results": results, "failures": failures, "counts": counts, "cost": float(cost)})
