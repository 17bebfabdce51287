"""What people do to a knowledge base: create, change or delete it; add, re-ingest or delete its documents.

Pages and the API both come through here, so the same checks answer both with the field at fault.
"""

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from accounts.audit import record
from accounts.models import Workspace
from engine import outbound
from engine.errors import NodeError
from engine.providers import embedding_choices
from engine.upload_limit import RefusedUpload
from knowledge import index, pipeline, sync
from knowledge.extract import format_of
from knowledge.models import LEXICAL, Document, KnowledgeBase, SourceKind

MAX_FILE_BYTES = 20_000_000
MAX_TEXT_CHARS = 2_000_000
Actor = User | AnonymousUser
# Settings whose change makes every document's chunks out of date.
REINGESTING = frozenset({"chunk_size", "chunk_overlap", "embedding"})


class DocumentInvalid(ValueError):
    """Bad input; `field` names the form or API field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


@dataclass(frozen=True)
class BaseSpec:
    name: str
    description: str = ""
    embedding: str = LEXICAL
    chunk_size: int = 300
    chunk_overlap: int = 40


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    content_type: str = ""
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def spec_of(base: KnowledgeBase) -> BaseSpec:
    return BaseSpec(**{name: getattr(base, name) for name in asdict(BaseSpec(""))})


def embedding_options(workspace_id: int) -> list[tuple[str, str]]:
    return [(LEXICAL, "None: keyword search (BM25) only"), *embedding_choices(workspace_id)]


def _checked(workspace_id: int, spec: BaseSpec, kept_embedding: str | None = None) -> BaseSpec:
    name = spec.name.strip()
    if not name:
        raise DocumentInvalid("name", "a name is required")
    # A model whose provider was removed since stays acceptable unchanged, so renaming still works.
    if spec.embedding != kept_embedding and spec.embedding not in dict(embedding_options(workspace_id)):
        raise DocumentInvalid("embedding", f"{spec.embedding!r} is not an embedding model of this workspace")
    if not 50 <= spec.chunk_size <= 2000:
        raise DocumentInvalid("chunk_size", "the chunk size must be from 50 to 2000 tokens")
    if not 0 <= spec.chunk_overlap <= spec.chunk_size // 2:
        raise DocumentInvalid("chunk_overlap", "the overlap must be from 0 to half the chunk size")
    return replace(spec, name=name[:200])


def _saved_base(base: KnowledgeBase) -> None:
    try:
        with transaction.atomic():
            base.save()
    except IntegrityError:
        raise DocumentInvalid("name", f"a knowledge base named {base.name!r} already exists") from None


def create_base(workspace: Workspace, spec: BaseSpec, by: Actor) -> KnowledgeBase:
    base = KnowledgeBase(workspace=workspace, **asdict(_checked(workspace.pk, spec)))
    _saved_base(base)
    record(by, "knowledge_base.created", workspace=workspace, target=base, name=base.name)
    return base


def update_base(base: KnowledgeBase, spec: BaseSpec, by: Actor) -> list[str]:
    """Apply new settings; return the names of the fields that changed.

    A change of chunking or embedding model re-ingests every document (the content hash covers
    that recipe, so the pipeline rebuilds their chunks rather than skipping them as unchanged).
    """
    wanted = asdict(_checked(base.workspace_id, spec, kept_embedding=base.embedding))
    changed = [name for name, value in wanted.items() if getattr(base, name) != value]
    if not changed:
        return []
    before = {name: getattr(base, name) for name in changed}
    with transaction.atomic():
        for name in changed:
            setattr(base, name, wanted[name])
        try:
            _saved_base(base)
        except DocumentInvalid:
            for name, value in before.items():
                setattr(base, name, value)  # the page re-renders this base with the form's errors
            raise
        record(by, "knowledge_base.updated", workspace=base.workspace, target=base, changed=changed)
        if set(changed) & REINGESTING:
            for document in base.documents.only("pk", "workspace_id", "knowledge_base_id"):
                pipeline.enqueue(document)
    return changed


def delete_base(base: KnowledgeBase, by: Actor) -> None:
    """Remove a knowledge base with its documents and chunks (the cascade); ingestions in flight find them gone."""
    documents = base.documents.count()
    with transaction.atomic():
        record(by, "knowledge_base.deleted", workspace=base.workspace, name=base.name, documents=documents)
        base_id = base.pk
        base.delete()
        transaction.on_commit(lambda: index.cache.forget(base_id))


def _check_metadata(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict) or len(metadata) > 50:
        raise DocumentInvalid("metadata", "metadata must be an object of at most 50 keys")
    return metadata


def _too_large(filename: str) -> DocumentInvalid:
    return DocumentInvalid("files", f"{filename}: files can be at most {MAX_FILE_BYTES // 1_000_000} MB")


def read_upload(file: UploadedFile, metadata: dict[str, Any]) -> Upload:
    """An uploaded file's content, read only when its size is within the limit (engine/upload_limit.py
    already kept no more than MAX_UPLOAD_FILE_BYTES of it)."""
    name = file.name or "upload"
    if isinstance(file, RefusedUpload) or file.size is None or file.size > MAX_FILE_BYTES:
        raise _too_large(name)
    return Upload(name, file.read(MAX_FILE_BYTES + 1), file.content_type or "", "", metadata)


def check_upload(upload: Upload) -> None:
    if format_of(upload.filename, upload.content_type) is None:
        raise DocumentInvalid("files", f"{upload.filename}: only .txt, .md, .html and .pdf files can be added")
    if len(upload.data) > MAX_FILE_BYTES:
        raise _too_large(upload.filename)
    if not upload.data:
        raise DocumentInvalid("files", f"{upload.filename}: the file is empty")
    _check_metadata(upload.metadata)


def add_upload(base: KnowledgeBase, upload: Upload, by: Actor) -> Document:
    check_upload(upload)
    return _add(
        base,
        by,
        kind=SourceKind.UPLOAD,
        title=(upload.title or upload.filename)[:300],
        filename=upload.filename[:255],
        raw=upload.data,
        metadata=upload.metadata,
    )


def add_text(base: KnowledgeBase, title: str, text: str, metadata: dict[str, Any], by: Actor) -> Document:
    if not title.strip():
        raise DocumentInvalid("title", "a title is required")
    if not text.strip():
        raise DocumentInvalid("text", "the text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise DocumentInvalid("text", f"the text can be at most {MAX_TEXT_CHARS} characters")
    return _add(
        base, by, kind=SourceKind.TEXT, title=title.strip()[:300], raw=text.encode(), metadata=_check_metadata(metadata)
    )


def add_url(
    base: KnowledgeBase, url: str, title: str, sync_hours: str | int | None, metadata: dict[str, Any], by: Actor
) -> Document:
    """A web page, refused at once when the SSRF guard refuses its address (it is checked again on every fetch)."""
    try:
        outbound.check_destination(url, list(base.workspace.http_allowlist))
    except (NodeError, ValueError) as error:
        raise DocumentInvalid("url", str(error)) from None
    if str(sync_hours or "") not in dict(sync.SCHEDULES):
        raise DocumentInvalid("sync_hours", f"choose one of {', '.join(k or 'none' for k, _ in sync.SCHEDULES)}")
    document = Document(
        workspace_id=base.workspace_id,
        knowledge_base=base,
        kind=SourceKind.URL,
        url=url,
        title=(title.strip() or url)[:300],
        metadata=_check_metadata(metadata),
    )
    sync.arm(document, sync_hours)
    return _saved(document, by)


def _add(base: KnowledgeBase, by: Actor, **fields: Any) -> Document:
    return _saved(Document(workspace_id=base.workspace_id, knowledge_base=base, **fields), by)


def _saved(document: Document, by: Actor) -> Document:
    with transaction.atomic():
        document.save()
        record(by, "document.added", workspace=document.knowledge_base.workspace, target=document, kind=document.kind)
        pipeline.enqueue(document)
    return document


def reingest(document: Document, by: Actor) -> None:
    with transaction.atomic():
        record(by, "document.reingested", workspace=document.knowledge_base.workspace, target=document)
        pipeline.enqueue(document)


def remove(document: Document, by: Actor) -> None:
    record(by, "document.deleted", workspace=document.knowledge_base.workspace, title=document.title)
    pipeline.delete(document)
