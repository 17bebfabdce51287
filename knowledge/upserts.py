"""Adding or replacing a document by its key from a workflow (the knowledge_upsert node), through the pipeline.

The document is found by its key in the knowledge base, created or changed in place, and
ingested at once in the caller's thread (knowledge/pipeline.py: unchanged text is a no-op,
changed text replaces its chunks in one transaction).
"""

from dataclasses import dataclass, field
from typing import Any, Literal

from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction

from accounts.audit import record
from engine import outbound
from engine.errors import NodeError, NonRetryableError
from knowledge import pipeline
from knowledge.documents import MAX_TEXT_CHARS
from knowledge.models import Document, KnowledgeBase, SourceKind, Status

MAX_METADATA_KEYS = 50
Action = Literal["created", "replaced", "unchanged"]


@dataclass(frozen=True)
class Source:
    """What the document should be: pasted `text` or a web page at `url` (exactly one), found again by `key`."""

    key: str
    title: str
    text: str = ""
    url: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Upserted:
    document_id: int
    action: Action
    chunk_count: int
    title: str

    def as_output(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "action": self.action,
            "chunk_count": self.chunk_count,
            "title": self.title,
        }


def key_of(key: str, url: str, title: str) -> str:
    """The document's key: as given, else its URL, else its title."""
    return (key.strip() or url.strip() or title.strip())[:300]


def upsert(base: KnowledgeBase, source: Source, allowlist: list[str], run_id: int | None = None) -> Upserted:
    """Create or replace the document of `base` with `source.key` and ingest it; NodeError when it cannot be.

    Bad input (no text or URL, both, a refused address, too long a text, bad metadata) is
    a NonRetryableError; a failed ingestion (a page that did not answer, an embedding model
    that could not) is a retryable NodeError naming the reason.
    """
    _check(source, allowlist)
    document, before = _saved(base, source, run_id)
    status = pipeline.ingest(document.pk)
    if status == "gone":
        raise NodeError("the document was deleted while it was being added", code="document_gone")
    document.refresh_from_db()
    if status == Status.FAILED:
        raise NodeError(f"the document could not be added: {document.error}", code="ingestion_failed")
    if before is None:
        action: Action = "created"
    elif before == _fingerprint(document):
        action = "unchanged"
    else:
        action = "replaced"
    return Upserted(document.pk, action, document.chunk_count, document.title)


def _check(source: Source, allowlist: list[str]) -> None:
    if not source.key:
        raise NonRetryableError("the document needs a key, a URL or a title", code="bad_input", field="key")
    if bool(source.text.strip()) == bool(source.url.strip()):
        raise NonRetryableError("give the document either text or a URL", code="bad_input", field="text")
    if len(source.text) > MAX_TEXT_CHARS:
        raise NonRetryableError(f"the text can be at most {MAX_TEXT_CHARS} characters", code="bad_input", field="text")
    if not isinstance(source.metadata, dict) or len(source.metadata) > MAX_METADATA_KEYS:
        message = f"metadata must be an object of at most {MAX_METADATA_KEYS} keys"
        raise NonRetryableError(message, code="bad_input", field="metadata")
    if source.url:
        # Refused before anything is saved; the pipeline's fetch goes through the same guard again.
        try:
            outbound.check_destination(source.url, allowlist)
        except ValueError as error:
            raise NonRetryableError(f"the URL is refused: {error}", code="bad_input", field="url") from None


def _fingerprint(document: Document) -> tuple[Any, ...]:
    """What a replacement may change: equal before and after means the document is unchanged."""
    return (document.title, document.kind, bytes(document.raw), document.url, document.metadata, document.content_hash)


def _saved(base: KnowledgeBase, source: Source, run_id: int | None) -> tuple[Document, tuple[Any, ...] | None]:
    """The document with its new fields saved, and its fingerprint before (None: it was created)."""
    fields: dict[str, Any] = {
        "title": (source.title.strip() or source.url or source.key)[:300],
        "kind": SourceKind.URL if source.url else SourceKind.TEXT,
        "url": source.url.strip(),
        "raw": source.text.encode() if not source.url else b"",
        "metadata": source.metadata,
    }
    with transaction.atomic():
        found = Document.objects.select_for_update().filter(knowledge_base=base, key=source.key)
        document = found.first()
        if document is None:
            try:
                with transaction.atomic():
                    document = Document.objects.create(
                        workspace_id=base.workspace_id, knowledge_base=base, key=source.key, **fields
                    )
            except IntegrityError:
                # Another run created it just now (the key is unique in its knowledge base): replace that one.
                document = found.first()
                if document is None:
                    raise NonRetryableError("the knowledge base was deleted", code="not_found") from None
            else:
                record(AnonymousUser(), "document.added", workspace=base.workspace, target=document, run=run_id)
                return document, None
        before = _fingerprint(document)
        index_stale = document.metadata != fields["metadata"] or document.title != fields["title"]
        for name, value in fields.items():
            setattr(document, name, value)
        if index_stale:
            # Chunks are searched with their document's title and metadata: rebuild them too.
            document.content_hash = ""
        document.save(update_fields=[*fields, "content_hash", "updated_at"])
        record(AnonymousUser(), "document.replaced", workspace=base.workspace, target=document, run=run_id)
    return document, before
