"""The item templates: "Index documents" runs offline on the built-in model ("Classify documents": tests/engine/core),
and both are in the New-workflow catalogue."""

import pytest

from builder import calls, item_templates
from builder.models import Workflow
from builder.versions import publish_version, run_latest
from engine.runs import Options
from knowledge.models import Document
from knowledge.search import search
from tests.engine.running import node as node_run
from tests.engine.running import wait_for

pytestmark = [pytest.mark.usefixtures("in_process"), pytest.mark.django_db(transaction=True)]


def test_index_documents_summarises_and_stores_each_document(workspace):
    workflow = item_templates.add_index_documents(workspace)
    run = wait_for(run_latest(workflow, item_templates.SAMPLE_DOCUMENTS, Options()), timeout=60)
    assert run.status == "succeeded", node_run(run, "each").error
    assert node_run(run, "totals").output == {"indexed": 3, "failures": [], "cost": 0}
    documents = Document.objects.filter(knowledge_base__name=item_templates.INDEXED)
    assert sorted(documents.values_list("key", "status")) == [
        ("Change email", "ready"),
        ("Charged twice", "ready"),
        ("Sync stopped", "ready"),
    ]
    base = documents.first().knowledge_base
    assert search(base, "charged twice subscription", 1, {}, 0)[0].title == "Charged twice"


def test_adding_the_templates_again_keeps_what_is_there(workspace):
    first = item_templates.add_index_documents(workspace)
    assert item_templates.add_index_documents(workspace).pk == first.pk
    assert first.versions.count() == 1


@pytest.mark.parametrize(
    ("slug", "per_document", "outputs"),
    [
        ("classify-documents", "Docs: classify a document", item_templates.CLASSIFY_OUTPUTS),
        ("index-documents", "Docs: index a document", item_templates.INDEX_OUTPUTS),
    ],
)
def test_creating_from_the_catalogue_makes_the_called_workflow_and_a_draft_that_publishes(
    owner, login_as, slug, per_document, outputs
):
    response = login_as(owner).post_form("/workflows/new/", {"name": "Docs", "template": slug})
    workflow = Workflow.objects.get(workspace=owner.workspace, name="Docs")
    assert response.status_code == 302
    assert response["Location"] == f"/workflows/{workflow.pk}/"
    child = Workflow.objects.get(workspace=owner.workspace, name=per_document)
    assert list(child.versions.values_list("number", flat=True)) == [1]
    assert child.created_by == owner.user
    each = next(n for n in workflow.draft["nodes"] if n["id"] == "each")
    assert each["params"]["workflow_id"] == child.pk
    assert next(n for n in workflow.draft["nodes"] if n["id"] == "totals")["params"]["fields"] == outputs
    assert workflow.sample_input == item_templates.SAMPLE_DOCUMENTS
    assert calls.problems(workflow, workflow.draft) == []
    assert publish_version(workflow, "first", by=owner.user).number == 1
    assert not workflow.versions.filter(number=2).exists()


def test_a_second_workflow_from_a_template_gets_its_own_called_workflow(owner, login_as):
    client = login_as(owner)
    client.post_form("/workflows/new/", {"name": "Docs", "template": "classify-documents"})
    client.post_form("/workflows/new/", {"name": "Letters", "template": "classify-documents"})
    called = {
        w.name: w.draft["nodes"][1]["params"]["workflow_id"]
        for w in Workflow.objects.filter(workspace=owner.workspace, name__in=["Docs", "Letters"])
    }
    assert called["Docs"] != called["Letters"]
    assert Workflow.objects.get(pk=called["Letters"]).name == "Letters: classify a document"
