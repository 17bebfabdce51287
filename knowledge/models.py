"""Knowledge bases, their documents (uploads, pasted text, web pages) and the chunks retrieval searches."""

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

from accounts.models import WorkspaceOwned

LEXICAL = ""


class KnowledgeBase(WorkspaceOwned):
    """A searchable set of documents. `embedding` is "provider|model", or empty for lexical (BM25) only.

    `index_version` moves whenever its chunks change; each process keeps the index it built
    and rebuilds when the number it sees in the database differs (knowledge/index.py).
    """

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    embedding = models.CharField(max_length=200, blank=True, default=LEXICAL)
    chunk_size = models.PositiveIntegerField(default=300)
    chunk_overlap = models.PositiveIntegerField(default=40)
    index_version = models.PositiveBigIntegerField(default=0)
    last_ingest_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="knowledge_base_name_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_lexical(self) -> bool:
        return self.embedding == LEXICAL

    @property
    def embedding_provider(self) -> str:
        return self.embedding.split("|", 1)[0]

    @property
    def embedding_model(self) -> str:
        return self.embedding.split("|", 1)[1] if "|" in self.embedding else ""


class SourceKind(models.TextChoices):
    UPLOAD = "upload", "File"
    TEXT = "text", "Pasted text"
    URL = "url", "Web page"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    EXTRACTING = "extracting", "Extracting"
    CHUNKING = "chunking", "Chunking"
    EMBEDDING = "embedding", "Embedding"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


IN_PROGRESS = (Status.QUEUED, Status.EXTRACTING, Status.CHUNKING, Status.EMBEDDING)


class Document(WorkspaceOwned):
    """One source of text. Its status changes only through knowledge/pipeline.py."""

    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=300)
    # What a workflow's knowledge_upsert node finds the document by to replace it; blank for the others.
    key = models.CharField(max_length=300, blank=True, default="")
    kind = models.CharField(max_length=10, choices=SourceKind.choices)
    filename = models.CharField(max_length=255, blank=True)
    url = models.URLField(max_length=2000, blank=True)
    # Uploads and pasted text keep their bytes so a change of chunking settings can re-ingest them.
    raw = models.BinaryField(blank=True, default=b"")
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    token_count = models.PositiveIntegerField(default=0)
    sync_every = models.DurationField(null=True, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    ingested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["knowledge_base", "key"], condition=~models.Q(key=""), name="document_key_unique"
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def source(self) -> str:
        return self.url or str(self.metadata.get("url") or "") or self.filename or self.title

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS

    def is_stale(self, now: datetime | None = None) -> bool:
        """A scheduled web page not fetched for longer than its schedule (plus one beat tick's slack)."""
        if self.sync_every is None:
            return False
        now = now or timezone.now()
        last = self.last_synced_at or self.created_at
        return now - last > self.sync_every + timedelta(minutes=5)


class Chunk(models.Model):
    """A passage of a document as retrieval sees it. `embedding` holds float32 bytes, empty when lexical."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    text = models.TextField()
    heading = models.CharField(max_length=300, blank=True)
    token_count = models.PositiveIntegerField()
    # Stemmed search terms, worked out once at ingestion so rebuilding a process's index only counts them.
    terms = models.TextField(blank=True)
    embedding = models.BinaryField(blank=True, default=b"")
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["document_id", "position"]
        constraints = [models.UniqueConstraint(fields=["document", "position"], name="chunk_position_unique")]
        indexes = [models.Index(fields=["knowledge_base"], name="chunk_knowledge_base")]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.position}"
