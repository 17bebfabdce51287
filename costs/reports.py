"""The cost report's figures: totals and tables from the CostDaily rollup, per-run figures from runs.

Each table is one `Table` that the page renders and the CSV export writes, so the two are
the same data. Test runs are real spend: the rollup includes them (the version table shows
them as "draft"); per-run figures (costs/per_run.py) count production runs only.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Max, QuerySet, Sum
from django.utils import timezone

from engine.models import CostDaily, CostEntry

SUMS = {
    "calls": Sum("calls"),
    "cached_calls": Sum("cached_calls"),
    "tokens_in": Sum("tokens_in"),
    "tokens_out": Sum("tokens_out"),
    "cost": Sum("cost"),
    "saved": Sum("saved"),
}
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
    return [row[name] or 0 for name in SUMS]


def _label(key: str, value: Any) -> Any:
    if key == "version_number":
        return value or "draft"
    return value


def grouped(filters: Filters, *, key: str) -> Table:
    """Sums over one grouping, most expensive first; a workflow's name is its latest in the range."""
    grouping = GROUPINGS[key]
    rows = daily(filters).values(*grouping.keys)
    if "workflow_id" in grouping.keys:
        rows = rows.annotate(workflow_name=Max("workflow_name"))
    result = []
    for row in rows.annotate(**SUMS).order_by("-cost", *grouping.keys):
        cells = [_label(name, row[name]) for name in grouping.keys]
        if "workflow_id" in grouping.keys:
            cells.insert(1, row["workflow_name"] or "(no workflow)")
        result.append(cells + _sums(row))
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


def totals(filters: Filters) -> Totals:
    row = daily(filters).aggregate(**SUMS)
    start, end = filters.bounds()
    tests = CostEntry.objects.filter(
        workspace_id=filters.workspace_id, is_test=True, created_at__gte=start, created_at__lt=end
    )
    if filters.workflow_id:
        tests = tests.filter(workflow_id=filters.workflow_id)
    if filters.model:
        tests = tests.filter(model=filters.model)
    test_cost = tests.aggregate(cost=Sum("cost"))["cost"] or Decimal(0)
    sums: dict[str, Any] = {name: row[name] or 0 for name in SUMS}
    return Totals(**sums, test_cost=test_cost)


def summary(filters: Filters) -> Table:
    """The totals as a table, for the CSV export and the API."""
    figures = totals(filters)
    rows = [[header, getattr(figures, name)] for header, name in zip(SUM_HEADERS, SUMS, strict=True)]
    rows.append(["Of which test runs (USD)", figures.test_cost])
    return Table("summary", "Totals", ["Figure", "Value"], rows)
