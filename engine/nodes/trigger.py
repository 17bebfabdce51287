from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.registry import Node, NodeContext, NodeResult, register


class TriggerParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object"},
        description="JSON Schema the run input must match; checked before the run starts",
    )


@register
class Trigger(Node):
    """Where every run starts. Output: the run input, already checked against `input_schema`."""

    kind = "trigger"
    label = "Trigger"
    category = "Triggers"
    description = "Starts the workflow with the input of the run."
    Params = TriggerParams
    inputs = ()
    is_trigger = True
    literal_params = frozenset({"input_schema"})

    @classmethod
    def runs_inline(cls, params: Any) -> bool:
        return True

    def run(self, ctx: NodeContext) -> NodeResult:
        return NodeResult(output=ctx.scope["input"])
