"""Nodes that choose a path: condition (true/false) and switch (one handle per case)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine import expressions
from engine.errors import NonRetryableError
from engine.graph import NODE_ID_PATTERN
from engine.registry import Node, NodeContext, NodeResult, register


def evaluate(ctx: NodeContext, expression: str) -> Any:
    """The expression's value, within the node's timeout; a failure is the node's expression_error, as in
    a transform's params, rather than an unexpected error."""
    try:
        return expressions.evaluate(expression, ctx.scope, deadline=ctx.deadline)
    except expressions.ExpressionError as error:
        raise NonRetryableError(f"An expression failed: {error}", code="expression_error") from None


class ConditionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expression: str = Field(min_length=1, description="e.g. nodes.classify.confidence >= 0.8")


@register
class Condition(Node):
    """Evaluates `expression` against the run; activates `true` or `false`. Output: {"result": bool}."""

    kind = "condition"
    label = "Condition"
    description = "Takes the true or the false path depending on an expression."
    Params = ConditionParams
    outputs = ("true", "false")
    expression_params = frozenset({"expression"})

    @classmethod
    def runs_inline(cls, params: Any) -> bool:
        return True

    def run(self, ctx: NodeContext) -> NodeResult:
        result = bool(evaluate(ctx, ctx.params.expression))
        return NodeResult(output={"result": result}, handle="true" if result else "false")


class SwitchParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=1, description="expression whose value picks the case, e.g. nodes.classify.label")
    cases: list[str] = Field(min_length=1, max_length=50, description="one output handle per value")

    @field_validator("cases")
    @classmethod
    def distinct_names(cls, cases: list[str]) -> list[str]:
        import re

        for case in cases:
            if not re.match(NODE_ID_PATTERN, case) or case == "default":
                raise ValueError(f"{case!r} cannot name a case: use letters, digits and _ (and not 'default')")
        if len(set(cases)) != len(cases):
            raise ValueError("case names must be distinct")
        return cases


@register
class Switch(Node):
    """Evaluates `value`; activates the handle named like it, or `default`. Output: {"value": ..., "case": ...}."""

    kind = "switch"
    label = "Switch"
    description = "Takes one path per value, with a default path."
    Params = SwitchParams
    outputs = ("default",)
    expression_params = frozenset({"value"})

    @classmethod
    def output_handles(cls, params: dict[str, object]) -> tuple[str, ...]:
        cases = params.get("cases")
        names = [case for case in cases if isinstance(case, str)] if isinstance(cases, list) else []
        return (*names, "default")

    @classmethod
    def runs_inline(cls, params: Any) -> bool:
        return True

    def run(self, ctx: NodeContext) -> NodeResult:
        value = evaluate(ctx, ctx.params.value)
        case = str(value) if str(value) in ctx.params.cases else "default"
        return NodeResult(output={"value": value, "case": case}, handle=case)
