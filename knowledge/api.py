"""Knowledge bases over the API: create, list, change and delete them, add documents (multipart upload, text, web
page), list documents with their ingestion status, delete one, and query. Tokens need knowledge:read to read and
query, knowledge:write to change; a query needs a role that may spend, as it may call a paid embedding provider."""

from dataclasses import asdict, replace
from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.models import Scope
from accounts.permissions import Action, get_for, require
from accounts.views import current_membership
from engine import json_input
from knowledge import documents, sync
from knowledge.models import LEXICAL, Document, KnowledgeBase
from knowledge.search import Passage, search

router = Router(tags=["knowledge"])


class KnowledgeBaseIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    embedding: str = Field(LEXICAL, description='"provider|model" from the workspace\'s choices; "" = BM25 only')
    chunk_size: int = Field(300, ge=50, le=2000, description="tokens")
    chunk_overlap: int = Field(40, ge=0, le=1000, description="tokens, at most half the chunk size")


class KnowledgeBasePatch(Schema):
    """Only the fields sent change. A new chunk size, overlap or embedding re-ingests every document."""

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    embedding: str | None = None
    chunk_size: int | None = Field(None, ge=50, le=2000)
    chunk_overlap: int | None = Field(None, ge=0, le=1000)


class KnowledgeBaseOut(Schema):
    id: int
    name: str
    description: str
    embedding: str
    chunk_size: int
    chunk_overlap: int
    documents: int
    last_ingest_at: datetime | None
    stale_documents: list[int] = Field(description="web pages not synced for longer than their schedule")
    created_at: datetime


class DocumentOut(Schema):
    id: int
    knowledge_base_id: int
    title: str
    kind: str
    source: str
    status: Literal["queued", "extracting", "chunking", "embedding", "ready", "failed"]
    progress: int = Field(description="0 to 100")
    error: str
    metadata: dict[str, Any]
    chunk_count: int
    token_count: int
    sync_every_hours: float | None
    last_synced_at: datetime | None
    ingested_at: datetime | None
    created_at: datetime


class TextIn(Schema):
    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)


class UrlIn(Schema):
    url: str = Field(min_length=1, max_length=2000)
    title: str = Field("", max_length=300)
    sync_hours: Literal[0, 1, 24, 168] = Field(0, description="re-sync every this many hours; 0 = never")
    metadata: dict[str, Any] = Field(default_factory=dict)


class QueryIn(Schema):
    query: str = Field(min_length=1, max_length=20000)
    top_k: int = Field(5, ge=1, le=50)
    filters: dict[str, Any] = Field(default_factory=dict, description="metadata key → value or list of values")
    min_score: float = Field(0.0, ge=0, le=1)


class QueryOut(Schema):
    passages: list[Passage]
    top_score: float


def base_out(base: KnowledgeBase) -> KnowledgeBaseOut:
    return KnowledgeBaseOut(
        id=base.pk,
        **asdict(documents.spec_of(base)),
        documents=base.documents.count(),
        last_ingest_at=base.last_ingest_at,
        stale_documents=[document.pk for document in sync.stale(base)],
        created_at=base.created_at,
    )


def document_out(document: Document) -> DocumentOut:
    fields = ("title", "kind", "source", "status", "progress", "error", "metadata", "chunk_count", "token_count")
    return DocumentOut(
        id=document.pk,
        knowledge_base_id=document.knowledge_base_id,
        **{name: getattr(document, name) for name in fields},
        sync_every_hours=document.sync_every.total_seconds() / 3600 if document.sync_every else None,
        last_synced_at=document.last_synced_at,
        ingested_at=document.ingested_at,
        created_at=document.created_at,
    )


def _writable(request: HttpRequest, base_id: int) -> KnowledgeBase:
    return get_for(request.user, KnowledgeBase, Action.EDIT, pk=base_id)


@router.get("/knowledge-bases", response=list[KnowledgeBaseOut], summary="Knowledge bases of the current workspace")
@token_scope(Scope.KNOWLEDGE_READ)
def list_bases(request: HttpRequest) -> list[KnowledgeBaseOut]:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    return [base_out(base) for base in KnowledgeBase.objects.filter(workspace_id=me.workspace_id)]


@router.post("/knowledge-bases", response={201: KnowledgeBaseOut}, summary="Create a knowledge base")
@token_scope(Scope.KNOWLEDGE_WRITE)
def create_base(request: HttpRequest, body: KnowledgeBaseIn) -> Status[KnowledgeBaseOut]:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.EDIT)
    base = documents.create_base(me.workspace, documents.BaseSpec(**body.dict()), request.user)
    return Status(201, base_out(base))


@router.get("/knowledge-bases/{base_id}", response=KnowledgeBaseOut, summary="One knowledge base and its freshness")
@token_scope(Scope.KNOWLEDGE_READ)
def get_base(request: HttpRequest, base_id: int) -> KnowledgeBaseOut:
    return base_out(get_for(request.user, KnowledgeBase, Action.VIEW, pk=base_id))


