import pytest

from knowledge import documents, pipeline
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for
from tests.factories import DocumentFactory, KnowledgeBaseFactory

pytestmark = [pytest.mark.usefixtures("in_process"), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def base(workspace):
    base = KnowledgeBaseFactory(workspace=workspace, name="Help")
    for title, text in [
        ("Refunds", "# Refund policy\n\nRefunds are paid within 14 days of purchase."),
        ("Passwords", "# Reset your password\n\nClick forgot password on the sign-in page."),
    ]:
        pipeline.ingest(
            DocumentFactory(knowledge_base=base, title=title, raw=text.encode(), metadata={"topic": title}).pk
        )
    return base


def test_it_retrieves_passages_for_the_rendered_query(workspace, base):
    graph = chain(TRIGGER, node("retrieve", "retrieve", query="{{ input.body }}", knowledge_base=base.pk, top_k=3))
    run = wait_for(start(workspace, graph, {"body": "How long do refunds take?"}))
    assert run.status == "succeeded"
    output = node_run(run, "retrieve").output
    assert output["passages"][0]["title"] == "Refunds"
    assert output["passages"][0]["text"] == "Refunds are paid within 14 days of purchase."
    assert set(output["passages"][0]) >= {"text", "score", "title", "source"}
    assert output["top_score"] == output["passages"][0]["score"] > 0


def test_it_finds_the_knowledge_base_by_name_and_applies_filters(workspace, base):
    retrieve = node(
        "retrieve", "retrieve", query="refunds password", knowledge_base="Help", filters={"topic": "Passwords"}
    )
    run = wait_for(start(workspace, chain(TRIGGER, retrieve)))
    assert [p["title"] for p in node_run(run, "retrieve").output["passages"]] == ["Passwords"]


def test_it_answers_no_passages_and_a_zero_top_score_when_nothing_matches(workspace, base):
    retrieve = node("retrieve", "retrieve", query="zeppelin", knowledge_base=base.pk)
    run = wait_for(start(workspace, chain(TRIGGER, retrieve)))
    assert node_run(run, "retrieve").output["passages"] == []
    assert node_run(run, "retrieve").output["top_score"] == 0


def test_it_fails_on_a_knowledge_base_of_another_workspace(workspace, outsider):
    elsewhere = KnowledgeBaseFactory(workspace=outsider.workspace)
    run = wait_for(
        start(workspace, chain(TRIGGER, node("retrieve", "retrieve", query="x", knowledge_base=elsewhere.pk)))
    )
    assert run.status == "failed"
    assert "no knowledge base" in node_run(run, "retrieve").error["message"]


def test_it_fails_naming_a_knowledge_base_that_was_deleted(workspace, owner, base):
    by_name = wait_for(start(workspace, chain(TRIGGER, node("retrieve", "retrieve", query="x", knowledge_base="Help"))))
    assert by_name.status == "succeeded"
    base_id = base.pk
    documents.delete_base(base, owner.user)
    for named, shown in [("Help", "'Help'"), (base_id, str(base_id))]:
        run = wait_for(start(workspace, chain(TRIGGER, node("retrieve", "retrieve", query="x", knowledge_base=named))))
        assert run.status == "failed"
        error = node_run(run, "retrieve").error
        assert error["message"] == f"there is no knowledge base {shown} in this workspace"
        assert error["code"] == "not_found"
