"""Scoring an eval run once its rows have run: each row's output against its expected value by every scorer,
then the aggregates. Called by the eval run's `eval_score` node (evals/nodes.py) on a worker.

A row already scored is not scored again, so a retried node neither repeats nor re-bills a judge or
embedding call that was recorded. A row whose run did not succeed fails every scorer (it is not errored:
the workflow, not the scorer, fell short).
"""

import statistics
from decimal import Decimal
from typing import Any

from datasets.results import pick
from engine.models import NodeRun, RunStatus
from engine.providers.calls import ModelCalls
from engine.runs.children import BATCH_NODE, ItemRun, item_runs
from evals import judges, similarity
from evals.eval_runs import mark_scored
from evals.models import EvalResult, EvalRun, ScorerKind
from evals.scorers import Score, ScorerSpec, expected_value, score_plain, value_at

PENDING = "pending"
NODES = "nodes."
WRITE_EVERY = 50


def _specs(eval_run: EvalRun) -> list[ScorerSpec]:
    return [ScorerSpec(**stored) for stored in eval_run.scorers]


def _node_outputs(run_id: int, specs: list[ScorerSpec]) -> dict[str, Any]:
    """The outputs of the row run's nodes that scorers read (`nodes.<id>.…`); nothing read when none does."""
    wanted = {spec.field[len(NODES) :].split(".")[0] for spec in specs if spec.field.startswith(NODES)}
    if not wanted:
        return {}
    return dict(NodeRun.objects.filter(run_id=run_id, node_id__in=wanted).values_list("node_id", "output"))


def scored_value(spec: ScorerSpec, output: Any, nodes: dict[str, Any]) -> Any:
    """The value a scorer reads: at its field in the run's output, or in a node's output (`nodes.<id>.<path>`)."""
    if spec.field.startswith(NODES):
        return pick(nodes, spec.field[len(NODES) :])
    return value_at(output, spec.field)


def _row_scores(calls: ModelCalls, specs: list[ScorerSpec], result: EvalResult, item: ItemRun | None) -> dict[str, Any]:
    if item is None or item.status != RunStatus.SUCCEEDED:
        status = item.status if item else "never started"
        why = f"the row's run {status}" + (f": {item.error}" if item and item.error else "")
        return {spec.name: Score(0.0, False, detail=why[:500]).as_dict() for spec in specs}
    nodes = _node_outputs(item.run_id, specs)
    scores = {}
    for spec in specs:
        got, want = scored_value(spec, item.output, nodes), expected_value(spec, result.expected)
        if spec.kind == ScorerKind.JUDGE:
            score = judges.judge(calls, spec, result.input, got, want)
        elif spec.kind == ScorerKind.SIMILARITY:
            score = similarity.similarity(calls, spec, got, want)
        else:
            score = score_plain(spec, got, want)
        scores[spec.name] = score.as_dict()
    return scores


def _spent(calls: ModelCalls, since: int) -> Decimal:
    return sum((Decimal(call["cost"]) for call in calls.log[since:]), Decimal(0))


def score(eval_run: EvalRun, calls: ModelCalls) -> dict[str, Any]:
    """Score every row not scored yet, then record and return the aggregates."""
    specs = _specs(eval_run)
    items = {item.index: item for item in item_runs(eval_run.run_id, BATCH_NODE)}
    todo = list(EvalResult.objects.filter(eval_run=eval_run, outcome=PENDING).order_by("index"))
    done: list[EvalResult] = []
    for result in todo:
        item = items.get(result.index)
        before = len(calls.log)
        result.scores = _row_scores(calls, specs, result, item)
        result.passed = all(value["passed"] for value in result.scores.values())
        result.outcome = item.status if item else RunStatus.CANCELLED
        result.error = item.error if item else "the row's run never started"
        result.output = item.output if item else None
        result.run_id = item.run_id if item else None
        result.cost = (item.cost if item else Decimal(0)) + _spent(calls, before)
        duration = item.duration_s if item else None
        result.latency_ms = round(duration * 1000) if duration is not None else None
        done.append(result)
        if len(done) >= WRITE_EVERY:
            _write(done)
            done = []
    _write(done)
    figures = aggregates(eval_run, specs)
    mark_scored(eval_run, figures)
    return figures


def _write(results: list[EvalResult]) -> None:
    fields = ["scores", "passed", "outcome", "error", "output", "run_id", "cost", "latency_ms"]
    EvalResult.objects.bulk_update(results, fields)


def _percentile(values: list[int], share: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def aggregates(eval_run: EvalRun, specs: list[ScorerSpec]) -> dict[str, Any]:
    """Pass rate, mean score and errored rows per scorer; rows passing all; cost; latency p50 and p95."""
    rows = list(
        EvalResult.objects.filter(eval_run=eval_run).values("scores", "passed", "outcome", "cost", "latency_ms")
    )
    per_scorer = {}
    for spec in specs:
        found = [row["scores"].get(spec.name) for row in rows if row["scores"].get(spec.name)]
        errored = sum(1 for score in found if score["errored"])
        counted = [score for score in found if not score["errored"]]
        passed = sum(1 for score in counted if score["passed"])
        numbers = [score["score"] for score in counted if score["score"] is not None]
        per_scorer[spec.name] = {
            "kind": spec.kind,
            "threshold": spec.threshold,
            "passed": passed,
            "failed": len(counted) - passed,
            "errored": errored,
            "pass_rate": round(passed / len(counted), 4) if counted else None,
            "mean_score": round(statistics.fmean(numbers), 4) if numbers else None,
        }
    latencies = [row["latency_ms"] for row in rows if row["latency_ms"] is not None]
    return {
        "rows": len(rows),
        "succeeded": sum(1 for row in rows if row["outcome"] == RunStatus.SUCCEEDED),
        "passed_all": sum(1 for row in rows if row["passed"]),
        "scorers": per_scorer,
        "cost": str(sum((row["cost"] for row in rows), Decimal(0))),
        "latency_p50_ms": _percentile(latencies, 0.5),
        "latency_p95_ms": _percentile(latencies, 0.95),
    }
