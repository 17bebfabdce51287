"""The in-memory search index of one knowledge base, built from its chunks and cached per process.

A process keeps the index it built together with the knowledge base's `index_version`; each
search reads that number (one indexed query) and rebuilds only when it moved. The index holds
a BM25 matrix (bm25s), the document frequency of each term (for the relevance score), the
chunk vectors as one L2-normalised float32 matrix when the knowledge base embeds, each chunk's
metadata, and for each metadata value the chunks carrying it (filters are then array operations).
"""

import math
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np
import Stemmer

from knowledge.models import Chunk, Document, KnowledgeBase

CACHED_BASES = 32
_stemmer = Stemmer.Stemmer("english")


@dataclass(frozen=True)
class Entry:
    chunk_id: int
    document_id: int
    position: int
    title: str
    source: str
    heading: str
    text: str
    metadata: dict[str, Any]


@dataclass
class Index:
    version: int
    entries: list[Entry]
    bm25: bm25s.BM25 | None
    document_frequency: Counter[str]
    vectors: np.ndarray | None
    # metadata key → value (as text) → positions of the chunks carrying it, for filters
    facets: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def idf(self, term: str) -> float:
        """Lucene's idf, as bm25s scores with; a term no chunk holds counts as if one did."""
        n, df = len(self.entries), max(1, self.document_frequency.get(term, 0))
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def matching(self, key: str, values: set[str]) -> np.ndarray:
        mask = np.zeros(len(self.entries), dtype=bool)
        by_value = self.facets.get(key, {})
        for value in values:
            mask[by_value.get(value, [])] = True
        return mask


def terms(texts: list[str]) -> list[list[str]]:
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer, return_ids=False, show_progress=False)
    return tokens if isinstance(tokens, list) else []


def _facet_values(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def build(base_id: int, version: int) -> Index:
    documents = {
        document.pk: document
        for document in Document.objects.filter(knowledge_base_id=base_id).only(
            "pk", "title", "url", "filename", "metadata", "kind"
        )
    }
    # Unordered and as tuples: sorting rows that carry their vectors, and making model instances, was
    # most of the build time at 20,000 chunks.
    rows = (
        Chunk.objects.filter(knowledge_base_id=base_id)
        .order_by()
        .values_list("pk", "document_id", "position", "heading", "text", "metadata", "terms", "embedding")
    )
    entries: list[Entry] = []
    tokenized: list[list[str]] = []
    raw_vectors: list[bytes] = []
    facets: dict[str, dict[str, list[int]]] = {}
    for pk, document_id, position, heading, text, chunk_metadata, chunk_terms, embedding in rows.iterator(2000):
        document = documents.get(document_id)
        if document is None:
            continue  # deleted after the documents were read
        metadata = {**document.metadata, **chunk_metadata, "kind": document.kind}
        for key, value in metadata.items():
            for item in _facet_values(value):
                facets.setdefault(key, {}).setdefault(item, []).append(len(entries))
        entries.append(Entry(pk, document_id, position, document.title, document.source, heading, text, metadata))
        tokenized.append(chunk_terms.split())
        raw_vectors.append(bytes(embedding))
    return Index(version, entries, *_lexical(tokenized), _dense(raw_vectors), facets)


def _lexical(tokenized: list[list[str]]) -> tuple[bm25s.BM25 | None, Counter[str]]:
    if not any(tokenized):
        return None, Counter()
    frequency: Counter[str] = Counter()
    for tokens in tokenized:
        frequency.update(set(tokens))
    bm25 = bm25s.BM25()
    bm25.index(tokenized, show_progress=False)
    return bm25, frequency


def _dense(raw: list[bytes]) -> np.ndarray | None:
    if not raw or not all(raw) or len({len(vector) for vector in raw}) != 1:
        return None  # lexical, or chunks from before an embedding change: search lexically until re-ingested
    matrix = np.frombuffer(b"".join(raw), dtype=np.float32).reshape(len(raw), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.indexes: OrderedDict[int, Index] = OrderedDict()

    def get(self, base: KnowledgeBase) -> Index:
        version = KnowledgeBase.objects.filter(pk=base.pk).values_list("index_version", flat=True).first()
        with self.lock:
            found = self.indexes.get(base.pk)
            if found is not None and found.version == version:
                self.indexes.move_to_end(base.pk)
                return found
        built = build(base.pk, version or 0)
        with self.lock:
            self.indexes[base.pk] = built
            self.indexes.move_to_end(base.pk)
            while len(self.indexes) > CACHED_BASES:
                self.indexes.popitem(last=False)
        return built

    def forget(self, base_id: int) -> None:
        """Drop a deleted knowledge base's index now. Other processes never reach theirs again (primary keys
        are not reused) and the least-recently-used rule evicts it."""
        with self.lock:
            self.indexes.pop(base_id, None)


cache = _Cache()
