import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditEntry, Role
from knowledge import index, pipeline
from knowledge.models import Chunk, Document, KnowledgeBase, Status
from knowledge.search import search
from tests.factories import DocumentFactory, KnowledgeBaseFactory, MembershipFactory, UserFactory


@pytest.fixture
def base(workspace):
    base = KnowledgeBaseFactory(workspace=workspace, name="Help")
    document = DocumentFactory(
        knowledge_base=base, title="Refunds", raw=b"# Refund policy\n\nRefunds within <b>14</b> days."
    )
    pipeline.ingest(document.pk)
    return base


@pytest.fixture
def viewer(workspace):
    return MembershipFactory(workspace=workspace, user=UserFactory(username="vera"), role=Role.VIEWER)


def test_it_lists_knowledge_bases_and_creates_one(owner, base, login_as):
    client = login_as(owner)
    page = client.get("/knowledge/")
    assert page.status_code == 200
    assert "Help" in page.content.decode()
    created = client.post(
        "/knowledge/",
        {"name": "Product docs", "embedding": "builtin|hashing-512", "chunk_size": 200, "chunk_overlap": 20},
        headers={"X-CSRFToken": client.csrf_token()},
    )
    made = KnowledgeBase.objects.get(name="Product docs")
    assert created.status_code == 302
    assert created["Location"] == f"/knowledge/{made.pk}/"
    assert made.embedding == "builtin|hashing-512"
    assert AuditEntry.objects.filter(action="knowledge_base.created").exists()


def test_it_names_the_field_when_creating_fails(owner, base, login_as):
    client = login_as(owner)
    page = client.post(
        "/knowledge/",
        {"name": "Help", "chunk_size": 10, "chunk_overlap": 0},
        headers={"X-CSRFToken": client.csrf_token()},
    )
    assert page.status_code == 422
    assert "Chunk size (tokens):" in page.content.decode()


def test_viewers_read_but_cannot_change(viewer, base, login_as):
    client = login_as(viewer)
    page = client.get(f"/knowledge/{base.pk}/").content.decode()
    assert "Refunds" in page
    assert "Add documents" not in page
    csrf = {"X-CSRFToken": client.csrf_token()}
    assert (
        client.post("/knowledge/", {"name": "X", "chunk_size": 300, "chunk_overlap": 0}, headers=csrf).status_code
        == 403
    )
    assert client.post(f"/knowledge/{base.pk}/text/", {"title": "T", "text": "x"}, headers=csrf).status_code == 403
    document = base.documents.get()
    assert client.post(f"/knowledge/{base.pk}/documents/{document.pk}/delete/", headers=csrf).status_code == 403
    assert Document.objects.filter(pk=document.pk).exists()


