"""Comparing two eval runs over the API: the deltas, the regressed and fixed counts, one page of row pairs."""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.models import Scope
from accounts.permissions import Action, get_for
from evals import comparison
from evals.models import LARGEST_KEY, EvalRun

router = Router(tags=["evals"])


class CompareIn(Schema):
    only: str = Field("all", description="rows to list: all, regressions, fixes or changed")
    after: int = Field(
        -1, ge=-1, le=LARGEST_KEY, description="list rows after this row index: the previous page's next_after"
    )


class ScorerDeltaOut(Schema):
    name: str
    kind: str
    base_pass_rate: float | None
    pass_rate: float | None
    points: float | None = Field(description="the pass rate's change in percentage points")
    base_mean: float | None
    mean: float | None
    base_errored: int
    errored: int
    regressions: int
    fixes: int


class RowPairOut(Schema):
    index: int
    change: str = Field(description="regression (passed before, fails now), fix, or same")
    input: Any
    expected: Any
    base_output: Any
    output: Any
    base_scores: dict[str, Any]
    scores: dict[str, Any]


class ComparisonOut(Schema):
    base: int
    candidate: int
    compared: int = Field(description="rows both runs ran")
    regressions: int
    fixes: int
    scorers: list[ScorerDeltaOut]
    figures: dict[str, dict[str, Any]] = Field(description="per figure: base, candidate, delta")
    distributions: dict[str, Any]
    rows: list[RowPairOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null on the last")


@router.get(
    "/eval-runs/{base_id}/compare/{candidate_id}",
    response=ComparisonOut,
    summary="Compare an eval run (the candidate, typically the draft's) with another of the same set (the base)",
)
@token_scope(Scope.RUNS_READ)
def compare(request: HttpRequest, base_id: int, candidate_id: int, query: Query[CompareIn]) -> ComparisonOut:
    if query.only not in comparison.FILTERS:
        raise HttpError(422, f"only: choose one of {', '.join(comparison.FILTERS)}")
    base = get_for(request.user, EvalRun, Action.VIEW, pk=base_id)
    candidate = get_for(request.user, EvalRun, Action.VIEW, pk=candidate_id)
    try:
        summary = comparison.summarize(base, candidate)
    except comparison.NotComparable as problem:
        raise HttpError(422, f"{problem.field}: {problem}") from None
    rows, more = comparison.row_page(base, candidate, query.only, query.after)
    return ComparisonOut(
        base=base.pk,
        candidate=candidate.pk,
        compared=summary.compared,
        regressions=summary.regressions,
        fixes=summary.fixes,
        scorers=[ScorerDeltaOut(**vars(scorer), points=scorer.points) for scorer in summary.scorers],
        figures={label: {"base": a, "candidate": b, "delta": d} for label, a, b, d in summary.figures},
        distributions=comparison.distributions(base, candidate),
        rows=[RowPairOut(**{name: getattr(row, name) for name in RowPairOut.model_fields}) for row in rows],
        next_after=rows[-1].index if more else None,
    )
