"""Semantic similarity: the cosine of the embeddings of a row's output and its expected text.

The embeddings are one call through the scoring node's ModelCalls, so they are budgeted and billed like any
model call, to the eval run (evaluation spend on the cost report). A call that fails (the provider is down,
the model is unknown, the budget is spent) makes the row's score errored, not failed.
"""

from typing import Any

from engine.errors import NodeError
from engine.providers import vectors
from engine.providers.calls import ModelCalls, Target
from evals.scorers import Score, ScorerSpec, as_text


def similarity(calls: ModelCalls, spec: ScorerSpec, got: Any, want: Any) -> Score:
    try:
        found = calls.embed(Target(spec.config["provider"], spec.config["model"]), [as_text(got), as_text(want)])
    except NodeError as error:
        return Score(None, False, errored=True, detail=f"the embeddings failed: {error}")
    left, right = (vectors.normalised(vector) for vector in found)
    score = round(max(0.0, vectors.cosine(left, right)), 4)
    return Score(score, score >= spec.threshold)
