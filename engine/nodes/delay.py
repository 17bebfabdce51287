from datetime import timedelta

from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field

from engine.registry import Node, NodeContext, NodeResult, register


class DelayParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(gt=0, le=30 * 86400)


@register
class Delay(Node):
    """Waits `seconds` without holding a worker: the node parks with a wake-up time in the database."""

    kind = "delay"
    label = "Delay"
    description = "Waits, then continues. Holds no worker while it waits."
    Params = DelayParams

    def run(self, ctx: NodeContext) -> NodeResult:
        if ctx.resumed:
            return NodeResult(output={"waited_s": ctx.params.seconds})
        return NodeResult(wait_until=timezone.now() + timedelta(seconds=ctx.params.seconds))
