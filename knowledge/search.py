"""Hybrid retrieval: BM25 and, when the knowledge base embeds, dense cosine, fused by reciprocal rank fusion.

Order comes from the fusion (RRF, k=60) of the two rankings. Each passage also carries a
`score` in [0, 1] that means the same across queries, for thresholds and confidence checks:
the larger of its lexical relevance (its BM25 score over the score of an average-length
chunk holding each query term once, capped at 1) and its cosine similarity to the query.
"""

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine import spans
from engine.errors import NodeError
from engine.providers import embed
from knowledge.index import Index, cache, terms
from knowledge.models import KnowledgeBase

log = logging.getLogger(__name__)
RRF_K = 60
MIN_CANDIDATES = 50
Filters = Mapping[str, Any]


class Passage(BaseModel):
    """One ranked chunk; also the API's answer schema (knowledge/api.py)."""

    model_config = ConfigDict(frozen=True)
    text: str
    score: float = Field(description="relevance from 0 to 1")
    title: str
    source: str
    heading: str
    document_id: int
    chunk_id: int
    position: int
    metadata: dict[str, Any]


def _mask(index: Index, filters: Filters) -> np.ndarray:
    """Every filter key must match: a list of values means any of them; list-valued metadata (tags) overlaps."""
    allowed = np.ones(len(index.entries), dtype=bool)
    for key, wanted in filters.items():
        allowed &= index.matching(key, {str(value) for value in (wanted if isinstance(wanted, list) else [wanted])})
    return allowed


def _ranked(scores: np.ndarray, allowed: np.ndarray, count: int) -> list[int]:
    eligible = np.where(allowed & (scores > 0))[0]
    if len(eligible) > count:
        eligible = eligible[np.argpartition(-scores[eligible], count - 1)[:count]]
    return [int(i) for i in eligible[np.argsort(-scores[eligible], kind="stable")]]


def _lexical(index: Index, query: str) -> tuple[np.ndarray, float]:
    """BM25 scores of every chunk, and the score that counts as full relevance for this query."""
    query_terms = list(dict.fromkeys(terms([query])[0])) if query.strip() else []
    ids = index.bm25.get_tokens_ids(query_terms) if index.bm25 is not None else []
    if not ids or index.bm25 is None:
        return np.zeros(len(index.entries), dtype=np.float32), 1.0
    ideal = sum(index.idf(term) for term in query_terms if term in index.bm25.vocab_dict)
    return index.bm25.get_scores(ids), max(ideal, 1e-6)


def _dense(base: KnowledgeBase, index: Index, query: str) -> np.ndarray | None:
    if base.is_lexical or index.vectors is None or not query.strip():
        return None
    try:
        embedded = embed(base.workspace_id, base.embedding_provider, base.embedding_model, [query])
    except NodeError as error:
        # The provider is down or was removed: keyword results beat no results; the log says why.
        log.warning("searching %s lexically: embedding the query failed: %s", base.pk, error)
        return None
    vector = np.asarray(embedded.vectors[0], dtype=np.float32)
    if vector.shape[0] != index.vectors.shape[1]:
        return None  # the model changed since these chunks were embedded; lexical until re-ingested
    norm = float(np.linalg.norm(vector))
    return index.vectors @ (vector / norm) if norm else None


def search(
    base: KnowledgeBase, query: str, top_k: int = 5, filters: Filters | None = None, min_score: float = 0.0
) -> list[Passage]:
    """The `top_k` best passages for `query` whose score is at least `min_score`, best first."""
    attributes: dict[str, spans.AttributeValue] = {
        "switchyard.knowledge_base.id": base.pk,
        "switchyard.search.top_k": top_k,
    }
    with spans.operation("knowledge search", attributes) as span:
        passages = _search(base, query, top_k, filters, min_score)
        span.set_attribute("switchyard.search.passages", len(passages))
    return passages


def _search(base: KnowledgeBase, query: str, top_k: int, filters: Filters | None, min_score: float) -> list[Passage]:
    index = cache.get(base)
    if not index.entries:
        return []
    allowed = _mask(index, filters or {})
    candidates = max(MIN_CANDIDATES, top_k * 5)
    lexical, ideal = _lexical(index, query)
    dense = _dense(base, index, query)
    rankings = [_ranked(lexical, allowed, candidates)]
    if dense is not None:
        rankings.append(_ranked(dense, allowed, candidates))
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, position in enumerate(ranking):
            fused[position] = fused.get(position, 0.0) + 1.0 / (RRF_K + rank + 1)
    passages = []
    for position in sorted(fused, key=lambda i: -fused[i]):
        relevance = min(1.0, float(lexical[position]) / ideal)
        if dense is not None:
            relevance = max(relevance, float(dense[position]))
        if relevance < min_score:
            continue
        entry = index.entries[position]
        passages.append(
            Passage(
                text=entry.text,
                score=round(relevance, 4),
                title=entry.title,
                source=entry.source,
                heading=entry.heading,
                document_id=entry.document_id,
                chunk_id=entry.chunk_id,
                position=entry.position,
                metadata=entry.metadata,
            )
        )
        if len(passages) == top_k:
            break
    return passages
