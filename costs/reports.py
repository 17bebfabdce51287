"""The cost report's figures: totals and tables from the CostDaily rollup, per-run figures from runs.

Each table is one `Table` that the page renders and the CSV export writes, so the two are
the same data. Test runs are real spend: the rollup includes them (the version table shows
them as "draft"); per-run figures (costs/per_run.py) count production runs only.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Max, Q, QuerySet, Sum, UniqueConstraint
from django.utils import timezone

from engine.models import CostDaily, CostEntry, RunPurpose

SUMS = {
    "calls": Sum("calls"),
    "cached_calls": Sum("cached_calls"),
    "tokens_in": Sum("tokens_in"),
    "tokens_out": Sum("tokens_out"),
    "cost": Sum("cost"),
    "saved": Sum("saved"),
}
PLACES = Decimal("0.000001")
SUM_HEADERS = ["Calls", "Cached calls", "Tokens in", "Tokens out", "Cost (USD)", "Saved by cache (USD)"]


@dataclass(frozen=True)
class Filters:
    workspace_id: int
    since: date
    until: date
    workflow_id: int | None = None
    model: str = ""

    def bounds(self) -> tuple[datetime, datetime]:
        """The range as instants, so that indexes on timestamps apply (a cast to date would not)."""
        zone = timezone.get_current_timezone()
        start = datetime.combine(self.since, time.min, tzinfo=zone)
        return start, datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=zone)


@dataclass
class Table:
    key: str
    title: str
    headers: list[str]
    rows: list[list[Any]]
    # The first cell's link per row, when rows are things with a page of their own.
    links: list[str] = field(default_factory=list)

    def linked_rows(self) -> list[tuple[str | None, list[Any]]]:
        links: list[str | None] = [*self.links] if self.links else [None] * len(self.rows)
        return list(zip(links, self.rows, strict=True))


@dataclass(frozen=True)
class Grouping:
    title: str
    keys: tuple[str, ...]
    headers: tuple[str, ...]


GROUPINGS = {
    "workflow": Grouping("By workflow", ("workflow_id",), ("Workflow id", "Workflow")),
    "version": Grouping("By version", ("workflow_id", "version_number"), ("Workflow id", "Workflow", "Version")),
    "node": Grouping("By node", ("workflow_id", "node_id", "node_type"), ("Workflow id", "Workflow", "Node", "Type")),
    "model": Grouping("By model", ("provider_kind", "model"), ("Provider kind", "Model")),
    "provider": Grouping("By provider", ("provider",), ("Provider",)),
    "trigger": Grouping("By trigger kind", ("trigger_kind",), ("Trigger",)),
}


def daily(filters: Filters) -> QuerySet[CostDaily]:
    rows = CostDaily.objects.filter(workspace_id=filters.workspace_id, day__gte=filters.since, day__lte=filters.until)
    if filters.workflow_id:
        rows = rows.filter(workflow_id=filters.workflow_id)
    if filters.model:
        rows = rows.filter(model=filters.model)
    return rows


def _sums(row: dict[str, Any]) -> list[Any]:
    # SQLite (the embedded mode) sums decimals with more places than the columns hold.
    return [_places(row[name] or 0) for name in SUMS]


def _places(value: Any) -> Any:
    return value.quantize(PLACES) if isinstance(value, Decimal) else value


def _label(key: str, value: Any) -> Any:
    if key == "version_number":
        return value or "draft"
    return value


# Every column of the rollup's unique key but the workspace and the day.
DIMENSIONS = tuple(
    name
    for constraint in CostDaily._meta.constraints
    if isinstance(constraint, UniqueConstraint)
    for name in constraint.fields
    if name not in ("workspace", "day")
)


def combinations(filters: Filters) -> list[dict[str, Any]]:
    """The range's rollup rows summed over their days: one row per combination of dimensions.

    Every grouping table and the totals are summed from these in Python: one query rather than
    seven that each read every rollup row of the range again (bench/cost_report.py).
    """
    rows = daily(filters).values(*DIMENSIONS).annotate(workflow_name=Max("workflow_name"), **SUMS)
    return list(rows.order_by())


def grouped(rows: list[dict[str, Any]], key: str) -> Table:
    """Sums over one grouping, most expensive first; a workflow's name is its latest in the range."""
    grouping = GROUPINGS[key]
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        group = groups.setdefault(tuple(row[name] for name in grouping.keys), dict.fromkeys(SUMS, 0))
        for name in SUMS:
            group[name] += row[name] or 0
        group["workflow_name"] = max(group.get("workflow_name", ""), row["workflow_name"] or "")
    result = []
    for keys, sums in sorted(groups.items(), key=lambda item: (-item[1]["cost"], item[0])):
        cells = [_label(name, value) for name, value in zip(grouping.keys, keys, strict=True)]
        if "workflow_id" in grouping.keys:
            cells.insert(1, sums["workflow_name"] or "(no workflow)")
        result.append(cells + _sums(sums))
    return Table(key, grouping.title, [*grouping.headers, *SUM_HEADERS], result)


@dataclass
class Totals:
    calls: int
    cached_calls: int
    tokens_in: int
    tokens_out: int
    cost: Decimal
    saved: Decimal
    test_cost: Decimal
    # The part of test_cost spent by eval runs: their rows' model calls and their judges (docs/evaluations.md).
    evaluation_cost: Decimal = Decimal(0)
    # Calls whose worker died mid-call, billed at their budget reservation (engine.budgets.charge_orphans).
    estimated_cost: Decimal = Decimal(0)


def totals(filters: Filters, rows: list[dict[str, Any]] | None = None) -> Totals:
    row = dict.fromkeys(SUMS, 0)
    for combination in combinations(filters) if rows is None else rows:
        for name in SUMS:
            row[name] += combination[name] or 0
    start, end = filters.bounds()
    tests = CostEntry.objects.filter(
        workspace_id=filters.workspace_id, is_test=True, created_at__gte=start, created_at__lt=end
    )
    if filters.workflow_id:
        tests = tests.filter(workflow_id=filters.workflow_id)
    if filters.model:
        tests = tests.filter(model=filters.model)
    spent = tests.aggregate(tests=Sum("cost"), evaluations=Sum("cost", filter=Q(purpose=RunPurpose.EVALUATION)))
    test_cost, evaluation_cost = spent["tests"] or Decimal(0), spent["evaluations"] or Decimal(0)
    estimated = CostEntry.objects.filter(
        workspace_id=filters.workspace_id, estimated=True, created_at__gte=start, created_at__lt=end
    )
    if filters.workflow_id:
        estimated = estimated.filter(workflow_id=filters.workflow_id)
    if filters.model:
        estimated = estimated.filter(model=filters.model)
    estimated_cost = estimated.aggregate(cost=Sum("cost"))["cost"] or Decimal(0)
    sums: dict[str, Any] = dict(zip(SUMS, _sums(row), strict=True))
    return Totals(**sums, test_cost=test_cost, evaluation_cost=evaluation_cost, estimated_cost=estimated_cost)


def summary(filters: Filters, rows: list[dict[str, Any]] | None = None) -> Table:
    """The totals as a table, for the page and the CSV export."""
    figures = totals(filters, rows)
    cells = [[header, getattr(figures, name)] for header, name in zip(SUM_HEADERS, SUMS, strict=True)]
    cells.append(["Of which test runs (USD)", figures.test_cost])
    cells.append(["Of which evaluations: eval runs and their judges (USD)", figures.evaluation_cost])
    cells.append(["Of which estimated: calls cut off by a crash, at their reservation (USD)", figures.estimated_cost])
    return Table("summary", "Totals", ["Figure", "Value"], cells)