def test_it_hides_everything_from_outsiders(outsider, base, login_as):
    client = login_as(outsider)
    document = base.documents.get()
    for url in (
        f"/knowledge/{base.pk}/",
        f"/knowledge/{base.pk}/query/?q=refund",
        f"/knowledge/{base.pk}/documents/{document.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    csrf = {"X-CSRFToken": client.csrf_token()}
    assert client.post(f"/knowledge/{base.pk}/text/", {"title": "T", "text": "x"}, headers=csrf).status_code == 404
    assert "Help" not in client.get("/knowledge/").content.decode()


def test_it_shows_ranked_chunks_with_scores_for_a_query(teammate, base, login_as):
    page = login_as(teammate).get(f"/knowledge/{base.pk}/query/?q=refund+days&top_k=3", headers={"HX-Request": "true"})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="query-results"' in html
    assert "Refunds within &lt;b&gt;14&lt;/b&gt; days." in html  # document text is escaped
    assert 'class="badge"' in html


def test_it_refuses_a_bad_query_with_the_field(teammate, base, login_as):
    page = login_as(teammate).get(f"/knowledge/{base.pk}/query/?q=x&top_k=500")
    assert page.status_code == 422
    assert "Top k:" in page.content.decode()


def test_it_shows_a_documents_chunks(viewer, base, login_as):
    document = base.documents.get()
    html = login_as(viewer).get(f"/knowledge/{base.pk}/documents/{document.pk}/").content.decode()
    assert 'id="chunk-0"' in html
    assert "Refund policy" in html


def test_it_queues_several_uploaded_files_and_reports_refused_ones(teammate, base, login_as):
    client = login_as(teammate)
    files = [
        SimpleUploadedFile("a.md", b"# A\n\nAlpha."),
        SimpleUploadedFile("b.txt", b"Beta."),
        SimpleUploadedFile("c.exe", b"MZ"),
    ]
    response = client.post(
        f"/knowledge/{base.pk}/upload/", {"files": files}, headers={"X-CSRFToken": client.csrf_token()}, follow=True
    )
    html = response.content.decode()
    assert response.redirect_chain == [(f"/knowledge/{base.pk}/", 302)]
    assert "2 files queued for ingestion." in html
    assert "c.exe: only .txt, .md, .html and .pdf files can be added" in html
    assert set(base.documents.filter(status=Status.QUEUED).values_list("filename", flat=True)) == {"a.md", "b.txt"}


def test_it_names_the_field_when_pasted_text_or_a_url_is_wrong(teammate, base, login_as):
    client = login_as(teammate)
    csrf = {"X-CSRFToken": client.csrf_token()}
    text = client.post(f"/knowledge/{base.pk}/text/", {"title": "T", "text": "", "metadata": "[1]"}, headers=csrf)
    assert text.status_code == 422
    assert "text: This field is required." in text.content.decode()
    assert "metadata: write a JSON object" in text.content.decode()
    url = client.post(f"/knowledge/{base.pk}/url/", {"url": "http://10.0.0.1/"}, headers=csrf)
    assert url.status_code == 422
    assert "url: " in url.content.decode()


def test_it_renders_the_documents_fragment_for_live_refresh(owner, base, login_as):
    html = login_as(owner).get(f"/knowledge/{base.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert html.lstrip().startswith('<div id="documents" data-live-knowledge')
    assert "<html" not in html


LONG_TEXT = " ".join(f"Sentence {n} explains one more detail of shipping and returns." for n in range(60))
SETTINGS = {"name": "Help", "description": "", "embedding": "", "chunk_size": 300, "chunk_overlap": 40}


def test_it_shows_editors_the_settings_and_delete_controls(teammate, base, login_as):
    html = login_as(teammate).get(f"/knowledge/{base.pk}/").content.decode()
    assert 'id="settings-form"' in html
    assert 'id="delete-base-form"' in html
    assert "re-ingests every document" in html


def test_it_renames_without_re_ingesting(teammate, base, login_as):
    client = login_as(teammate)
    saved = client.post(
        f"/knowledge/{base.pk}/edit/", {**SETTINGS, "name": "Help centre"}, headers={"X-CSRFToken": client.csrf_token()}
    )
    assert saved.status_code == 302
    assert KnowledgeBase.objects.get(pk=base.pk).name == "Help centre"
    assert base.documents.get().status == Status.READY
    entry = AuditEntry.objects.get(action="knowledge_base.updated")
    assert entry.details == {"changed": ["name"]}


def test_it_re_ingests_every_document_when_the_chunking_changes(teammate, base, login_as):
    long = DocumentFactory(knowledge_base=base, title="Shipping", raw=LONG_TEXT.encode())
    pipeline.ingest(long.pk)
    before = set(long.chunks.values_list("pk", flat=True))
    client = login_as(teammate)
    saved = client.post(
        f"/knowledge/{base.pk}/edit/",
        {**SETTINGS, "chunk_size": 60, "chunk_overlap": 10},
        headers={"X-CSRFToken": client.csrf_token()},
        follow=True,
    )
    assert "every document was queued for re-ingestion" in saved.content.decode()
    assert set(base.documents.values_list("status", flat=True)) == {Status.QUEUED}
    assert AuditEntry.objects.get(action="knowledge_base.updated").details == {
        "changed": ["chunk_size", "chunk_overlap"]
    }
    assert pipeline.ingest(long.pk) == Status.READY
    after = list(long.chunks.values_list("pk", "token_count"))
    assert before.isdisjoint(pk for pk, _ in after)
    assert len(after) > len(before)
    assert all(tokens <= 60 for _, tokens in after)


def test_it_names_the_field_when_settings_are_wrong(teammate, base, login_as):
    KnowledgeBaseFactory(workspace=base.workspace, name="Other")
    client = login_as(teammate)
    csrf = {"X-CSRFToken": client.csrf_token()}
    overlap = client.post(f"/knowledge/{base.pk}/edit/", {**SETTINGS, "chunk_overlap": 200}, headers=csrf)
    assert overlap.status_code == 422
    assert "Overlap (tokens): the overlap must be from 0 to half the chunk size" in overlap.content.decode()
    taken = client.post(f"/knowledge/{base.pk}/edit/", {**SETTINGS, "name": "Other"}, headers=csrf)
    assert taken.status_code == 422
    html = taken.content.decode()
    assert "Name: a knowledge base named &#x27;Other&#x27; already exists" in html
    assert "<h1>Help</h1>" in html
    embedding = client.post(f"/knowledge/{base.pk}/edit/", {**SETTINGS, "embedding": "vendor|nope"}, headers=csrf)
    assert embedding.status_code == 422
    assert "Embedding model:" in embedding.content.decode()
    assert KnowledgeBase.objects.get(pk=base.pk).chunk_overlap == 40
    assert not AuditEntry.objects.filter(action="knowledge_base.updated").exists()


def test_it_deletes_a_knowledge_base_with_its_documents_and_chunks_once_confirmed(
    teammate, base, login_as, django_capture_on_commit_callbacks
):
    search(base, "refund", 5, {}, 0.0)
    assert base.pk in index.cache.indexes
    client = login_as(teammate)
    csrf = {"X-CSRFToken": client.csrf_token()}
    unconfirmed = client.post(f"/knowledge/{base.pk}/delete/", {"confirm": "help"}, headers=csrf)
    assert unconfirmed.status_code == 422
    assert "confirm: type &#x27;Help&#x27; to delete it" in unconfirmed.content.decode()
    assert KnowledgeBase.objects.filter(pk=base.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        deleted = client.post(f"/knowledge/{base.pk}/delete/", {"confirm": "Help"}, headers=csrf)
    assert deleted.status_code == 302
    assert deleted["Location"] == "/knowledge/"
    assert not KnowledgeBase.objects.exists()
    assert not Document.objects.exists()
    assert not Chunk.objects.exists()
    assert base.pk not in index.cache.indexes
    entry = AuditEntry.objects.get(action="knowledge_base.deleted")
    assert entry.details == {"name": "Help", "documents": 1}


def test_viewers_cannot_change_or_delete_a_knowledge_base(viewer, base, login_as):
    client = login_as(viewer)
    html = client.get(f"/knowledge/{base.pk}/").content.decode()
    assert 'id="settings-form"' not in html
    assert 'id="delete-base-form"' not in html
    csrf = {"X-CSRFToken": client.csrf_token()}
    assert client.post(f"/knowledge/{base.pk}/edit/", {**SETTINGS, "name": "Mine"}, headers=csrf).status_code == 403
    assert client.post(f"/knowledge/{base.pk}/delete/", {"confirm": "Help"}, headers=csrf).status_code == 403
    assert KnowledgeBase.objects.get(pk=base.pk).name == "Help"


def test_outsiders_cannot_find_a_knowledge_base_to_change_or_delete(outsider, base, login_as):
    client = login_as(outsider)
    csrf = {"X-CSRFToken": client.csrf_token()}
    assert client.post(f"/knowledge/{base.pk}/edit/", {**SETTINGS, "name": "Mine"}, headers=csrf).status_code == 404
    assert client.post(f"/knowledge/{base.pk}/delete/", {"confirm": "Help"}, headers=csrf).status_code == 404
    assert KnowledgeBase.objects.filter(pk=base.pk, name="Help").exists()


def test_it_renames_a_knowledge_base_whose_embedding_model_is_no_longer_offered(teammate, workspace, login_as):
    base = KnowledgeBaseFactory(workspace=workspace, name="Help", embedding="gone|old-model")
    client = login_as(teammate)
    settings = {**SETTINGS, "name": "Help centre", "embedding": "gone|old-model"}
    saved = client.post(f"/knowledge/{base.pk}/edit/", settings, headers={"X-CSRFToken": client.csrf_token()})
    assert saved.status_code == 302
    assert KnowledgeBase.objects.get(pk=base.pk).name == "Help centre"
