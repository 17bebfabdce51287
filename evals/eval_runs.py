"""Starting an eval run: a published version (or the draft as it is now) over every row of an eval set.

An eval run is an engine run whose graph is a trigger, a for_each node running the workflow once
per row (the batch machinery: durable, concurrent, costs rolled up, budgets on the whole tree) and
the `eval_score` node (evals/nodes.py) that scores the rows once they have all ended. It is a test
run with the evaluation purpose: its side effects are recorded, not sent, and its spend is
reported apart. Rows are checked against the version's input schema before anything starts.
"""

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from accounts.audit import record
from builder.calls import problems as draft_problems
from builder.models import WorkflowVersion
from datasets import row_inputs
from datasets.models import DatasetRow
from engine import runs, workspace_embeddings
from engine.models import RunPurpose, TriggerKind
from engine.runs import children
from engine.runs.children import BATCH_NODE
from evals.models import EvalResult, EvalRun, EvalSet, ScorerKind
from evals.scorers import ScorerSpec
from evals.sets import EvalSetInvalid, spec_of

Actor = User | AnonymousUser | None
SCORE_NODE = "score"
SCORE_KIND = "eval_score"
MAX_CONCURRENCY = 100
# An eval run's rows and scoring may take long: a judge call per row and scorer.
NODE_TIMEOUT_S = 3600


def _graph(workflow_id: int, version: int | None, concurrency: int) -> dict[str, Any]:
    graph = children.for_each_graph(workflow_id, version, max_concurrency=concurrency, timeout_s=NODE_TIMEOUT_S)
    graph["nodes"].append({"id": SCORE_NODE, "type": SCORE_KIND, "params": {}, "timeout_s": NODE_TIMEOUT_S})
    graph["edges"].append({"id": "rows-score", "source": BATCH_NODE, "target": SCORE_NODE})
    return graph


def _with_embedding_model(spec: ScorerSpec, workspace_id: int) -> dict[str, Any]:
    """The scorer as the run keeps it: a similarity scorer that names no model gets the workspace's, as it is now,
    so the whole run scores with one model and its scorers say which."""
    stored = spec.as_dict()
    if spec.kind == ScorerKind.SIMILARITY and not spec.config.get("provider"):
        chosen = workspace_embeddings.of_workspace(workspace_id)
        stored["config"] = {**spec.config, "provider": chosen.provider, "model": chosen.model}
    return stored


def start_eval_run(eval_set: EvalSet, version: WorkflowVersion | None, by: Actor, concurrency: int = 10) -> EvalRun:
    """Run `version` (None: the workflow's draft) over the set; EvalSetInvalid (nothing started) naming the field
    or the rows at fault."""
    workflow = eval_set.workflow
    if workflow.archived_at is not None:
        raise EvalSetInvalid("workflow", f"{workflow.name!r} is archived")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise EvalSetInvalid("concurrency", f"the concurrency is from 1 to {MAX_CONCURRENCY}")
    rows = list(eval_set.rows.order_by("position"))
    if not rows:
        raise EvalSetInvalid("eval_set_id", f"{eval_set.name!r} has no rows: add rows before running it")
    scorers = [_with_embedding_model(spec_of(scorer), workflow.workspace_id) for scorer in eval_set.scorers.all()]
    if not scorers:
        raise EvalSetInvalid("eval_set_id", f"{eval_set.name!r} has no scorers: add one before running it")
    if version is not None and version.workflow_id != workflow.pk:
        raise EvalSetInvalid("version", f"that version is not a version of {workflow.name!r}")
    graph = version.graph if version is not None else workflow.draft
    pinned = None
    if version is None:
        found = draft_problems(workflow, graph)
        if found:
            listed = "; ".join(f"{p.path}: {p.message}" for p in found[:5])
            raise EvalSetInvalid("draft", f"the draft cannot run: {listed}", [p.as_dict() for p in found])
        pinned = {"workflow_id": workflow.pk, "workflow_name": workflow.name, "graph": graph}
    items = _inputs(rows, graph)
    options = runs.Options(
        trigger_kind=TriggerKind.TEST,
        created_by=by if isinstance(by, User) else None,
        is_test=True,
        purpose=RunPurpose.EVALUATION,
        called_graph=pinned,
    )
    target = f"v{version.number}" if version is not None else "draft"
    name = f"Eval: {workflow.name} {target} on {eval_set.name}"[:200]
    source = runs.RunSource(
        workspace_id=workflow.workspace_id,
        graph=_graph(workflow.pk, version.number if version else None, concurrency),
        workflow_name=name,
    )
    try:
        with transaction.atomic():
            run = runs.start_run(source, {"items": items}, options)
            eval_run = EvalRun.objects.create(
                workspace_id=workflow.workspace_id,
                eval_set=eval_set,
                workflow=workflow,
                version=version,
                version_number=version.number if version else None,
                draft_revision=None if version else workflow.draft_revision,
                run=run,
                row_count=len(rows),
                scorers=scorers,
                created_by=options.created_by,
            )
            _snapshot(eval_run, rows)
            record(by, "eval_run.started", workspace=workflow.workspace, target=eval_run, run=run.pk, rows=len(rows))
    except runs.RunRejected as rejected:
        raise EvalSetInvalid("version", str(rejected), rejected.problems) from None
    return eval_run


def _inputs(rows: list[Any], graph: dict[str, Any]) -> list[dict[str, Any]]:
    as_dataset = [DatasetRow(position=row.position, line=0, data=row.input) for row in rows]
    try:
        return row_inputs.check(as_dataset, row_inputs.input_schema(graph), from_text=False)
    except row_inputs.RowsMismatch as mismatch:
        problems = [
            {**p.as_dict(), "path": f"rows[{p.row - 1}].input.{p.field}".rstrip(".")} for p in mismatch.problems
        ]
        raise EvalSetInvalid("eval_set_id", str(mismatch), problems) from None


def _snapshot(eval_run: EvalRun, rows: list[Any]) -> None:
    """Each row's expected value as it is now, kept with the eval run (rows may be edited or deleted later)."""
    EvalResult.objects.bulk_create(
        (
            EvalResult(eval_run=eval_run, index=i, row=row, input=row.input, expected=row.expected, outcome="pending")
            for i, row in enumerate(rows)
        ),
        batch_size=2000,
    )


def mark_scored(eval_run: EvalRun, aggregates: dict[str, Any]) -> None:
    EvalRun.objects.filter(pk=eval_run.pk).update(aggregates=aggregates, scored_at=timezone.now())
