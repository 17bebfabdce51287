from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.registry import Node, NodeContext, NodeResult, register


class TransformParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fields: dict[str, Any] = Field(
        default_factory=dict,
        description='JSON to build; strings may hold templates, e.g. {"summary": "{{ input.subject }}"}',
    )


@register
class Transform(Node):
    """Builds a JSON object from templates over the input and upstream outputs. Output: that object."""

    kind = "transform"
    label = "Transform"
    category = "Data"
    description = "Builds JSON from the input and earlier nodes' outputs."
    Params = TransformParams

    @classmethod
    def runs_inline(cls, params: Any) -> bool:
        return True

    def run(self, ctx: NodeContext) -> NodeResult:
        return NodeResult(output=ctx.params.fields)
