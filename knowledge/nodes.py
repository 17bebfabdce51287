"""The knowledge nodes: retrieve searches a knowledge base of the run's workspace; knowledge_upsert adds to one."""

import hashlib
from typing import TYPE_CHECKING, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.errors import NonRetryableError
from engine.registry import Node, NodeContext, NodeResult, register
from knowledge.documents import MAX_TEXT_CHARS

if TYPE_CHECKING:
    from knowledge.models import KnowledgeBase


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
        from knowledge.search import search

        p: RetrieveParams = ctx.params
        base = _knowledge_base(ctx.workspace_id, p.knowledge_base)
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


def _knowledge_base(workspace_id: int, named: int | str) -> "KnowledgeBase":
    """The workspace's knowledge base with this id (or name); a node error when it has none."""
    from knowledge.models import KnowledgeBase

    bases = KnowledgeBase.objects.filter(workspace_id=workspace_id)
    found = bases.filter(pk=named) if isinstance(named, int) else bases.filter(name=named)
    base = found.first()
    if base is None:
        raise NonRetryableError(f"there is no knowledge base {named!r} in this workspace", code="not_found")
    return base


class UpsertParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    knowledge_base: int | str = Field(description="the knowledge base's id, or its name in this workspace")
    title: str = Field("", max_length=300, description="a template; blank: the URL")
    text: str = Field("", max_length=MAX_TEXT_CHARS, description="the document's text (give text or a URL)")
    url: str = Field("", max_length=2000, description="a web page to fetch instead of text")
    key: str = Field("", max_length=300, description="finds the document to replace; blank: the URL, else the title")
    metadata: dict[str, Any] = Field(default_factory=dict, description="metadata key → value, for retrieve's filters")

    @model_validator(mode="after")
    def _text_or_url(self) -> Self:
        if bool(self.text.strip()) == bool(self.url.strip()):
            raise ValueError("give either text or a URL")
        return self


@register
class KnowledgeUpsert(Node):
    """Adds a document to a knowledge base, or replaces the one with the same key, and indexes it.

    Output: {document_id, action ("created", "replaced" or "unchanged"), chunk_count, title}.
    The text goes through the ingestion pipeline (chunk, embed, index; unchanged text is not
    indexed again); a URL is fetched through the SSRF guard with the workspace's allowlist.
    A side effect: done once per run, node and key (the effect ledger), so a redelivered or
    retried node returns what the first one did. Fails (not retryable) when the knowledge base
    is not in the run's workspace or the input is bad; a failed ingestion is retryable.
    """

    kind = "knowledge_upsert"
    label = "Knowledge upsert"
    category = "AI"
    description = "Adds or replaces a document in a knowledge base."
    Params = UpsertParams
    side_effect = True
    literal_params = frozenset({"knowledge_base"})

    def run(self, ctx: NodeContext) -> NodeResult:
        from knowledge.upserts import Source, key_of, upsert

        p: UpsertParams = ctx.params
        base = _knowledge_base(ctx.workspace_id, p.knowledge_base)
        source = Source(key_of(p.key, p.url, p.title), p.title, p.text, p.url, p.metadata)
        # The ledger's key is short; the document key may be a long URL.
        if ctx.records_effects:
            would_send = {"knowledge_base": base.pk, "key": source.key, "title": p.title}
            return NodeResult(output={"action": "not_done", "would_send": would_send})
        effect = "document:" + hashlib.sha256(f"{base.pk}:{source.key}".encode()).hexdigest()[:40]
        output = ctx.once(effect, lambda: upsert(base, source, ctx.http_allowlist, ctx.run_id).as_output())
        return NodeResult(output=output)
