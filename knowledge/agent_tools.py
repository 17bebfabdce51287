"""The agent's `knowledge` tool kind: searches a knowledge base of the run's workspace with the model's query."""

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.agent.tools import ToolCall, ToolFailed, ToolKind, ToolSpec, register_kind
from engine.errors import NonRetryableError

QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"query": {"type": "string", "minLength": 1, "description": "what to search for"}},
    "required": ["query"],
}
PASSAGE_CHARS = 1500


class KnowledgeFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    knowledge_base: int | str = Field(description="the knowledge base's id, or its name in this workspace")
    top_k: int = Field(4, ge=1, le=20)
    min_score: float = Field(0.0, ge=0, le=1)
    filters: dict[str, Any] = Field(default_factory=dict, description="metadata key → value (or values)")


@register_kind
class KnowledgeTool(ToolKind):
    """Output for the model: {passages: [{id, text, score, title, source}]}; `id` names the chunk, for citing."""

    kind = "knowledge"
    Fields = KnowledgeFields

    @classmethod
    def argument_schema(cls, spec: ToolSpec, fields: Any, workspace_id: int) -> dict[str, Any]:
        return spec.parameters or QUERY_SCHEMA

    @classmethod
    def workspace_problems(cls, fields: KnowledgeFields, workspace_id: int) -> Iterator[tuple[str, str]]:
        from knowledge.models import KnowledgeBase

        named = fields.knowledge_base
        bases = KnowledgeBase.objects.filter(workspace_id=workspace_id)
        if not (bases.filter(pk=named) if isinstance(named, int) else bases.filter(name=named)).exists():
            yield "knowledge_base", f"there is no knowledge base {named!r} in this workspace"

    @classmethod
    def call(cls, call: ToolCall) -> Any:
        from knowledge.nodes import _knowledge_base
        from knowledge.search import search

        fields: KnowledgeFields = call.fields
        query = str(call.arguments.get("query") or next(iter(call.arguments.values()), ""))
        try:
            base = _knowledge_base(call.ctx.workspace_id, fields.knowledge_base)
        except NonRetryableError as missing:
            raise ToolFailed(str(missing)) from None
        found = search(base, query, fields.top_k, fields.filters, fields.min_score)
        return {
            "passages": [
                {
                    "id": f"chunk-{passage.chunk_id}",
                    "text": passage.text[:PASSAGE_CHARS],
                    "score": round(passage.score, 4),
                    "title": passage.title,
                    "source": passage.source,
                }
                for passage in found
            ]
        }
