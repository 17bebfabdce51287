"""Spend over time: cost per day, week or month, one column per workflow, model or node type.

The chart is drawn from this table (frontend/src/pages/costs.ts reads it), so the chart, the
table beside it and the CSV export show the same numbers.
"""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import DateField, Max, Sum
from django.db.models.functions import Trunc

from costs.reports import PLACES, Filters, Table, daily

# More series than this make a stacked bar unreadable; the rest are summed as "Other".
SERIES = 8
STACKS = {"workflow": "workflow_id", "model": "model", "node_type": "node_type"}


def periods(since: date, until: date, bucket: str) -> list[date]:
    """Every bucket start from the one holding `since` to the one holding `until`, as PostgreSQL's
    date_trunc numbers them (weeks start on Monday)."""
    current = _start(since, bucket)
    found = []
    while current <= until:
        found.append(current)
        if bucket == "day":
            current += timedelta(days=1)
        elif bucket == "week":
            current += timedelta(days=7)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return found


def _start(day: date, bucket: str) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def spend_over_time(filters: Filters, bucket: str, stack: str) -> Table:
    column = STACKS[stack]
    rows = (
        daily(filters)
        .annotate(period=Trunc("day", bucket, output_field=DateField()))
        .values("period", column)
        .annotate(cost=Sum("cost"), name=Max("workflow_name"))
    )
    cells: dict[tuple[date, Any], Decimal] = {}
    totals: dict[Any, Decimal] = {}
    names: dict[Any, str] = {}
    for row in rows:
        key = row[column]
        cost = row["cost"].quantize(PLACES)
        cells[(row["period"], key)] = cost
        totals[key] = totals.get(key, Decimal(0)) + cost
        names[key] = (row["name"] or "(no workflow)") if stack == "workflow" else key
    ranked = sorted(totals, key=lambda key: (-totals[key], str(key)))
    shown, rest = (ranked[: SERIES - 1], ranked[SERIES - 1 :]) if len(ranked) > SERIES else (ranked, [])
    headers = ["Period", *(str(names[key]) for key in shown), *(["Other"] if rest else []), "Total"]
    table = []
    for period in periods(filters.since, filters.until, bucket):
        values = [cells.get((period, key), Decimal(0)) for key in shown]
        if rest:
            values.append(sum((cells.get((period, key), Decimal(0)) for key in rest), Decimal(0)))
        table.append([period.isoformat(), *values, sum(values, Decimal(0))])
    return Table("over-time", f"Spend per {bucket} by {stack.replace('_', ' ')}", headers, table)
