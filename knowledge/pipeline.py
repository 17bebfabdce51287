"""Ingesting one document: extract → normalise → chunk → embed in batches → index, with its status at each step.

Every status change is a conditional UPDATE of the document's row followed by a prompt to
the workspace's open pages; a document deleted meanwhile updates nothing and the pipeline
stops. Unchanged text (same content hash and chunking recipe) is a no-op; changed text
replaces the document's chunks in one transaction, so a search sees the old chunks or the
new ones, never a mix.
"""

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from engine import outbound
from engine.errors import NodeError
from engine.providers import embed
from knowledge import live
from knowledge.chunking import Piece, chunk
from knowledge.extract import Extracted, ExtractionFailed, extract, format_of
from knowledge.index import terms
from knowledge.models import Chunk, Document, KnowledgeBase, SourceKind, Status

EMBED_BATCH = 64
MAX_PAGE_BYTES = 10_000_000
log = logging.getLogger(__name__)


class Gone(Exception):
    """The document was deleted while it was being ingested."""


class Failed(Exception):
    """Ingestion cannot succeed; the message becomes the document's error."""


def ingest(document_id: int, now: datetime | None = None) -> str:
    """Run the pipeline for one document; return its final status ("gone" when it was deleted)."""
    document = Document.objects.select_related("knowledge_base", "workspace").filter(pk=document_id).first()
    if document is None:
        return "gone"
    now = now or timezone.now()
    try:
        return _ingest(document, now)
    except Gone:
        return "gone"
    except Failed as failure:
        return _fail(document, str(failure))
    except Exception as error:
        log.exception("ingesting document %s failed", document.pk)
        return _fail(document, f"unexpected error while ingesting ({type(error).__name__})")


def _ingest(document: Document, now: datetime) -> str:
    base = document.knowledge_base
    _move(document, Status.EXTRACTING, 5)
    extracted = _extracted(document)
    if not extracted.text:
        raise Failed("the document has no text")
    digest = content_hash(extracted.text, base)
    if digest == document.content_hash and document.chunk_count:
        return _unchanged(document, now)
    _move(document, Status.CHUNKING, 25)
    pieces = chunk(extracted.text, base.chunk_size, base.chunk_overlap)
    vectors = _embedded(document, pieces) if not base.is_lexical else []
    _replace(document, pieces, vectors, digest, extracted.title, now)
    return Status.READY


def content_hash(text: str, base: KnowledgeBase) -> str:
    """Covers the chunking recipe too, so changing chunk size or embedding model re-ingests."""
    recipe = f"{base.chunk_size}/{base.chunk_overlap}/{base.embedding}\n"
    return hashlib.sha256((recipe + text).encode()).hexdigest()


def _extracted(document: Document) -> Extracted:
    if document.kind == SourceKind.URL:
        data, fmt = _fetch(document)
    else:
        data = bytes(document.raw)
        fmt = "markdown" if document.kind == SourceKind.TEXT else format_of(document.filename) or "text"
    try:
        return extract(data, fmt)
    except ExtractionFailed as error:
        raise Failed(str(error)) from None


def _fetch(document: Document) -> tuple[bytes, str]:
    try:
        response = outbound.request(
            "GET",
            document.url,
            headers={"Accept": "text/html, text/plain, text/markdown, application/pdf"},
            allowlist=list(document.workspace.http_allowlist),
            max_bytes=MAX_PAGE_BYTES,
        )
    except NodeError as error:
        raise Failed(f"could not fetch {document.url}: {error}") from None
    if response.status >= 400:
        raise Failed(f"{document.url} answered HTTP {response.status}")
    fmt = format_of(content_type=response.headers.get("content-type", "")) or format_of(document.url) or "html"
    return response.body, fmt


def _embedded(document: Document, pieces: Sequence[Piece]) -> list[bytes]:
    base = document.knowledge_base
    texts = [searchable(document.title, piece) for piece in pieces]
    vectors: list[bytes] = []
    for start in range(0, len(texts), EMBED_BATCH):
        _move(document, Status.EMBEDDING, 30 + 65 * start // len(texts))
        try:
            batch = embed(
                document.workspace_id, base.embedding_provider, base.embedding_model, texts[start : start + EMBED_BATCH]
            )
        except NodeError as error:
            raise Failed(f"embedding failed: {error}") from None
        vectors.extend(np.asarray(vector, dtype=np.float32).tobytes() for vector in batch.vectors)
    return vectors


def searchable(title: str, piece: Piece) -> str:
    """What retrieval matches a chunk by: its document's title and heading path give short passages context."""
    return "\n".join(part for part in (title, piece.heading, piece.text) if part)


def _replace(
    document: Document, pieces: Sequence[Piece], vectors: list[bytes], digest: str, title: str, now: datetime
) -> None:
    tokenized = terms([searchable(document.title, piece) for piece in pieces])
    with transaction.atomic():
        if not Document.objects.select_for_update().filter(pk=document.pk).exists():
            raise Gone
        Chunk.objects.filter(document_id=document.pk).delete()
        Chunk.objects.bulk_create(
            Chunk(
                document_id=document.pk,
                knowledge_base_id=document.knowledge_base_id,
                position=position,
                text=piece.text,
                heading=piece.heading[:300],
                token_count=piece.token_count,
                terms=" ".join(tokenized[position]),
                embedding=vectors[position] if vectors else b"",
                metadata={"heading": piece.heading} if piece.heading else {},
            )
            for position, piece in enumerate(pieces)
        )
        changes = {
            "status": Status.READY,
            "progress": 100,
            "error": "",
            "content_hash": digest,
            "chunk_count": len(pieces),
            "token_count": sum(piece.token_count for piece in pieces),
            "ingested_at": now,
            "last_synced_at": now,
            "updated_at": now,
        }
        if title and document.kind == SourceKind.URL and document.title == document.url:
            changes["title"] = title[:300]
        Document.objects.filter(pk=document.pk).update(**changes)
        changed(document.knowledge_base_id, now)
        transaction.on_commit(lambda: live.document_moved(document, Status.READY, 100))


def changed(base_id: int, now: datetime | None = None) -> None:
    """The knowledge base's chunks changed: every process's cached index of it is now stale."""
    KnowledgeBase.objects.filter(pk=base_id).update(
        index_version=F("index_version") + 1, last_ingest_at=now or timezone.now()
    )


def _unchanged(document: Document, now: datetime) -> str:
    _move(document, Status.READY, 100, last_synced_at=now)
    return Status.READY


def _fail(document: Document, reason: str) -> str:
    try:
        _move(document, Status.FAILED, 0, error=reason)
    except Gone:
        return "gone"
    return Status.FAILED


def _move(document: Document, status: str, progress: int, **changes: object) -> None:
    if status != Status.FAILED:
        changes.setdefault("error", "")
    if not Document.objects.filter(pk=document.pk).update(status=status, progress=progress, **changes):
        raise Gone
    live.document_moved(document, status, progress)


def enqueue(document: Document) -> None:
    """Queue the pipeline for a document once the row that asks for it is committed."""
    from knowledge.tasks import ingest_document

    Document.objects.filter(pk=document.pk).update(status=Status.QUEUED, progress=0, error="")
    transaction.on_commit(lambda: ingest_document.delay(document.pk))


def delete(document: Document) -> None:
    """Remove a document and its chunks (the cascade) and mark the index stale, in one transaction."""
    with transaction.atomic():
        base_id = document.knowledge_base_id
        document.delete()
        changed(base_id)
