"""The "Classify documents" template (builder/item_templates.py) runs offline on the built-in model.

Here in the engine core so that it runs on SQLite too, as the embedded mode runs it.
"""

from builder import item_templates
from builder.versions import run_latest
from engine.models import Run
from engine.runs import Options
from tests.engine.running import node as node_run
from tests.engine.running import wait_for


def test_classify_documents_labels_every_document_in_order(workspace):
    workflow = item_templates.add_classify_documents(workspace)
    run = wait_for(run_latest(workflow, item_templates.SAMPLE_DOCUMENTS, Options()), timeout=60)
    assert run.status == "succeeded", node_run(run, "each").error
    totals = node_run(run, "totals").output
    assert [(r["title"], r["label"]) for r in totals["labels"]] == [
        ("Charged twice", "billing"),
        ("Sync stopped", "technical"),
        ("Change email", "account"),
    ]
    assert all(0 < r["confidence"] <= 1 for r in totals["labels"])
    assert totals["failures"] == []
    assert totals["cost"] == 0
    assert Run.objects.filter(workspace=workspace).count() == 4
