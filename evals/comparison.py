"""Two eval runs of one eval set side by side: aggregate deltas, rows that regressed or were fixed, score
distributions, and a page of row pairs with their outputs' text diff.

Rows pair up by the eval row they ran (`EvalResult.row`), so a row added to the set between the two
runs is left out rather than paired with another. Counts, pages and distributions are computed in
SQL (evals/comparison_sql.py joins the two runs' results): a comparison of two 10,000-row runs
reads one page of rows, never all of them (bench/eval_compare.py). The aggregates come from each run's own `aggregates`.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any, TypeVar

from django.core.cache import cache
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from approvals.diffs import TOKENS, Segment, word_diff
from evals import comparison_sql
from evals.models import EvalRun

PAGE = 50
# Scored eval runs never change, so what is read from every row of both (counts, distributions) is kept.
CACHE_S = 24 * 3600
T = TypeVar("T")
REGRESSION = "regression"
FIX = "fix"
SAME = "same"
FILTERS = list(comparison_sql.ROW_FILTERS)
MAX_DIFF_TEXT = 20_000


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

    @cached_property
    def diff(self) -> list[Segment]:
        """The word diff of the two outputs' texts, made when shown (the API does not send it)."""
        return text_diff(self.base_text[:MAX_DIFF_TEXT], self.text[:MAX_DIFF_TEXT])

    @property
    def expected_text(self) -> str:
        return text_of(self.expected)

    @property
    def base_text(self) -> str:
        return text_of(self.base_output)

    @property
    def text(self) -> str:
        return text_of(self.output)

    # The two cells below are built here in one pass, every text escaped by format_html_join:
    # a template loop over segments and scores was most of the page's render time (bench/eval_compare.py).
    @property
    def diff_html(self) -> SafeString:
        """The diff as markup: kept text in <span>, inserted in <ins>, deleted in <del>."""
        tags = {"ins": "ins", "del": "del"}
        return format_html_join("", "<{0}>{1}</{0}>", ((tags.get(s.op, "span"), s.text) for s in self.diff))

    def scores_html(self, names: list[str]) -> SafeString:
        """The scores cell: per scorer, before → after, classed by whether it regressed, was fixed or stayed."""
        return format_html_join(
            "",
            '<li class="change-{}">{}: {} → {}</li>',
            ((change, name, _shown(before), _shown(after)) for name, before, after, change in self.scorer_cells(names)),
        )

    def scorer_cells(self, names: list[str]) -> list[tuple[str, Any, Any, str]]:
        """Per scorer: name, base score, candidate score and whether it regressed, was fixed or stayed."""
        cells = []
        for name in names:
            before, after = self.base_scores.get(name) or {}, self.scores.get(name) or {}
            change = _change(before.get("passed"), after.get("passed"))
            cells.append((name, before.get("score"), after.get("score"), change))
        return cells


def _shown(score: Any) -> str:
    return "—" if score is None else str(score)


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


def _number(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _delta(before: Any, after: Any) -> Any:
    if before is None or after is None:
        return None
    return _number(after) - _number(before)  # type: ignore[operator]


def _kept(what: str, base: EvalRun, candidate: EvalRun, compute: Callable[[], T]) -> T:
    """`compute()` once per pair of scored runs (the scoring time is in the key: a re-scored run is read again)."""
    stamps = f"{base.scored_at:%s%f}-{candidate.scored_at:%s%f}" if base.scored_at and candidate.scored_at else "-"
    key = f"evals:compare:{what}:{base.pk}:{candidate.pk}:{stamps}"
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, CACHE_S)
    return found


def summarize(base: EvalRun, candidate: EvalRun) -> Summary:
    """Aggregate deltas and the numbers of regressed and fixed rows; NotComparable says why not."""
    check(base, candidate)
    a, b = base.aggregates or {}, candidate.aggregates or {}
    names = [spec["name"] for spec in candidate.scorers]
    found = _kept("counts", base, candidate, lambda: comparison_sql.counts(base.pk, candidate.pk, names))
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
                regressions=found.scorers[name][0],
                fixes=found.scorers[name][1],
            )
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
    return Summary(base, candidate, found.compared, found.regressions, found.fixes, scorers, figures)


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


def text_diff(old: str, new: str) -> list[Segment]:
    """approvals' word diff of the part between the words both texts start and end with: two versions' outputs
    mostly differ in a few words, and aligning only those is what keeps a page of 50 diffs cheap."""
    if old == new:
        return [Segment("same", new)] if new else []
    a, b = TOKENS.findall(old), TOKENS.findall(new)
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    middle = word_diff("".join(a[start : len(a) - end]), "".join(b[start : len(b) - end]))
    head, tail = "".join(a[:start]), "".join(a[len(a) - end :])
    segments = ([Segment("same", head)] if head else []) + middle + ([Segment("same", tail)] if tail else [])
    merged: list[Segment] = []
    for segment in segments:
        if merged and merged[-1].op == segment.op:
            merged[-1] = Segment(segment.op, merged[-1].text + segment.text)
        else:
            merged.append(segment)
    return merged


def row_page(base: EvalRun, candidate: EvalRun, only: str = "all", after: int = -1) -> tuple[list[RowPair], bool]:
    """One page of row pairs after row index `after`, in row order (`only`: one of FILTERS), and whether
    another page follows (after the last row's index)."""
    rows = comparison_sql.page(base.pk, candidate.pk, only, PAGE + 1, after)
    found = []
    for row in rows[:PAGE]:
        found.append(
            RowPair(
                index=row.index,
                input=row.input,
                expected=row.expected,
                base_output=row.base_output,
                output=row.output,
                base_scores=row.base_scores,
                scores=row.scores,
                change=_change(row.base_passed, row.passed),
            )
        )
    return found, len(rows) > PAGE


def distributions(base: EvalRun, candidate: EvalRun) -> dict[str, Any]:
    """Per scorer, how many rows of each run scored each value (rounded to 0.1): the charts' data.

    Errored scores (no score) are left out. check() has made sure both runs are scored.
    """
    counts: dict[tuple[int, str], dict[float, int]] = {}
    rows_per_score = _kept("scores", base, candidate, lambda: comparison_sql.score_counts(base.pk, candidate.pk))
    for run_id, name, value, rows in rows_per_score:
        counts.setdefault((run_id, name), {})[value] = rows
    charts: dict[str, Any] = {}
    for spec in candidate.scorers:
        name = spec["name"]
        before, after = counts.get((base.pk, name), {}), counts.get((candidate.pk, name), {})
        values = sorted(set(before) | set(after))
        charts[name] = {
            "labels": [f"{value:g}" for value in values],
            "base": [before.get(value, 0) for value in values],
            "candidate": [after.get(value, 0) for value in values],
        }
    return charts
