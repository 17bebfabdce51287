"""Two eval runs of one eval set side by side: aggregate deltas, rows that regressed or were fixed, score
distributions, and a page of row pairs with their outputs' text diff.

Rows pair up by the eval row they ran (`EvalResult.row`), so a row added to the set between the two
runs is left out rather than paired with another. Counts, pages and distributions are computed in
SQL: a comparison of two 10,000-row runs reads one page of rows, never all of them
(bench/eval_compare.py). The aggregates come from each run's own `aggregates`.
"""

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, FloatField, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Round

from approvals.diffs import Segment, word_diff
from evals.models import EvalResult, EvalRun

PAGE = 50
REGRESSION = "regression"
FIX = "fix"
SAME = "same"
FILTERS = {
    "all": Q(),
    "regressions": Q(base_passed=True, passed=False),
    "fixes": Q(base_passed=False, passed=True),
    "changed": ~Q(base_passed=F("passed")),
}
MAX_DIFF_TEXT = 20_000
# A JSON true read as text: PostgreSQL's ->> gives "true", SQLite's json_extract 1.
TRUE_TEXT = ("true", "1")


class NotComparable(Exception):
    """The two eval runs cannot be compared; `field` names the parameter at fault (HTTP 422). `pending`: not
    yet, one of them is still being run or scored."""

    def __init__(self, field: str, message: str, pending: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.pending = pending


@dataclass(frozen=True)
class ScorerDelta:
    name: str
    kind: str
    base_pass_rate: float | None
    pass_rate: float | None
    base_mean: float | None
    mean: float | None
    base_errored: int
    errored: int
    regressions: int
    fixes: int

    @property
    def points(self) -> float | None:
        """The pass rate's change in percentage points."""
        if self.base_pass_rate is None or self.pass_rate is None:
            return None
        return round((self.pass_rate - self.base_pass_rate) * 100, 1)


@dataclass(frozen=True)
class Summary:
    base: EvalRun
    candidate: EvalRun
    compared: int
    regressions: int
    fixes: int
    scorers: list[ScorerDelta]
    figures: list[tuple[str, Any, Any, Any]]  # label, base, candidate, delta


@dataclass(frozen=True)
class RowPair:
    index: int
    input: Any
    expected: Any
    base_output: Any
    output: Any
    base_scores: dict[str, Any]
    scores: dict[str, Any]
    change: str
    diff: list[Segment] = field(default_factory=list)

    @property
    def expected_text(self) -> str:
        return text_of(self.expected)

    @property
    def base_text(self) -> str:
        return text_of(self.base_output)

    @property
    def text(self) -> str:
        return text_of(self.output)

    def scorer_cells(self, names: list[str]) -> list[tuple[str, Any, Any, str]]:
        """Per scorer: name, base score, candidate score and whether it regressed, was fixed or stayed."""
        cells = []
        for name in names:
            before, after = self.base_scores.get(name) or {}, self.scores.get(name) or {}
            change = _change(before.get("passed"), after.get("passed"))
            cells.append((name, before.get("score"), after.get("score"), change))
        return cells


def _change(before: Any, after: Any) -> str:
    if before is True and after is not True:
        return REGRESSION
    if before is not True and after is True:
        return FIX
    return SAME


def check(base: EvalRun, candidate: EvalRun) -> None:
    if base.pk == candidate.pk:
        raise NotComparable("candidate", "choose two different eval runs")
    if base.eval_set_id != candidate.eval_set_id:
        raise NotComparable("candidate", "the two eval runs are of different eval sets")
    for name, run in (("base", base), ("candidate", candidate)):
        if run.aggregates is None:
            raise NotComparable(name, f"eval run {run.pk} ({run.target_label}) has not finished scoring yet", True)


def pairs(base: EvalRun, candidate: EvalRun) -> QuerySet[EvalResult]:
    """The candidate's results that have a result of the same row in `base`, with that result's pass."""
    same_row = EvalResult.objects.filter(eval_run=base, row_id=OuterRef("row_id"))
    return (
        EvalResult.objects.filter(eval_run=candidate, row_id__isnull=False)
        .annotate(base_passed=Subquery(same_row.values("passed")[:1]))
        .filter(base_passed__isnull=False)
    )


def _scorer_flips(base: EvalRun, candidate: EvalRun, names: list[str]) -> dict[str, tuple[int, int]]:
    """Per scorer, rows whose pass went from true to false and from false to true, in one query."""
    if not names:
        return {}
    same_row = EvalResult.objects.filter(eval_run=base, row_id=OuterRef("row_id"))
    found = pairs(base, candidate)
    counts: dict[str, Any] = {}
    for i, name in enumerate(names):
        before = Subquery(same_row.annotate(p=KeyTextTransform("passed", KeyTransform(name, "scores"))).values("p")[:1])
        found = found.annotate(**{f"b{i}": before, f"a{i}": KeyTextTransform("passed", KeyTransform(name, "scores"))})
        was, now = Q(**{f"b{i}__in": TRUE_TEXT}), Q(**{f"a{i}__in": TRUE_TEXT})
        counts[f"r{i}"] = Count("pk", filter=was & ~now)
        counts[f"f{i}"] = Count("pk", filter=~was & now)
    row = found.aggregate(**counts)
    return {name: (row[f"r{i}"], row[f"f{i}"]) for i, name in enumerate(names)}


def _number(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _delta(before: Any, after: Any) -> Any:
    if before is None or after is None:
        return None
    return _number(after) - _number(before)  # type: ignore[operator]


def summarize(base: EvalRun, candidate: EvalRun) -> Summary:
    """Aggregate deltas and the numbers of regressed and fixed rows; NotComparable says why not."""
    check(base, candidate)
    a, b = base.aggregates or {}, candidate.aggregates or {}
    names = [spec["name"] for spec in candidate.scorers]
    flips = _scorer_flips(base, candidate, names)
    scorers = []
    for name in names:
        before, after = a.get("scorers", {}).get(name, {}), b.get("scorers", {}).get(name, {})
        scorers.append(
            ScorerDelta(
                name=name,
                kind=after.get("kind", ""),
                base_pass_rate=before.get("pass_rate"),
                pass_rate=after.get("pass_rate"),
                base_mean=before.get("mean_score"),
                mean=after.get("mean_score"),
                base_errored=before.get("errored", 0),
                errored=after.get("errored", 0),
                regressions=flips[name][0],
                fixes=flips[name][1],
            )
        )
    counts = pairs(base, candidate).aggregate(
        compared=Count("pk"),
        regressions=Count("pk", filter=FILTERS["regressions"]),
        fixes=Count("pk", filter=FILTERS["fixes"]),
    )
    figures = [
        (label, a.get(key), b.get(key), _delta(a.get(key), b.get(key)))
        for label, key in (
            ("Rows", "rows"),
            ("Rows passing every scorer", "passed_all"),
            ("Rows that ran to the end", "succeeded"),
            ("Cost (USD)", "cost"),
            ("Latency p50 (ms)", "latency_p50_ms"),
            ("Latency p95 (ms)", "latency_p95_ms"),
        )
    ]
    return Summary(base, candidate, counts["compared"], counts["regressions"], counts["fixes"], scorers, figures)


def text_of(value: Any) -> str:
    """A value as the text the diff compares: strings as they are, an output of one text field (a reply's
    `answer`) as that text, anything else as indented JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), str):
        return str(next(iter(value.values())))
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def row_page(base: EvalRun, candidate: EvalRun, only: str = "all", page: int = 1) -> tuple[list[RowPair], bool]:
    """One page of row pairs in row order (`only`: a key of FILTERS) and whether another page follows."""
    same_row = EvalResult.objects.filter(eval_run=base, row_id=OuterRef("row_id"))
    chosen = (
        pairs(base, candidate)
        .filter(FILTERS[only])
        .annotate(
            base_output=Subquery(same_row.values("output")[:1]),
            base_scores=Subquery(same_row.values("scores")[:1]),
        )
        .order_by("index")
        .values("index", "input", "expected", "output", "scores", "passed", "base_passed", "base_output", "base_scores")
    )
    start = (page - 1) * PAGE
    rows = list(chosen[start : start + PAGE + 1])
    found = []
    for row in rows[:PAGE]:
        before, after = text_of(row["base_output"]), text_of(row["output"])
        found.append(
            RowPair(
                index=row["index"],
                input=row["input"],
                expected=row["expected"],
                base_output=row["base_output"],
                output=row["output"],
                base_scores=row["base_scores"] or {},
                scores=row["scores"] or {},
                change=_change(row["base_passed"], row["passed"]),
                diff=word_diff(before[:MAX_DIFF_TEXT], after[:MAX_DIFF_TEXT]),
            )
        )
    return found, len(rows) > PAGE


def distributions(base: EvalRun, candidate: EvalRun) -> dict[str, Any]:
    """Per scorer, how many rows of each run scored each value (rounded to 0.1): the charts' data.

    Errored scores (no score) are left out; one grouped query per run and scorer.
    """
    charts: dict[str, Any] = {}
    for spec in candidate.scorers:
        name = spec["name"]
        counts: dict[str, dict[float, int]] = {}
        for side, run in (("base", base), ("candidate", candidate)):
            score = Round(Cast(KeyTextTransform("score", KeyTransform(name, "scores")), FloatField()), 1)
            grouped = (
                EvalResult.objects.filter(eval_run=run)
                .annotate(value=score)
                .filter(value__isnull=False)
                .values("value")
                .annotate(n=Count("pk"))
                .order_by()
            )
            counts[side] = {float(row["value"]): row["n"] for row in grouped}
        values = sorted(set(counts["base"]) | set(counts["candidate"]))
        charts[name] = {
            "labels": [f"{value:g}" for value in values],
            "base": [counts["base"].get(value, 0) for value in values],
            "candidate": [counts["candidate"].get(value, 0) for value in values],
        }
    return charts
