"""What the model-calling nodes share: provider and model choice with fallbacks, cache TTL, the error handle."""

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.budgets import BudgetExceeded
from engine.providers import BUILTIN, BUILTIN_CHAT_MODEL
from engine.providers.base import Passage
from engine.providers.calls import ModelCalls, Target
from engine.registry import Node, NodeContext, NodeResult

MAX_CACHE_TTL_S = 30 * 24 * 3600


class Fallback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)


class ModelParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str = Field(default=BUILTIN, min_length=1, description="A provider from GET /api/v1/providers")
    model: str = Field(default=BUILTIN_CHAT_MODEL, min_length=1)
    fallbacks: list[Fallback] = Field(
        default_factory=list,
        max_length=5,
        description="Tried in order when the provider is still unavailable after its tries (429, 5xx, timeout)",
    )
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=1, le=128_000)
    cache_ttl_s: int = Field(
        default=0,
        ge=0,
        le=MAX_CACHE_TTL_S,
        description="Reuse the answer to the same prompt and parameters for this many seconds; 0 = off",
    )
    error_handle: bool = Field(
        default=False, description="When a budget refuses the call, leave by the 'error' handle instead of failing"
    )

    def targets(self) -> list[Target]:
        return [Target(self.provider, self.model), *(Target(f.provider, f.model) for f in self.fallbacks)]


def passages(value: Any) -> tuple[Passage, ...]:
    """The retrieve node's passages ({text, score, title, source} each), tolerant of plain strings.

    Chunks of one document (same title and source) become one passage, their texts in the
    order given: a reply cites each article once, not once per chunk retrieved from it.
    """
    if not isinstance(value, list):
        return ()
    found: list[Passage] = []
    where: dict[tuple[str, str], int] = {}
    for item in value:
        if isinstance(item, str):
            found.append(Passage(text=item))
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            passage = Passage(
                text=item["text"],
                score=float(item.get("score") or 0.0),
                title=str(item.get("title") or ""),
                source=str(item.get("source") or ""),
            )
            document = (passage.title, passage.source)
            if document == ("", ""):
                found.append(passage)
            elif document in where:
                earlier = found[where[document]]
                found[where[document]] = replace(
                    earlier, text=f"{earlier.text}\n\n{passage.text}", score=max(earlier.score, passage.score)
                )
            else:
                where[document] = len(found)
                found.append(passage)
    return tuple(found)


def run_with_model(
    ctx: NodeContext, kind: str, params: ModelParams, work: Callable[[ModelCalls], dict[str, Any]]
) -> NodeResult:
    """Run `work` with the node's model calls; its output gets the calls' usage beside it.

    With the error handle on, a budget refusal becomes the node's output on the 'error' handle.
    """
    calls = ctx.model_calls(kind, params.cache_ttl_s)
    try:
        output = work(calls)
    except BudgetExceeded as refused:
        if not params.error_handle:
            raise
        error = {"code": refused.code, "message": str(refused), **refused.details}
        return NodeResult(output={"error": error}, handle="error", usage=calls.usage())
    usage = calls.usage()
    output["cached"] = bool(usage["calls"]) and usage["cached_calls"] == len(usage["calls"])
    return NodeResult(output=output, handle="out" if params.error_handle else None, usage=usage)


class ModelNode(Node):
    """A node whose work is model calls: `ask` builds its output; the 'error' handle appears with error_handle."""

    category = "AI"

    @classmethod
    def output_handles(cls, params: dict[str, Any]) -> tuple[str, ...]:
        return (*cls.outputs, "error") if params.get("error_handle") else cls.outputs

    def run(self, ctx: NodeContext) -> NodeResult:
        return run_with_model(ctx, self.kind, ctx.params, lambda calls: self.ask(calls, ctx.params))

    def ask(self, calls: ModelCalls, params: Any) -> dict[str, Any]:
        raise NotImplementedError
