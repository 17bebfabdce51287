"""The retrieve node: searches a knowledge base of the run's workspace and hands back ranked passages."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import NonRetryableError
from engine.registry import Node, NodeContext, NodeResult, register


class RetrieveParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(
        min_length=1, max_length=20000, description="a template, e.g. {{ input.subject }} {{ input.body }}"
    )
    knowledge_base: int | str = Field(description="the knowledge base's id, or its name in this workspace")
    top_k: int = Field(5, ge=1, le=50)
    filters: dict[str, Any] = Field(
        default_factory=dict, description="metadata key → value (or list of values); every key must match"
    )
    min_score: float = Field(0.0, ge=0, le=1, description="leave out passages scoring below this (0 to 1)")


@register
class Retrieve(Node):
    """Finds the passages of a knowledge base that best answer the query (hybrid BM25 + embeddings).

    Output: {passages: [{text, score, title, source, heading, document_id, url}], top_score, query};
    `url` is the source when it is a web link, else "".
    `score` is a relevance from 0 to 1 (docs/knowledge.md); `top_score` is the best one, 0 when
    nothing matched, for the confidence check. Fails (not retryable) when the knowledge base is
    not in the run's workspace.
    """

    kind = "retrieve"
    label = "Retrieve"
    category = "AI"
    description = "Searches a knowledge base for passages about the query."
    Params = RetrieveParams
    # Which knowledge base and how much of it must not come from model output or ticket text.
    literal_params = frozenset({"knowledge_base", "top_k", "min_score"})

    def run(self, ctx: NodeContext) -> NodeResult:
        from knowledge.models import KnowledgeBase
        from knowledge.search import search

        p: RetrieveParams = ctx.params
        bases = KnowledgeBase.objects.filter(workspace_id=ctx.workspace_id)
        found = (
            bases.filter(pk=p.knowledge_base)
            if isinstance(p.knowledge_base, int)
            else bases.filter(name=p.knowledge_base)
        )
        base = found.first()
        if base is None:
            raise NonRetryableError(
                f"there is no knowledge base {p.knowledge_base!r} in this workspace", code="not_found"
            )
        passages = search(base, p.query, p.top_k, p.filters, p.min_score)
        output = [
            {
                **{
                    key: getattr(passage, key) for key in ("text", "score", "title", "source", "heading", "document_id")
                },
                # A link for the review card's source list (approvals/cards.py reads `url`).
                "url": passage.source if passage.source.startswith(("https://", "http://")) else "",
            }
            for passage in passages
        ]
        return NodeResult(
            output={"passages": output, "top_score": max((x.score for x in passages), default=0.0), "query": p.query}
        )
