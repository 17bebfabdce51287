"""The "Index documents" template runs offline on the built-in model ("Classify documents": tests/engine/core)."""

import pytest

from builder import item_templates
from builder.versions import run_latest
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
