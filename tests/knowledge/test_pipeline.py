from datetime import timedelta

import pytest
from django.utils import timezone

from knowledge import pipeline, sync
from knowledge.models import Chunk, Document, KnowledgeBase, SourceKind, Status
from tests.factories import DocumentFactory, KnowledgeBaseFactory
from tests.knowledge.pdfs import pdf_with_text

ARTICLE = "# Refunds\n\nMoney back within 14 days of a purchase.\n\n# Invoices\n\nEvery payment has a PDF invoice."


@pytest.fixture
def base(workspace) -> KnowledgeBase:
    return KnowledgeBaseFactory(workspace=workspace, name="Help")


def upload(base: KnowledgeBase, filename: str, data: bytes) -> Document:
    return DocumentFactory(knowledge_base=base, kind=SourceKind.UPLOAD, filename=filename, title=filename, raw=data)


def test_it_ingests_a_document_into_chunks_and_marks_it_ready(base):
    document = upload(base, "help.md", ARTICLE.encode())
    assert pipeline.ingest(document.pk) == Status.READY
    document.refresh_from_db()
    assert (document.status, document.progress, document.error, document.chunk_count) == (Status.READY, 100, "", 2)
    chunks = list(document.chunks.values_list("position", "heading", "text"))
    assert chunks == [
        (0, "Refunds", "Money back within 14 days of a purchase."),
        (1, "Invoices", "Every payment has a PDF invoice."),
    ]
    base.refresh_from_db()
    assert base.index_version == 1
    assert base.last_ingest_at is not None


def test_it_ingests_a_pdf(base):
    document = upload(base, "policy.pdf", pdf_with_text("# Refunds\nMoney back within 14 days."))
    assert pipeline.ingest(document.pk) == Status.READY
    assert document.chunks.get().text == "Money back within 14 days."


def test_it_does_nothing_when_the_content_is_unchanged(base):
    document = upload(base, "help.md", ARTICLE.encode())
    pipeline.ingest(document.pk)
    first_ids = set(document.chunks.values_list("pk", flat=True))
    assert pipeline.ingest(document.pk) == Status.READY
    assert set(document.chunks.values_list("pk", flat=True)) == first_ids
    base.refresh_from_db()
    assert base.index_version == 1


def test_it_replaces_the_chunks_when_the_content_changes(base):
    document = upload(base, "help.md", ARTICLE.encode())
    pipeline.ingest(document.pk)
    old_ids = set(document.chunks.values_list("pk", flat=True))
    Document.objects.filter(pk=document.pk).update(raw=b"# Refunds\n\nMoney back within 30 days now.")
    assert pipeline.ingest(document.pk) == Status.READY
    assert list(document.chunks.values_list("text", flat=True)) == ["Money back within 30 days now."]
    assert not Chunk.objects.filter(pk__in=old_ids).exists()
    base.refresh_from_db()
    assert base.index_version == 2


def test_a_corrupt_pdf_fails_alone_with_a_clear_reason(base):
    good = upload(base, "help.md", ARTICLE.encode())
    broken = upload(base, "broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")
    assert pipeline.ingest(broken.pk) == Status.FAILED
    assert pipeline.ingest(good.pk) == Status.READY
    broken.refresh_from_db()
    assert broken.status == Status.FAILED
    assert broken.error.startswith("the PDF could not be read")
    assert broken.chunk_count == 0
    assert not broken.chunks.exists()
    assert good.chunks.count() == 2


def test_deleting_a_document_removes_its_chunks_and_stales_the_index(base):
    document = upload(base, "help.md", ARTICLE.encode())
    pipeline.ingest(document.pk)
    pipeline.delete(document)
    assert not Chunk.objects.filter(knowledge_base=base).exists()
    base.refresh_from_db()
    assert base.index_version == 2


def test_it_stops_quietly_when_the_document_is_gone(base):
    assert pipeline.ingest(999_999) == "gone"


def test_changing_the_chunk_size_re_ingests_unchanged_text(base):
    document = upload(base, "help.md", ARTICLE.encode())
    pipeline.ingest(document.pk)
    KnowledgeBase.objects.filter(pk=base.pk).update(chunk_size=100)
    before = set(document.chunks.values_list("pk", flat=True))
    pipeline.ingest(document.pk)
    assert before.isdisjoint(document.chunks.values_list("pk", flat=True))


def test_it_embeds_chunks_when_the_knowledge_base_has_an_embedding_model(workspace):
    base = KnowledgeBaseFactory(workspace=workspace, embedding="builtin|hashing-512")
    document = upload(base, "help.md", ARTICLE.encode())
    assert pipeline.ingest(document.pk) == Status.READY
    assert all(len(bytes(vector)) == 512 * 4 for vector in document.chunks.values_list("embedding", flat=True))


def test_an_unknown_embedding_model_fails_the_document_with_the_reason(workspace):
    base = KnowledgeBaseFactory(workspace=workspace, embedding="builtin|no-such-model")
    document = upload(base, "help.md", ARTICLE.encode())
    assert pipeline.ingest(document.pk) == Status.FAILED
    document.refresh_from_db()
    assert "no embedding model 'no-such-model'" in document.error


def test_it_claims_each_due_web_page_once(base):
    now = timezone.now()
    due = DocumentFactory(
        knowledge_base=base,
        kind=SourceKind.URL,
        url="https://example.com/a",
        status=Status.READY,
        sync_every=timedelta(hours=1),
        next_sync_at=now - timedelta(minutes=1),
    )
    DocumentFactory(
        knowledge_base=base,
        kind=SourceKind.URL,
        url="https://example.com/b",
        status=Status.READY,
        sync_every=timedelta(hours=1),
        next_sync_at=now + timedelta(minutes=10),
    )
    assert sync.claim_due(now) == [due.pk]
    assert sync.claim_due(now) == []
    due.refresh_from_db()
    assert due.next_sync_at == now + timedelta(hours=1)


def test_it_reports_web_pages_not_synced_for_longer_than_their_schedule(base):
    now = timezone.now()
    fresh = DocumentFactory(knowledge_base=base, kind=SourceKind.URL, sync_every=timedelta(hours=1), last_synced_at=now)
    late = DocumentFactory(
        knowledge_base=base, kind=SourceKind.URL, sync_every=timedelta(hours=1), last_synced_at=now - timedelta(hours=2)
    )
    assert sync.stale(base, now) == [late]
    assert not fresh.is_stale(now)