@router.patch(
    "/knowledge-bases/{base_id}",
    response=KnowledgeBaseOut,
    summary="Rename a knowledge base or change its chunking or embedding (which re-ingests its documents)",
)
@token_scope(Scope.KNOWLEDGE_WRITE)
def update_base(request: HttpRequest, base_id: int, body: KnowledgeBasePatch) -> KnowledgeBaseOut:
    base = _writable(request, base_id)
    documents.update_base(base, replace(documents.spec_of(base), **body.dict(exclude_none=True)), request.user)
    return base_out(base)


@router.delete(
    "/knowledge-bases/{base_id}", response={204: None}, summary="Delete a knowledge base with its documents and chunks"
)
@token_scope(Scope.KNOWLEDGE_WRITE)
def delete_base(request: HttpRequest, base_id: int) -> Status[None]:
    documents.delete_base(_writable(request, base_id), request.user)
    return Status(204, None)


@router.get(
    "/knowledge-bases/{base_id}/documents", response=list[DocumentOut], summary="Documents with their ingestion status"
)
@token_scope(Scope.KNOWLEDGE_READ)
def list_documents(request: HttpRequest, base_id: int) -> list[DocumentOut]:
    base = get_for(request.user, KnowledgeBase, Action.VIEW, pk=base_id)
    return [document_out(document) for document in base.documents.defer("raw")]


@router.post(
    "/knowledge-bases/{base_id}/documents",
    response={201: list[DocumentOut]},
    summary="Upload files (multipart field `files`, repeatable; .txt .md .html .pdf), ingested in the background",
)
@token_scope(Scope.KNOWLEDGE_WRITE)
def upload_documents(
    request: HttpRequest,
    base_id: int,
    files: File[list[UploadedFile]],
    metadata: Form[str] = "",
) -> Status[list[DocumentOut]]:
    base = _writable(request, base_id)
    try:
        parsed = json_input.parse_object(metadata) if metadata.strip() else {}
    except json_input.JsonRefused as refused:
        raise documents.DocumentInvalid("metadata", f"metadata {refused}") from None
    uploads = [documents.read_upload(file, parsed) for file in files]
    for upload in uploads:
        documents.check_upload(upload)  # refuse the whole request before adding any of it
    return Status(201, [document_out(documents.add_upload(base, upload, request.user)) for upload in uploads])


@router.post("/knowledge-bases/{base_id}/documents/text", response={201: DocumentOut}, summary="Add pasted text")
@token_scope(Scope.KNOWLEDGE_WRITE)
def add_text(request: HttpRequest, base_id: int, body: TextIn) -> Status[DocumentOut]:
    base = _writable(request, base_id)
    return Status(201, document_out(documents.add_text(base, body.title, body.text, body.metadata, request.user)))


@router.post("/knowledge-bases/{base_id}/documents/url", response={201: DocumentOut}, summary="Add a web page")
@token_scope(Scope.KNOWLEDGE_WRITE)
def add_url(request: HttpRequest, base_id: int, body: UrlIn) -> Status[DocumentOut]:
    base = _writable(request, base_id)
    hours = body.sync_hours or None
    document = documents.add_url(base, body.url, body.title, hours, body.metadata, request.user)
    return Status(201, document_out(document))


@router.get("/knowledge-bases/{base_id}/documents/{document_id}", response=DocumentOut, summary="One document")
@token_scope(Scope.KNOWLEDGE_READ)
def get_document(request: HttpRequest, base_id: int, document_id: int) -> DocumentOut:
    found = Document.objects.defer("raw")
    return document_out(get_for(request.user, found, Action.VIEW, pk=document_id, knowledge_base_id=base_id))


@router.delete(
    "/knowledge-bases/{base_id}/documents/{document_id}",
    response={204: None},
    summary="Delete a document and its chunks",
)
@token_scope(Scope.KNOWLEDGE_WRITE)
def delete_document(request: HttpRequest, base_id: int, document_id: int) -> Status[None]:
    document = get_for(request.user, Document, Action.EDIT, pk=document_id, knowledge_base_id=base_id)
    documents.remove(document, request.user)
    return Status(204, None)


@router.post("/knowledge-bases/{base_id}/query", response=QueryOut, summary="Search a knowledge base (hybrid)")
@token_scope(Scope.KNOWLEDGE_READ)
def query(request: HttpRequest, base_id: int, body: QueryIn) -> QueryOut:
    """Needs a role that may spend (editor or owner): a query may call a paid embedding provider."""
    base = get_for(request.user, KnowledgeBase, Action.EDIT, pk=base_id)
    passages = search(base, body.query, body.top_k, body.filters, body.min_score)
    return QueryOut(
        passages=passages,
        top_score=max((passage.score for passage in passages), default=0.0),
    )
