"""The demo's evaluation story (seed_demo): Support triage's eval set of labelled tickets, a second published
version that drops the reply's sources, a batch of production runs and an eval run of each version, so the
comparison and the Quality tab show real figures once `make run`'s worker has run them.

Seeding only creates rows and starts runs; the worker does the work after start-up, so `make run` starts as
fast as before (the reviewed production runs of evals/demo_reviews.py are the exception). The tickets are the
sample dataset's, which Support triage answers without a reviewer, so every eval run finishes by itself.
"""

import copy
from typing import Any

from builder.models import Workflow
from builder.versions import publish_version, restore_version
from datasets import batches
from datasets.demo import DATASET_NAME, SAMPLE_TICKETS
from datasets.models import Dataset
from evals import sets
from evals.eval_runs import start_eval_run
from evals.models import EvalSet
from evals.scorers import ScorerSpec
from evals.sets import NewRow

EVAL_SET_NAME = "Labelled tickets"
CATEGORIES = {
    "Charged twice": "billing",
    "Reset my password": "account",
    "Sync stopped": "technical",
    "Change my email": "account",
    "App crashes": "technical",
    "Invoice needed": "billing",
}
REPLIES = {
    "Reset my password": "Hi Bo, you can reset your password from the sign-in page; check your spam folder "
    "for the reset email [1].",
    "Invoice needed": "Hi Hana, you can download an invoice for every payment from Settings, Billing [1].",
}
SCORERS = [
    ScorerSpec("category_exact", "exact", "nodes.category.label", {}, 1.0, "category"),
    # The draft node is told to cite its sources as [n].
    ScorerSpec("cites_sources", "regex", "answer", {"pattern": r"\[\d+\]", "ignore_case": False}, 1.0),
]


def without_sources(graph: dict[str, Any]) -> dict[str, Any]:
    """Support triage whose draft no longer gets the retrieved passages: shorter replies, no citations."""
    changed = copy.deepcopy(graph)
    for node in changed["nodes"]:
        if node["id"] == "draft":
            node["params"]["passages"] = ""
    return changed


def add_eval_demo(triage: Workflow) -> EvalSet | None:
    """The eval set, v2, their batches and eval runs, when the set does not exist yet; None if it does."""
    v1 = triage.latest_version()
    if v1 is None or EvalSet.objects.filter(workflow=triage, name=EVAL_SET_NAME).exists():
        return None
    description = "The sample tickets with their categories, and the replies we want for two of them."
    eval_set = sets.create_set(triage, EVAL_SET_NAME, None, description=description)
    rows = [
        NewRow(ticket, {"category": CATEGORIES[ticket["subject"]]} | _reply(ticket["subject"]))
        for ticket in SAMPLE_TICKETS
    ]
    sets.add_rows(eval_set, rows, None)
    for spec in SCORERS:
        sets.save_scorer(eval_set, spec, None)
    triage.draft = without_sources(v1.graph)
    triage.save(update_fields=["draft", "updated_at"])
    v2 = publish_version(triage, "Shorter replies: the draft no longer quotes the help centre", by=None)
    # The draft goes back to v1's graph: "is the draft better than v2?" has an answer to show.
    restore_version(triage, v1, by=None)
    dataset = Dataset.objects.filter(workspace_id=triage.workspace_id, name=DATASET_NAME).first()
    if dataset is not None:
        batches.start_batch(batches.BatchSpec(dataset, v2, concurrency=3, output_fields=("answer",)), by=None)
    start_eval_run(eval_set, v1, None, concurrency=3)
    start_eval_run(eval_set, v2, None, concurrency=3)
    return eval_set


def _reply(subject: str) -> dict[str, str]:
    return {"reply": REPLIES[subject]} if subject in REPLIES else {}
