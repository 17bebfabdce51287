"""The agent node: a model that calls tools in a loop until it answers, every step recorded (docs/agents.md)."""

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from engine.agent import http_tool, mcp_tool, workflow_tool  # noqa: F401  (registers the engine's tool kinds)
from engine.agent.loop import AgentStopped, Loop, Park, Tool
from engine.agent.reviews import ToolApproval
from engine.agent.tools import ANY_OBJECT, ToolSpec
from engine.budgets import BudgetExceeded
from engine.errors import NonRetryableError
from engine.models import StepKind
from engine.nodes.generate import valid_schema
from engine.nodes.llm import ModelNode, ModelParams
from engine.registry import NodeContext, NodeResult, register


class AgentParams(ModelParams):
    instructions: str = Field("", max_length=50_000, description="the system prompt; may hold {{ }} templates")
    message: str = Field(min_length=1, description="the user message, e.g. {{ input.body }}")
    tools: list[ToolSpec] = Field(default_factory=list, max_length=32)
    tool_choice: Literal["auto", "required", "none"] = Field("auto", description="whether the model must call a tool")
    max_turns: int = Field(8, ge=1, le=50, description="model turns at most; then the node fails with max_turns")
    max_tool_calls: int = Field(16, ge=0, le=200, description="tool calls at most; then it fails with max_tool_calls")
    max_result_chars: int = Field(8000, ge=200, le=100_000, description="a tool result is cut to this for the model")
    output_schema: dict[str, Any] | None = Field(default=None, description="a final answer valid against this schema")
    approval: ToolApproval = Field(default_factory=ToolApproval, description="who approves tools requiring approval")

    _schema = field_validator("output_schema")(valid_schema)

    @field_validator("tool_choice")
    @classmethod
    def _choice_has_tools(cls, choice: str, info: ValidationInfo) -> str:
        # A field's own validator, so that the problem's path is params.tool_choice (the designer shows it there).
        if choice == "required" and "tools" in info.data and not info.data["tools"]:
            raise ValueError("'required' makes the model call a tool, and this agent has none: add a tool, or use auto")
        return choice

    @model_validator(mode="after")
    def _tools_consistent(self) -> "AgentParams":
        names = [tool.name for tool in self.tools]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f"tools.{index}.name: another tool is already called {name!r}")
        return self


@register
class Agent(ModelNode):
    """Runs a model with tools until it gives a final answer.

    Each turn the model answers or asks for tool calls; the calls of one turn run side by side
    and their results (cut to max_result_chars) go back to the model. Every model turn, tool
    call and approval is an AgentStep with an `agent.step` event; a crashed or retried node
    replays the recorded steps instead of making or billing them again. A tool requiring
    approval parks the node until its reviewers decide; a turn's workflow tool calls park it
    while their child runs run, side by side. Output: {text, data (with output_schema), turns, tool_calls, input_tokens,
    output_tokens, cost, provider, model, loop}. Fails with max_turns, max_tool_calls or
    schema_mismatch (not retryable), on a budget refusal, or when the model is unavailable
    (retryable); with error_handle on, budget refusals and those guards leave by `error`.
    """

    kind = "agent"
    label = "Agent"
    description = "A model that calls tools (knowledge search, HTTP, workflows, MCP servers) until it can answer."
    Params = AgentParams
    # Its tools may write (their writes go through the ledger); its result is never cached.
    side_effect = True
    # Tools' templates are filled from the model's arguments at call time, not from the run.
    literal_params = frozenset({"tools", "output_schema", "approval"})

    @classmethod
    def workspace_problems(cls, params: dict[str, Any], workspace_id: int) -> Iterator[tuple[str, str]]:
        try:
            tools = AgentParams.model_validate(params).tools
        except ValidationError:
            return  # reported as bad params
        for index, spec in enumerate(tools):
            kind = spec.kind_class()
            for path, message in kind.workspace_problems(spec.fields(), workspace_id):
                yield f"tools.{index}.{path}", message

    def run(self, ctx: NodeContext) -> NodeResult:
        params: AgentParams = ctx.params
        calls = ctx.model_calls(self.kind, params.cache_ttl_s)
        tools = _tools(params.tools, ctx.workspace_id)
        loop = Loop(ctx, params, calls, tools)
        try:
            answer = loop.run()
        except (BudgetExceeded, AgentStopped) as stopped:
            if not params.error_handle:
                raise
            error = {"code": stopped.code, "message": str(stopped), **stopped.details, **loop.summary()}
            return NodeResult(output={"error": error}, handle="error", usage=calls.usage())
        if isinstance(answer, Park):
            return answer.result(calls.usage())
        turns = sorted((row for row in loop.recorded.values() if row.kind == StepKind.MODEL), key=lambda r: r.seq)
        detail = turns[-1].detail if turns else {}
        output = {
            **answer,
            **loop.summary(),
            "provider": detail.get("provider", params.provider),
            "model": detail.get("model", params.model),
        }
        return NodeResult(output=output, handle="out" if params.error_handle else None, usage=calls.usage())


def _tools(specs: list[ToolSpec], workspace_id: int) -> dict[str, Tool]:
    """The model's tools by name; a spec may stand for several (an MCP server's), whose names must not clash.
    A schema from outside (an MCP server's) that is not valid JSON Schema makes its tool unusable, not the node fail."""
    tools: dict[str, Tool] = {}
    for spec in specs:
        kind = spec.kind_class()
        fields = spec.fields()
        for offered, schema in kind.offered(spec, fields, workspace_id):
            if offered.name in tools:
                raise NonRetryableError(
                    f"two tools are called {offered.name!r}: rename the tool or leave it out of an allowlist",
                    code="duplicate_tool",
                )
            try:
                valid_schema(schema)
            except ValueError as error:
                unusable = f"its arguments schema is {error}"
                tools[offered.name] = Tool(offered, kind, fields, ANY_OBJECT, unusable=unusable)
            else:
                tools[offered.name] = Tool(offered, kind, fields, schema)
    return tools
