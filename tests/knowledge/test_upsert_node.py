"""The knowledge_upsert node: a workflow adds or replaces a document by its key, once per run, node and key."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from engine import graph as graphs
from engine import ledger
from engine.models import Effect
from engine.registry import NodeContext
from knowledge import upserts
from knowledge.models import Chunk, Document, KnowledgeBase
from knowledge.nodes import KnowledgeUpsert, UpsertParams
from knowledge.search import search
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for
from tests.factories import KnowledgeBaseFactory
from tests.fakes import Reply

pytestmark = [pytest.mark.usefixtures("in_process"), pytest.mark.django_db(transaction=True)]

REFUNDS = "# Refund policy\n\nRefunds are paid within 14 days of purchase."


@pytest.fixture
def base(workspace) -> KnowledgeBase:
    return KnowledgeBaseFactory(workspace=workspace, name="Help")


def indexing(knowledge_base: int | str, **params: object) -> dict:
    store = {"title": "{{ input.title }}", "text": "{{ input.text }}", "metadata": {"topic": "{{ input.topic }}"}}
    return chain(TRIGGER, node("store", "knowledge_upsert", knowledge_base=knowledge_base, **{**store, **params}))


def upsert(workspace, base, title="Refunds", text=REFUNDS, topic="billing"):
    run = wait_for(start(workspace, indexing(base.pk), {"title": title, "text": text, "topic": topic}))
    assert run.status == "succeeded", node_run(run, "store").error
    return run, node_run(run, "store").output


def test_it_adds_a_document_that_retrieval_then_finds(workspace, base):
    _, output = upsert(workspace, base)
    document = Document.objects.get(knowledge_base=base)
    assert output == {"document_id": document.pk, "action": "created", "chunk_count": 1, "title": "Refunds"}
    assert (document.key, document.status, document.metadata) == ("Refunds", "ready", {"topic": "billing"})
    [passage] = search(base, "how long do refunds take", 3, {"topic": "billing"}, 0)
    assert passage.text == "Refunds are paid within 14 days of purchase."


def test_the_same_content_twice_is_one_document_indexed_once(workspace, base):
    _, first = upsert(workspace, base)
    chunks = set(Chunk.objects.values_list("pk", flat=True))
    base.refresh_from_db()
    version = base.index_version
    _, second = upsert(workspace, base)
    assert second == {**first, "action": "unchanged"}
    assert Document.objects.filter(knowledge_base=base).count() == 1
    assert set(Chunk.objects.values_list("pk", flat=True)) == chunks
    base.refresh_from_db()
    assert base.index_version == version


def test_changed_text_replaces_the_document_with_the_same_key(workspace, base):
    _, first = upsert(workspace, base)
    _, second = upsert(workspace, base, text="# Refund policy\n\nRefunds are paid within 30 days now.")
    assert second["action"] == "replaced"
    assert second["document_id"] == first["document_id"]
    assert list(Chunk.objects.values_list("text", flat=True)) == ["Refunds are paid within 30 days now."]
    assert [p.text for p in search(base, "refunds", 3, {}, 0)] == ["Refunds are paid within 30 days now."]


def test_changed_metadata_alone_replaces_it_so_filters_see_the_change(workspace, base):
    upsert(workspace, base)
    _, second = upsert(workspace, base, topic="payments")
    assert second["action"] == "replaced"
    assert search(base, "refunds", 3, {"topic": "billing"}, 0) == []
    assert len(search(base, "refunds", 3, {"topic": "payments"}, 0)) == 1


def test_a_redelivered_node_does_not_ingest_again(workspace, base):
    run, first = upsert(workspace, base)
    document = Document.objects.get()
    ingested_at = document.ingested_at
    # The node's code runs again for the same run and node, as after a redelivered message,
    # this time with other text: the ledger hands back the first result and nothing is ingested.
    params = UpsertParams(knowledge_base=base.pk, title="Refunds", text="Something else entirely.")
    ctx = NodeContext(
        run_id=run.pk,
        workspace_id=workspace.pk,
        node_id="store",
        attempt=2,
        params=params,
        scope={},
        deadline=time.monotonic() + 30,
        once=ledger.bind(run.pk, "store", ledger.Holding("redelivered", 2, time.monotonic() + 30)),
    )
    assert KnowledgeUpsert().run(ctx).output == first
    document.refresh_from_db()
    assert (bytes(document.raw), document.ingested_at) == (REFUNDS.encode(), ingested_at)
    assert Effect.objects.filter(run=run, node_id="store").values_list("status", "attempts").get() == ("done", 1)


def test_it_fetches_a_web_page_through_the_guard(workspace, base, server):
    server.then(Reply(body=b"# Guide\n\nPress the blue button to start."))
    data = indexing(base.pk, text="", url=server.url + "/guide.md", title="Guide")
    run = wait_for(start(workspace, data, {"topic": "setup"}))
    assert run.status == "succeeded"
    output = node_run(run, "store").output
    assert (output["action"], output["chunk_count"]) == ("created", 1)
    document = Document.objects.get(pk=output["document_id"])
    assert (document.kind, document.key, document.url) == ("url", server.url + "/guide.md", server.url + "/guide.md")
    assert len(server.requests("/guide.md")) == 1


def test_it_refuses_a_private_address_before_saving_anything(workspace, base):
    run = wait_for(start(workspace, indexing(base.pk, text="", url="http://10.1.2.3/admin"), {"title": "x"}))
    assert run.status == "failed"
    error = node_run(run, "store").error
    assert "10.1.2.3" in error["message"]
    assert node_run(run, "store").attempt == 1
    assert not Document.objects.exists()


@pytest.mark.parametrize("named", [999_999, "Nope"])
def test_it_fails_clearly_on_a_knowledge_base_it_does_not_have(workspace, base, named):
    run = wait_for(start(workspace, indexing(named), {"title": "Refunds", "text": REFUNDS}))
    assert run.status == "failed"
    error = node_run(run, "store").error
    assert error["message"] == f"there is no knowledge base {named!r} in this workspace"
    assert error["code"] == "not_found"
    assert not Document.objects.exists()


def test_it_cannot_write_to_another_workspaces_knowledge_base(workspace, outsider):
    elsewhere = KnowledgeBaseFactory(workspace=outsider.workspace)
    run = wait_for(start(workspace, indexing(elsewhere.pk), {"title": "Refunds", "text": REFUNDS}))
    assert run.status == "failed"
    assert node_run(run, "store").error["message"] == f"there is no knowledge base {elsewhere.pk} in this workspace"
    assert not Document.objects.exists()


def test_validation_wants_text_or_a_url_but_not_both():
    both = indexing(1, url="https://example.com/a")
    neither = indexing(1, text="")
    for data in (both, neither):
        problems = graphs.validate(data)
        assert [(p.path, p.code) for p in problems] == [("nodes.1.params", "bad_params")]
        assert "give either text or a URL" in problems[0].message


def test_two_upserts_of_one_key_at_once_make_one_document(base):
    source = upserts.Source(key="Refunds", title="Refunds", text=REFUNDS)
    start = threading.Barrier(2)

    def add() -> str:
        start.wait()
        try:
            return upserts.upsert(base, source, []).action
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        actions = sorted(pool.map(lambda _: add(), range(2)))
    assert actions in (["created", "unchanged"], ["created", "replaced"])
    assert Document.objects.filter(knowledge_base=base).count() == 1
    assert Document.objects.get().chunk_count == 1


def test_a_page_that_cannot_be_fetched_fails_the_node_and_is_tried_again(workspace, base, server):
    server.default = Reply(status=500)
    retry = {"max_attempts": 2, "initial_delay_s": 0.1, "jitter": 0}
    data = indexing(base.pk, text="", url=server.url + "/down.md", title="Down", retry=retry)
    run = wait_for(start(workspace, data, {"topic": "x"}))
    assert run.status == "failed"
    error = node_run(run, "store").error
    assert error["code"] == "ingestion_failed"
    assert error["message"] == f"the document could not be added: {server.url}/down.md answered HTTP 500"
    assert len(server.requests("/down.md")) == 2
    assert Document.objects.get().status == "failed"
