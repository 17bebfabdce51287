"""The cost report's per-run figures: mean, p50 and p95 of a run's cost, and the costliest runs.

They count production runs that were billed something; test runs are left out so that trying
a draft does not skew what a run costs. Without a model filter they read Run.cost (the engine
adds each call to it) through two partial indexes; with one, they sum that model's calls per run.
"""

from decimal import Decimal
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import connection, transaction
from django.db.models import Aggregate, Avg, Count, FloatField, Max, QuerySet, Sum
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone

from costs.reports import Filters, Table
from engine.models import CostEntry, Run

TOP_RUNS = 10
FRACTIONS = (0.5, 0.95)
PLACES = Decimal("0.000001")


class Percentiles(Aggregate):
    """PostgreSQL's percentile_cont at each of FRACTIONS, from one sort of the rows."""

    function = "percentile_cont"
    template = "%(function)s(ARRAY[" + ", ".join(map(str, FRACTIONS)) + "]) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = ArrayField(FloatField())


def interpolated(ordered: list[float], fraction: float) -> float | None:
    """percentile_cont's definition (linear between the two nearest ranks), for SQLite, which lacks it."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def production_runs(filters: Filters) -> QuerySet[Run]:
    # Matches the partial indexes run_billed_by_time and run_costliest (engine/models/runs.py).
    start, end = filters.bounds()
    runs = Run.objects.filter(
        workspace_id=filters.workspace_id, is_test=False, cost__gt=0, created_at__gte=start, created_at__lt=end
    )
    return runs.filter(workflow_id=filters.workflow_id) if filters.workflow_id else runs


def _model_costs(filters: Filters) -> QuerySet[Any]:
    """One row per production run: the sum of the filtered model's calls in it (index cost_per_run_by_model)."""
    start, end = filters.bounds()
    entries = CostEntry.objects.filter(
        workspace_id=filters.workspace_id, model=filters.model, is_test=False, created_at__gte=start, created_at__lt=end
    )
    if filters.workflow_id:
        entries = entries.filter(workflow_id=filters.workflow_id)
    return entries.values("run_id").annotate(total=Sum("cost")).filter(total__gt=0)


def _run_costs(filters: Filters) -> tuple[QuerySet[Any], str]:
    if filters.model:
        return _model_costs(filters).values("total"), "total"
    return production_runs(filters).values("cost"), "cost"


def _figures(costs: QuerySet[Any], name: str) -> dict[str, Any]:
    if connection.vendor != "postgresql":
        ordered = sorted(float(value) for value in costs.values_list(name, flat=True))
        row = costs.aggregate(runs=Count("*"), mean=Avg(name), top=Max(name))
        return {**row, "points": [interpolated(ordered, fraction) for fraction in FRACTIONS]}
    with transaction.atomic(), connection.cursor() as cursor:
        # Sorting a quarter of a million run costs spills to disk at the default 4 MB (bench/cost_report.py).
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # Floats sort several times faster than numerics; the figures are rounded to the cent's fraction anyway.
        points = Percentiles(Cast(name, FloatField()))
        return costs.aggregate(runs=Count("*"), mean=Avg(name), points=points, top=Max(name))


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(PLACES)


def per_run(filters: Filters) -> Table:
    """Mean, median and 95th percentile cost of a production run that was billed something."""
    row = _figures(*_run_costs(filters))
    p50, p95 = row["points"] or (None, None)
    cells = [row["runs"], *map(_money, (row["mean"], p50, p95, row["top"]))]
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
    links = [reverse("engine:run-detail", args=[run.pk]) for run in runs]
    headers = ["Run", "Workflow", "Version", "Trigger", "Started", "Cost (USD)"]
    return Table("top-runs", "Most expensive runs", headers, rows, links)
