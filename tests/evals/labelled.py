"""A labelling workflow whose published v1 and whose draft each get one row of three wrong, a different one:
comparing them shows one regression and one fix. Eval runs here are real, in process."""

from typing import Any

from accounts.models import Workspace
from builder.models import Workflow, WorkflowVersion
from evals import eval_runs, sets
from evals.models import EvalRun, EvalSet
from evals.scorers import ScorerSpec
from evals.sets import NewRow
from tests.engine.graphs import chain, node
from tests.engine.running import wait_for
from tests.factories import WorkflowFactory, WorkflowVersionFactory

SCHEMA = {"type": "object", "required": ["subject"], "properties": {"subject": {"type": "string"}}}
# v1 labels a ticket with its subject; the draft with the row's `alt`, which fixes "Login" and breaks "Refund".
BY_SUBJECT = "{{ input.subject | lower }}"
BY_ALT = "{{ input.alt }}"
# RIGHT gets every row right, WRONG none.
RIGHT = "{{ input.label }}"
WRONG = "other"
ROWS = [
    NewRow({"subject": "Billing", "alt": "billing", "label": "billing"}, {"category": "billing"}),
    NewRow({"subject": "Login", "alt": "account", "label": "account"}, {"category": "account"}),
    NewRow({"subject": "Refund", "alt": "<i>billing</i>", "label": "refund"}, {"category": "refund"}),
]


def labelling(category: str) -> dict[str, Any]:
    label = node("label", "transform", fields={"category": category})
    reply = node("reply", "reply", answer="{{ nodes.label.category }}: about {{ input.subject }}")
    return chain(node("start", "trigger", input_schema=SCHEMA), label, reply)


def labelled_workflow(workspace: Workspace, by: Any, draft: str = BY_ALT) -> tuple[Workflow, WorkflowVersion, EvalSet]:
    """The workflow (its draft labels with `draft`), its v1 (labels by subject) and its eval set."""
    workflow = WorkflowFactory(workspace=workspace, name="Labeller", draft=labelling(draft))
    v1 = WorkflowVersionFactory(workflow=workflow, graph=labelling(BY_SUBJECT), number=1)
    eval_set = sets.create_set(workflow, "Labelled tickets", by)
    sets.add_rows(eval_set, ROWS, by)
    exact = ScorerSpec("category_exact", "exact", "nodes.label.category", {}, 1.0, "category")
    sets.save_scorer(eval_set, exact, by)
    sets.save_scorer(eval_set, ScorerSpec("shape", "regex", "answer", {"pattern": r"^\S+: about"}, 1.0), by)
    return workflow, v1, eval_set


def scored(eval_set: EvalSet, version: WorkflowVersion | None, by: Any) -> EvalRun:
    eval_run = eval_runs.start_eval_run(eval_set, version, by)
    wait_for(eval_run.run)
    eval_run.refresh_from_db()
    assert eval_run.aggregates is not None
    return eval_run
