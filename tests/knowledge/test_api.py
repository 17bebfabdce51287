import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts import tokens
from accounts.models import AuditEntry, Role, Scope
from knowledge.models import Chunk, Document, KnowledgeBase
from knowledge.tasks import sync_due_documents
from tests.eventually import eventually
from tests.factories import KnowledgeBaseFactory, MembershipFactory, UserFactory
from tests.fakes import Reply

pytestmark = [pytest.mark.usefixtures("celery_worker"), pytest.mark.django_db(transaction=True)]


def token_client(member, scopes) -> Client:
    issued = tokens.issue(member.workspace, member.user, "ci", scopes, None)
    return Client(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")


@pytest.fixture
def writer(owner):
    return token_client(owner, [Scope.KNOWLEDGE_READ, Scope.KNOWLEDGE_WRITE])


@pytest.fixture
def reader(owner):
    return token_client(owner, [Scope.KNOWLEDGE_READ])


def settled(client, base_id, timeout=30.0):
    """The base's documents by title, once each is ready or failed."""

    def documents():
        found = client.get(f"/api/v1/knowledge-bases/{base_id}/documents").json()
        return {d["title"]: d for d in found} if all(d["status"] in ("ready", "failed") for d in found) else None

    return eventually(documents, timeout, message="documents still being ingested")


def test_it_creates_uploads_ingests_and_answers_queries(writer, reader):
    created = writer.post("/api/v1/knowledge-bases", {"name": "Help"}, content_type="application/json")
    assert created.status_code == 201
    base_id = created.json()["id"]
    files = [
        SimpleUploadedFile("refunds.md", b"# Refunds\n\nMoney back within 14 days.", "text/markdown"),
        SimpleUploadedFile("broken.pdf", b"%PDF-1.7 this is not a PDF", "application/pdf"),
    ]
    uploaded = writer.post(
        f"/api/v1/knowledge-bases/{base_id}/documents", {"files": files, "metadata": json.dumps({"team": "billing"})}
    )
    assert uploaded.status_code == 201, uploaded.json()
    assert [d["status"] for d in uploaded.json()] == ["queued", "queued"]
    documents = settled(reader, base_id)
    assert documents["refunds.md"]["status"] == "ready"
    assert documents["refunds.md"]["metadata"] == {"team": "billing"}
    assert documents["broken.pdf"]["status"] == "failed"
    assert documents["broken.pdf"]["error"].startswith("the PDF could not be read")
    answer = reader.post(
        f"/api/v1/knowledge-bases/{base_id}/query",
        {"query": "money back", "filters": {"team": "billing"}},
        "application/json",
    ).json()
    assert answer["passages"][0]["text"] == "Money back within 14 days."
    assert answer["passages"][0]["title"] == "refunds.md"
    assert answer["top_score"] == answer["passages"][0]["score"] > 0


def test_it_needs_the_knowledge_write_scope_to_change_anything(owner, reader):
    refused = reader.post("/api/v1/knowledge-bases", {"name": "Help"}, content_type="application/json")
    assert refused.status_code == 403
    assert "knowledge:write" in refused.json()["error"]["message"]
    base = KnowledgeBaseFactory(workspace=owner.workspace)
    upload = reader.post(f"/api/v1/knowledge-bases/{base.pk}/documents", {"files": [SimpleUploadedFile("a.txt", b"x")]})
    assert upload.status_code == 403
    assert not Document.objects.exists()


def test_viewers_read_but_do_not_write(workspace, login_as):
    viewer = MembershipFactory(workspace=workspace, user=UserFactory(username="vera"), role=Role.VIEWER)
    base = KnowledgeBaseFactory(workspace=workspace)
    client = login_as(viewer)
    assert client.get(f"/api/v1/knowledge-bases/{base.pk}").status_code == 200
    created = client.post_json("/api/v1/knowledge-bases", {"name": "Mine"})
    assert created.status_code == 403


def test_it_hides_other_workspaces_knowledge_bases(owner, outsider):
    base = KnowledgeBaseFactory(workspace=owner.workspace)
    client = token_client(outsider, [Scope.KNOWLEDGE_READ, Scope.KNOWLEDGE_WRITE])
    assert client.get(f"/api/v1/knowledge-bases/{base.pk}").status_code == 404
    assert client.get(f"/api/v1/knowledge-bases/{base.pk}/documents").status_code == 404
    query = client.post(f"/api/v1/knowledge-bases/{base.pk}/query", {"query": "x"}, "application/json")
    assert query.status_code == 404
    assert client.get("/api/v1/knowledge-bases").json() == []


def test_it_names_the_field_at_fault(owner, writer):
    base = KnowledgeBaseFactory(workspace=owner.workspace, name="Help")
    duplicate = writer.post("/api/v1/knowledge-bases", {"name": "Help"}, content_type="application/json")
    assert duplicate.status_code == 422
    assert duplicate.json()["error"]["details"]["problems"][0]["path"] == "body.name"
    zip_file = SimpleUploadedFile("archive.zip", b"PK\x03\x04", "application/zip")
    refused = writer.post(f"/api/v1/knowledge-bases/{base.pk}/documents", {"files": [zip_file]})
    assert refused.status_code == 422
    assert "archive.zip" in refused.json()["error"]["message"]
    blocked = writer.post(
        f"/api/v1/knowledge-bases/{base.pk}/documents/url",
        {"url": "http://127.0.0.1:9/"},
        content_type="application/json",
    )
    assert blocked.status_code == 422
    assert blocked.json()["error"]["details"]["problems"][0]["path"] == "body.url"
    overlap = writer.post(
        "/api/v1/knowledge-bases",
        {"name": "B", "chunk_size": 100, "chunk_overlap": 80},
        content_type="application/json",
    )
    assert overlap.status_code == 422
    assert not Document.objects.exists()


def test_it_ingests_a_web_page_through_the_allowlist_and_skips_it_when_unchanged(owner, writer, server):
    owner.workspace.http_allowlist = ["127.0.0.1"]
    owner.workspace.save()
    page = b"<html><head><title>Shipping</title></head><body><h1>Shipping</h1><p>We ship in 2 days.</p></body></html>"
    server.default = Reply(body=page)
    base = KnowledgeBaseFactory(workspace=owner.workspace)
    added = writer.post(
        f"/api/v1/knowledge-bases/{base.pk}/documents/url",
        {"url": f"{server.url}/shipping", "sync_hours": 24},
        content_type="application/json",
    )
    assert added.status_code == 201
    document = settled(writer, base.pk)["Shipping"]
    assert document["status"] == "ready"
    assert document["sync_every_hours"] == 24
    chunk_ids = set(Chunk.objects.values_list("pk", flat=True))
    from knowledge import pipeline

    assert pipeline.ingest(document["id"]) == "ready"
    assert set(Chunk.objects.values_list("pk", flat=True)) == chunk_ids
    assert len(server.requests("/shipping")) == 2


def test_it_deletes_a_document_and_its_chunks(owner, writer):
    base = KnowledgeBaseFactory(workspace=owner.workspace)
    added = writer.post(
        f"/api/v1/knowledge-bases/{base.pk}/documents/text", {"title": "Note", "text": "Hello"}, "application/json"
    )
    settled(writer, base.pk)
    assert Chunk.objects.count() == 1
    assert writer.delete(f"/api/v1/knowledge-bases/{base.pk}/documents/{added.json()['id']}").status_code == 204
    assert not Chunk.objects.exists()
    assert KnowledgeBase.objects.get(pk=base.pk).index_version == 2


def test_the_beat_tick_skips_an_unchanged_page_and_re_ingests_a_changed_one(owner, writer, server):
    owner.workspace.http_allowlist = ["127.0.0.1"]
    owner.workspace.save()
    server.default = Reply(body=b"<html><body><h1>Plans</h1><p>Plus costs $8.</p></body></html>")
    base = KnowledgeBaseFactory(workspace=owner.workspace)
    added = writer.post(
        f"/api/v1/knowledge-bases/{base.pk}/documents/url",
        {"url": f"{server.url}/plans", "title": "Plans", "sync_hours": 1},
        content_type="application/json",
    ).json()
    settled(writer, base.pk)
    first_chunks = set(Chunk.objects.values_list("pk", flat=True))

    def tick_and_wait(fetches: int) -> dict:
        Document.objects.update(next_sync_at=timezone.now() - timedelta(minutes=1))
        assert sync_due_documents() == 1
        eventually(
            lambda: len(server.requests("/plans")) >= fetches and Document.objects.get().status == "ready",
            timeout=20,
            message="the re-sync did not finish",
        )
        return writer.get(f"/api/v1/knowledge-bases/{base.pk}/documents/{added['id']}").json()

    unchanged = tick_and_wait(2)
    assert set(Chunk.objects.values_list("pk", flat=True)) == first_chunks
    assert unchanged["last_synced_at"] > added["created_at"]

    server.default = Reply(body=b"<html><body><h1>Plans</h1><p>Plus now costs $9.</p></body></html>")
    changed = tick_and_wait(3)
    assert list(Chunk.objects.values_list("text", flat=True)) == ["Plus now costs $9."]
    assert changed["last_synced_at"] > unchanged["last_synced_at"]


LONG_TEXT = " ".join(f"Sentence {n} explains one more detail of shipping and returns." for n in range(60))


def test_it_re_ingests_through_the_worker_when_the_chunking_changes(owner, writer):
    base_id = writer.post("/api/v1/knowledge-bases", {"name": "Help"}, content_type="application/json").json()["id"]
    writer.post(
        f"/api/v1/knowledge-bases/{base_id}/documents/text", {"title": "Ship", "text": LONG_TEXT}, "application/json"
    )
    first = settled(writer, base_id)["Ship"]
    before = set(Chunk.objects.values_list("pk", flat=True))
    changed = writer.patch(
        f"/api/v1/knowledge-bases/{base_id}", {"chunk_size": 60, "chunk_overlap": 10}, content_type="application/json"
    )
    assert changed.status_code == 200, changed.json()
    assert changed.json()["name"] == "Help"
    assert (changed.json()["chunk_size"], changed.json()["chunk_overlap"]) == (60, 10)
    # The PATCH queued the document in its own transaction, so `settled` waits for the re-ingestion.
    again = settled(writer, base_id)["Ship"]
    assert again["status"] == "ready"
    assert again["ingested_at"] > first["ingested_at"]
    assert again["chunk_count"] > first["chunk_count"]
    assert before.isdisjoint(Chunk.objects.values_list("pk", flat=True))
    assert AuditEntry.objects.get(action="knowledge_base.updated").details == {
        "changed": ["chunk_size", "chunk_overlap"]
    }


def test_it_renames_a_knowledge_base_without_re_ingesting(owner, writer):
    base = KnowledgeBaseFactory(workspace=owner.workspace, name="Help")
    renamed = writer.patch(f"/api/v1/knowledge-bases/{base.pk}", {"name": "Help centre"}, "application/json")
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Help centre"
    assert KnowledgeBase.objects.get(pk=base.pk).name == "Help centre"


def test_it_deletes_a_knowledge_base_with_its_documents_and_chunks(owner, writer):
    base = KnowledgeBaseFactory(workspace=owner.workspace, name="Help")
    writer.post(
        f"/api/v1/knowledge-bases/{base.pk}/documents/text", {"title": "Note", "text": "Hi"}, "application/json"
    )
    settled(writer, base.pk)
    assert Chunk.objects.count() == 1
    assert writer.delete(f"/api/v1/knowledge-bases/{base.pk}").status_code == 204
    assert not KnowledgeBase.objects.exists()
    assert not Document.objects.exists()
    assert not Chunk.objects.exists()
    assert writer.get(f"/api/v1/knowledge-bases/{base.pk}").status_code == 404
    assert AuditEntry.objects.get(action="knowledge_base.deleted").details == {"name": "Help", "documents": 1}


def test_it_refuses_changes_without_the_scope_or_the_role_and_hides_them_from_outsiders(
    workspace, owner, outsider, reader, login_as
):
    base = KnowledgeBaseFactory(workspace=workspace, name="Help")
    url = f"/api/v1/knowledge-bases/{base.pk}"
    unscoped = reader.patch(url, {"name": "Mine"}, "application/json")
    assert unscoped.status_code == 403
    assert "knowledge:write" in unscoped.json()["error"]["message"]
    assert reader.delete(url).status_code == 403
    viewer = login_as(MembershipFactory(workspace=workspace, user=UserFactory(username="vera"), role=Role.VIEWER))
    csrf = {"X-CSRFToken": viewer.csrf_token()}
    assert viewer.patch(url, {"name": "Mine"}, "application/json", headers=csrf).status_code == 403
    assert viewer.delete(url, headers=csrf).status_code == 403
    stranger = token_client(outsider, [Scope.KNOWLEDGE_READ, Scope.KNOWLEDGE_WRITE])
    assert stranger.patch(url, {"name": "Mine"}, "application/json").status_code == 404
    assert stranger.delete(url).status_code == 404
    assert KnowledgeBase.objects.get(pk=base.pk).name == "Help"


def test_it_names_the_field_when_a_change_is_wrong(owner, writer):
    base = KnowledgeBaseFactory(workspace=owner.workspace, name="Help", chunk_size=100, chunk_overlap=10)
    KnowledgeBaseFactory(workspace=owner.workspace, name="Other")
    url = f"/api/v1/knowledge-bases/{base.pk}"
    for body, path in [
        ({"chunk_overlap": 80}, "body.chunk_overlap"),
        ({"name": "Other"}, "body.name"),
        ({"embedding": "vendor|nope"}, "body.embedding"),
        ({"chunk_size": 10}, "body.chunk_size"),
    ]:
        refused = writer.patch(url, body, "application/json")
        assert refused.status_code == 422, body
        assert refused.json()["error"]["details"]["problems"][0]["path"] == path, body
    assert KnowledgeBase.objects.get(pk=base.pk).chunk_overlap == 10
    assert not AuditEntry.objects.filter(action="knowledge_base.updated").exists()


def test_it_renames_a_knowledge_base_whose_embedding_model_is_no_longer_offered(owner, writer):
    base = KnowledgeBaseFactory(workspace=owner.workspace, name="Help", embedding="gone|old-model")
    renamed = writer.patch(f"/api/v1/knowledge-bases/{base.pk}", {"name": "Help centre"}, "application/json")
    assert renamed.status_code == 200, renamed.json()
    assert (renamed.json()["name"], renamed.json()["embedding"]) == ("Help centre", "gone|old-model")
