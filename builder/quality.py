"""Quality in production: per published version (and per day, week or month) how its runs ended.

Production runs are a workflow's runs of a published version that are not test runs. Of
those that ended: auto-resolved = succeeded with no approval step asked and no escalation
(the reply went out without review); escalated = an escalate node set the run's reason.
Review outcomes count the approval requests of those runs by their decision. Every figure is
aggregated in SQL, one query per group of figures; only the edit size of edited approvals
is measured in Python (a word diff), over what people edited, which human throughput bounds.

Each table is one `Table` (costs.reports) that the page renders, the chart reads and the CSV
export and the API write, so they all show the same numbers.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Avg, Count, DateField, DurationField, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.expressions import ExpressionWrapper
from django.db.models.functions import Trunc

from approvals.diffs import word_diff
from approvals.models import ApprovalRequest, Decision
from costs.per_run import rank_pair
from costs.reports import PLACES, Filters, Table
from costs.timeline import periods
from engine.models import ENDED_RUN, Run, RunStatus

BUCKETS = ("day", "week", "month")
ALL = "all"
HEADERS = [
    "Version",
    "Runs",
    "Ended",
    "Auto-resolved (%)",
    "Escalated (%)",
    "Reviewed",
    "Approved as is",
    "Edited",
    "Rejected",
    "Mean edit size (words)",
    "Cost per run (USD)",
    "Latency p50 (s)",
    "Latency p95 (s)",
]
# The API's name for each column of HEADERS.
FIELDS = [
    "version",
    "runs",
    "ended",
    "auto_resolved_percent",
    "escalated_percent",
    "reviewed",
    "approved_as_is",
    "edited",
    "rejected",
    "mean_edit_words",
    "cost_per_run",
    "latency_p50_s",
    "latency_p95_s",
]
# The columns the page charts per version over time, by header.
CHARTED = ["Auto-resolved (%)", "Escalated (%)", "Cost per run (USD)", "Latency p50 (s)"]
FRACTIONS = (0.5, 0.95)
LATENCY = ExpressionWrapper(F("finished_at") - F("created_at"), output_field=DurationField())


@dataclass(frozen=True)
class QualityQuery:
    workspace_id: int
    workflow_id: int
    since: date
    until: date
    bucket: str = "day"

    def runs(self) -> QuerySet[Run]:
        start, end = Filters(self.workspace_id, self.since, self.until).bounds()
        return Run.objects.filter(
            workspace_id=self.workspace_id,
            workflow_id=self.workflow_id,
            is_test=False,
            version_number__isnull=False,
            created_at__gte=start,
            created_at__lt=end,
        )


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont: the value at `fraction` of the ordered group, interpolated."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), output_field=DurationField(), **extra)


Key = tuple[Any, int]  # (period start or ALL, version number)


def _grouped(rows: QuerySet[Any], by_period: bool, bucket: str, at: str) -> QuerySet[Any]:
    if by_period:
        rows = rows.annotate(period=Trunc(at, bucket, output_field=DateField()))
    else:
        rows = rows.annotate(period=Value(ALL))
    return rows.values("period", "number").order_by()


def _run_figures(query: QualityQuery, by_period: bool) -> dict[Key, dict[str, Any]]:
    asked = ApprovalRequest.objects.filter(run_id=OuterRef("pk"))
    ended = Q(status__in=ENDED_RUN)
    figures: dict[str, Any] = {
        "runs": Count("pk"),
        "ended": Count("pk", filter=ended),
        "auto": Count("pk", filter=Q(status=RunStatus.SUCCEEDED, escalation_reason="") & ~Exists(asked)),
        "escalated": Count("pk", filter=ended & ~Q(escalation_reason="")),
        "cost": Avg("cost", filter=ended),
    }
    postgres = connection.vendor == "postgresql"
    if postgres:
        for fraction in FRACTIONS:
            figures[f"p{fraction}"] = PercentileCont(LATENCY, fraction, filter=ended)
    rows = _grouped(query.runs().annotate(number=F("version_number")), by_period, query.bucket, "created_at")
    found = {(row["period"], row["number"]): row for row in rows.annotate(**figures)}
    if not postgres:
        _latencies_in_python(query, by_period, found)
    return found


def _latencies_in_python(query: QualityQuery, by_period: bool, found: dict[Key, dict[str, Any]]) -> None:
    """SQLite (the embedded mode) has no percentile_cont: its few runs are sorted here instead."""
    rows = _grouped(
        query.runs().filter(status__in=ENDED_RUN).annotate(number=F("version_number")),
        by_period,
        query.bucket,
        "created_at",
    )
    durations: dict[Key, list[timedelta]] = defaultdict(list)
    for row in rows.annotate(latency=LATENCY).values_list("period", "number", "latency"):
        durations[(row[0], row[1])].append(row[2])
    for key, values in durations.items():
        values.sort()
        for fraction in FRACTIONS:
            low, high, weight = rank_pair(len(values), fraction)
            found[key][f"p{fraction}"] = values[low] + (values[high] - values[low]) * weight


def _review_figures(query: QualityQuery, by_period: bool) -> dict[Key, dict[str, Any]]:
    requests = ApprovalRequest.objects.filter(workspace_id=query.workspace_id, run__in=query.runs())
    rows = _grouped(requests.annotate(number=F("run__version_number")), by_period, query.bucket, "run__created_at")
    counted = rows.annotate(
        reviewed=Count("pk", filter=~Q(decision="")),
        approved=Count("pk", filter=Q(decision=Decision.APPROVE)),
        edited=Count("pk", filter=Q(decision=Decision.EDIT)),
        rejected=Count("pk", filter=Q(decision=Decision.REJECT)),
    )
    found = {(row["period"], row["number"]): row for row in counted}
    edits: dict[Key, list[int]] = defaultdict(list)
    for row in rows.filter(decision=Decision.EDIT).values("period", "number", "fields", "values"):
        edits[(row["period"], row["number"])].append(edit_size(row["fields"], row["values"]))
    for key, sizes in edits.items():
        found[key]["edit_size"] = Decimal(sum(sizes)) / len(sizes)
    return found


def edit_size(fields: list[dict[str, Any]], values: dict[str, Any]) -> int:
    """Words a reviewer inserted or deleted, over every field they changed from the model's draft."""
    drafts = {spec.get("name"): spec.get("value") for spec in fields}
    size = 0
    for name, edited in values.items():
        segments = word_diff(str(drafts.get(name) or ""), str(edited))
        size += sum(len(segment.text.split()) for segment in segments if segment.op != "same")
    return size


