"""The cost report's per-run figures: mean, p50 and p95 of a run's cost, and the costliest runs.

They count production runs that were billed something; test runs are left out so that trying
a draft does not skew what a run costs. Without a workflow filter they count top-level runs,
whose cost includes their child runs' (sub-workflows, for-each items); filtered by a workflow,
its runs, whether started on their own or called by another workflow. Without a model filter
they read Run.cost (the engine adds each call to it) through two partial indexes; with one,
they sum that model's calls per run.
"""

from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone

from costs.reports import PLACES, Filters, Table
from engine.models import CostEntry, Run

TOP_RUNS = 10
FRACTIONS = (0.5, 0.95)


def rank_pair(count: int, fraction: float) -> tuple[int, int, float]:
    """percentile_cont's definition: the value at `fraction` lies between the sorted values at
    ranks `low` and `high` (from 0), `weight` of the way from the one to the other."""
    position = fraction * (count - 1)
    low = int(position)
    return low, min(low + 1, count - 1), position - low


def production_runs(filters: Filters) -> QuerySet[Run]:
    # Matches the partial indexes run_billed_by_time and run_costliest (engine/models/runs.py).
    start, end = filters.bounds()
    runs = Run.objects.filter(
        workspace_id=filters.workspace_id, is_test=False, cost__gt=0, created_at__gte=start, created_at__lt=end
    )
    if filters.workflow_id:
        return runs.filter(workflow_id=filters.workflow_id)
    # A top-level run's cost holds its child runs' (engine/runs/children.py): counting those too would count twice.
    return runs.filter(parent_run__isnull=True)


def _model_costs(filters: Filters) -> QuerySet[Any]:
    """One row per production run: the sum of the filtered model's calls in it (index cost_per_run_by_model)."""
    start, end = filters.bounds()
    entries = CostEntry.objects.filter(
        workspace_id=filters.workspace_id, model=filters.model, is_test=False, created_at__gte=start, created_at__lt=end
    )
    if filters.workflow_id:
        entries = entries.filter(workflow_id=filters.workflow_id)
    return entries.values("run_id").annotate(total=Sum("cost")).filter(total__gt=0)


def _between(low: Decimal, high: Decimal, weight: float) -> Decimal:
    return low + (high - low) * Decimal(str(weight))


def _percentile(costs: QuerySet[Run], count: int, fraction: float) -> Decimal | None:
    """Read the two values around the percentile's rank from the costliest end of the sorted
    runs: for p95 that is 5 % of the rows, read in index order (run_costliest), with no sort of
    the whole range. PostgreSQL's percentile_cont sorted a quarter of a million floats in 200 ms."""
    if not count:
        return None
    low, high, weight = rank_pair(count, fraction)
    first = count - 1 - high  # ranks counted from the top
    values = list(costs.order_by("-cost").values_list("cost", flat=True)[first : first + 1 + high - low])
    return _between(values[-1], values[0], weight)


def _run_figures(filters: Filters) -> list[Any]:
    runs = production_runs(filters)
    row = runs.aggregate(runs=Count("*"), mean=Avg("cost"))
    # The 100th percentile is the costliest run: the first row of the index, cheaper than max().
    return [row["runs"], row["mean"], *(_percentile(runs, row["runs"], f) for f in (*FRACTIONS, 1.0))]


def _model_figures(filters: Filters) -> list[Any]:
    """With a model filter every run's sum has to be computed anyway: one query, then Python,
    rather than aggregating the runs again for each figure."""
    costs = sorted(_model_costs(filters).values_list("total", flat=True))
    if not costs:
        return [0, None, None, None, None]
    points = [
        _between(costs[low], costs[high], weight) for low, high, weight in (rank_pair(len(costs), f) for f in FRACTIONS)
    ]
    return [len(costs), sum(costs, Decimal(0)) / len(costs), *points, costs[-1]]


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(PLACES)


def per_run(filters: Filters) -> Table:
    """Mean, median and 95th percentile cost of a production run that was billed something."""
    count, *amounts = _model_figures(filters) if filters.model else _run_figures(filters)
    cells = [count, *map(_money, amounts)]
    headers = ["Runs", "Mean (USD)", "p50 (USD)", "p95 (USD)", "Most (USD)"]
    return Table("per-run", "Cost per run", headers, [cells])


def top_runs(filters: Filters) -> Table:
    if filters.model:
        costs = _model_costs(filters).order_by("-total", "-run_id")[:TOP_RUNS]
        amounts = {row["run_id"]: row["total"] for row in costs}
    else:
        # Ids first, from the index alone; then the ten rows.
        ids = production_runs(filters).order_by("-cost", "-id").values_list("id", flat=True)[:TOP_RUNS]
        amounts = dict(Run.objects.filter(pk__in=list(ids)).values_list("id", "cost"))
    runs = sorted(Run.objects.filter(pk__in=amounts), key=lambda run: (-amounts[run.pk], -run.pk))
    rows = [
        [
            run.pk,
            run.workflow_name or "(no workflow)",
            run.version_number or "draft",
            run.trigger_kind,
            timezone.localtime(run.created_at).strftime("%Y-%m-%d %H:%M"),
            amounts[run.pk],
        ]
        for run in runs
    ]
    links = [reverse("monitoring:run-detail", args=[run.pk]) for run in runs]
    headers = ["Run", "Workflow", "Version", "Trigger", "Started", "Cost (USD)"]
    return Table("top-runs", "Most expensive runs", headers, rows, links)
