"""The eval_score node: the last node of an eval run's graph (evals/eval_runs.py), never offered in the palette."""

from typing import Any

from engine.errors import NonRetryableError
from engine.registry import Node, NodeContext, NodeResult, register
from evals.models import EvalRun
from evals.scoring import score


@register
class EvalScore(Node):
    """Scores every row of its eval run once the rows have run (evals/scoring.py); judge calls are billed to
    this node. Output: the eval run's aggregates. Fails (not retryable) in a run that is no eval run."""

    kind = "eval_score"
    label = "Score eval run"
    category = "Evaluation"
    description = "Scores the rows of an eval run."
    listed = False

    def run(self, ctx: NodeContext) -> NodeResult:
        eval_run = EvalRun.objects.filter(run_id=ctx.run_id).first()
        if eval_run is None:
            raise NonRetryableError("This node scores eval runs only", code="not_an_eval_run")
        calls = ctx.model_calls("eval_judge")
        figures: dict[str, Any] = score(eval_run, calls)
        return NodeResult(output=figures, usage=calls.usage())