def _percent(part: int, whole: int) -> Decimal | None:
    return (Decimal(100 * part) / whole).quantize(Decimal("0.1")) if whole else None


def _seconds(value: timedelta | None) -> Decimal | None:
    return None if value is None else Decimal(value.total_seconds()).quantize(Decimal("0.001"))


def _row(version: int, runs: dict[str, Any], reviews: dict[str, Any]) -> list[Any]:
    ended = runs.get("ended", 0)
    cost = runs.get("cost")
    return [
        version,
        runs.get("runs", 0),
        ended,
        _percent(runs.get("auto", 0), ended),
        _percent(runs.get("escalated", 0), ended),
        reviews.get("reviewed", 0),
        reviews.get("approved", 0),
        reviews.get("edited", 0),
        reviews.get("rejected", 0),
        None if "edit_size" not in reviews else reviews["edit_size"].quantize(Decimal("0.1")),
        None if cost is None else Decimal(cost).quantize(PLACES),
        *(_seconds(runs.get(f"p{fraction}")) for fraction in FRACTIONS),
    ]


def by_version(query: QualityQuery) -> Table:
    """The whole range, one row per version that ran in it, newest version first."""
    runs, reviews = _run_figures(query, False), _review_figures(query, False)
    versions = sorted({version for _, version in runs}, reverse=True)
    rows = [_row(version, runs[(ALL, version)], reviews.get((ALL, version), {})) for version in versions]
    return Table("by-version", "By version", HEADERS, rows)


def over_time(query: QualityQuery) -> Table:
    """One row per period and version that ran in it, oldest period first."""
    runs, reviews = _run_figures(query, True), _review_figures(query, True)
    rows = []
    for period in periods(query.since, query.until, query.bucket):
        for version in sorted({version for start, version in runs if start == period}, reverse=True):
            rows.append(
                [period.isoformat(), *_row(version, runs[(period, version)], reviews.get((period, version), {}))]
            )
    return Table("over-time", f"Per {query.bucket} and version", ["Period", *HEADERS], rows)


TABLES = {"by-version": by_version, "over-time": over_time}


def report(query: QualityQuery) -> dict[str, Table]:
    return {key: build(query) for key, build in TABLES.items()}
